//! `gregor offsets`: kafka-get-offsets.sh. Prints `topic:partition:offset`
//! for every selected partition at the requested `--time`, sorted by topic
//! then partition. Partitions without an offset for that time (a timestamp
//! after the last record) are left out, as Kafka's tool does.

use std::io::Write;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use rdkafka::error::RDKafkaErrorCode;

use super::client::{is_internal_topic, topic_info, Admin, TopicInfo};
use super::config::ConnectionArgs;
use super::errors::{CliError, Subject};
use super::native::{self, OffsetSpec};

#[derive(clap::Args, Debug)]
pub struct OffsetsArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic (default: every topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// Comma-separated partition ids (default: all).
    #[arg(long, value_name = "P[,P...]", value_parser = parse_partitions)]
    pub partitions: Option<PartitionList>,
    /// -1/latest, -2/earliest, -3/max-timestamp, milliseconds since the epoch,
    /// or an ISO-8601 date-time (local time unless it has a zone).
    #[arg(long, default_value = "-1", allow_hyphen_values = true, value_parser = parse_time)]
    pub time: OffsetSpec,
    /// Leave out internal topics such as __consumer_offsets.
    #[arg(long = "exclude-internal-topics")]
    pub exclude_internal_topics: bool,
}

/// Partition ids from `--partitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionList(pub Vec<i32>);

pub fn parse_partitions(s: &str) -> Result<PartitionList, String> {
    let mut ids = Vec::new();
    for part in s.split(',') {
        let id = part
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|id| *id >= 0)
            .ok_or_else(|| format!("'{part}' is not a partition id"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(PartitionList(ids))
}

/// Parses `--time` in the local time zone.
pub fn parse_time(s: &str) -> Result<OffsetSpec, String> {
    parse_time_in(s, &chrono::Local)
}

/// Parses `--time`, reading zone-less date-times in `tz`.
pub fn parse_time_in<Tz: TimeZone>(s: &str, tz: &Tz) -> Result<OffsetSpec, String> {
    let s = s.trim();
    match s {
        "-1" | "latest" => return Ok(OffsetSpec::Latest),
        "-2" | "earliest" => return Ok(OffsetSpec::Earliest),
        "-3" | "max-timestamp" => return Ok(OffsetSpec::MaxTimestamp),
        _ => {}
    }
    if let Ok(ms) = s.parse::<i64>() {
        return if ms >= 0 {
            Ok(OffsetSpec::Timestamp(ms))
        } else {
            Err(format!(
                "unsupported --time {ms}: use -1 (latest), -2 (earliest), -3 (max-timestamp), \
                 or a timestamp"
            ))
        };
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(OffsetSpec::Timestamp(dt.timestamp_millis()));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    });
    match naive.map(|n| tz.from_local_datetime(&n).earliest()) {
        Some(Some(dt)) => Ok(OffsetSpec::Timestamp(dt.timestamp_millis())),
        Some(None) => Err(format!("'{s}' does not exist in the local time zone")),
        None => Err(format!(
            "'{s}' is not a --time: use -1, -2, -3, milliseconds since the epoch, or a \
             date-time such as 2024-05-01T12:00:00Z"
        )),
    }
}

pub fn run(args: OffsetsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    let topics = select_topics(&admin, &args)?;
    let mut requested: Vec<(String, i32)> = Vec::new();
    for topic in &topics {
        for p in &topic.partitions {
            let wanted = args
                .partitions
                .as_ref()
                .is_none_or(|list| list.0.contains(&p.id));
            if wanted {
                requested.push((topic.name.clone(), p.id));
            }
        }
    }
    if requested.is_empty() {
        return Err(CliError::Usage(
            "Could not match any topic-partitions with the specified filters".to_string(),
        ));
    }
    let client = admin.client.inner();
    let mut listed = native::list_offsets(client, &requested, args.time, admin.conn.timeout)
        .map_err(|e| match e.message.is_empty() {
            true => CliError::broker(e.code, Subject::Cluster),
            false => CliError::Broker {
                code: e.code,
                message: e.message,
            },
        })?;
    listed.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let mut text = String::new();
    let mut failed = 0usize;
    for entry in &listed {
        match entry.result {
            Ok(offset) if offset >= 0 => {
                text.push_str(&format!("{}:{}:{offset}\n", entry.topic, entry.partition));
            }
            Ok(_) => {}
            Err(code) => {
                failed += 1;
                let err = CliError::broker(code, Subject::Partition(&entry.topic, entry.partition));
                eprintln!(
                    "Skip getting offsets for topic-partition {}:{} due to error: {err}",
                    entry.topic, entry.partition
                );
            }
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::io("could not write output", e))?;
    match failed {
        0 => Ok(()),
        n => Err(CliError::Client(format!(
            "could not get offsets for {n} of {} partitions",
            listed.len()
        ))),
    }
}

fn select_topics(admin: &Admin, args: &OffsetsArgs) -> Result<Vec<TopicInfo>, CliError> {
    let client = admin.client.inner();
    let Some(name) = &args.topic else {
        let all = admin.conn.all_topics(client)?;
        return Ok(all
            .into_iter()
            .filter(|t| !(args.exclude_internal_topics && is_internal_topic(&t.name)))
            .collect());
    };
    let metadata = admin.conn.metadata(client, Some(name))?;
    let topic = metadata.topics().iter().find(|t| t.name() == name);
    match topic.map(|t| (t, t.error().map(RDKafkaErrorCode::from))) {
        Some((t, None)) => Ok(vec![topic_info(t.name(), t.partitions())]),
        Some((_, Some(code))) => Err(CliError::broker(code, Subject::Topic(name))),
        None => Err(CliError::broker(
            RDKafkaErrorCode::UnknownTopicOrPartition,
            Subject::Topic(name),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn special_times() {
        for (s, spec) in [
            ("-1", OffsetSpec::Latest),
            ("latest", OffsetSpec::Latest),
            ("-2", OffsetSpec::Earliest),
            ("earliest", OffsetSpec::Earliest),
            ("-3", OffsetSpec::MaxTimestamp),
            ("max-timestamp", OffsetSpec::MaxTimestamp),
        ] {
            assert_eq!(parse_time_in(s, &Utc), Ok(spec), "{s}");
        }
        assert!(parse_time_in("-4", &Utc).is_err());
    }

    #[test]
    fn epoch_millis() {
        assert_eq!(
            parse_time_in("1700000000000", &Utc),
            Ok(OffsetSpec::Timestamp(1_700_000_000_000))
        );
        assert_eq!(parse_time_in("0", &Utc), Ok(OffsetSpec::Timestamp(0)));
    }

    #[test]
    fn iso_datetimes() {
        let expected = Ok(OffsetSpec::Timestamp(1_700_000_000_000));
        assert_eq!(parse_time_in("2023-11-14T22:13:20Z", &Utc), expected);
        assert_eq!(parse_time_in("2023-11-14T22:13:20.000Z", &Utc), expected);
        assert_eq!(parse_time_in("2023-11-15T00:13:20+02:00", &Utc), expected);
        // Zone-less date-times are read in the given (normally local) zone.
        assert_eq!(parse_time_in("2023-11-14T22:13:20", &Utc), expected);
        assert_eq!(parse_time_in("2023-11-14 22:13:20", &Utc), expected);
        let plus_two = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(parse_time_in("2023-11-15T00:13:20", &plus_two), expected);
        assert_eq!(
            parse_time_in("2023-11-14", &Utc),
            Ok(OffsetSpec::Timestamp(1_699_920_000_000))
        );
        assert!(parse_time_in("yesterday", &Utc).is_err());
        assert!(parse_time("2023-11-14T22:13:20").is_ok());
    }

    #[test]
    fn partition_lists() {
        assert_eq!(parse_partitions("0,2, 1"), Ok(PartitionList(vec![0, 2, 1])));
        assert_eq!(parse_partitions("3,3"), Ok(PartitionList(vec![3])));
        assert!(parse_partitions("a").is_err());
        assert!(parse_partitions("-1").is_err());
    }
}
