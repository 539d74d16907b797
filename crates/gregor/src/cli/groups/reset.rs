//! `gregor groups reset-offsets`: computes new committed offsets for an
//! inactive group, prints them, and with `--execute` commits them.
//!
//! As in Kafka's tool, offsets are clamped to what the log holds (between
//! its earliest and latest offsets), `--to-datetime` past the last record
//! means the log end, and only an Empty (or unknown) group may be reset:
//! an active member would overwrite the new offsets with its own commits.

use std::collections::BTreeMap;
use std::io::Write;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::common::{
    committed_offsets, group_consumer, parse_topic_spec, print_table, select_partitions, Committed,
    TopicSpec,
};
use super::describe::{describe_group, list_offsets};
use crate::cli::client::Admin;
use crate::cli::config::ConnectionArgs;
use crate::cli::errors::{CliError, Subject};
use crate::cli::native::OffsetSpec;
use crate::cli::offsets::parse_time;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["topic", "all_topics"])))]
#[command(group(clap::ArgGroup::new("spec").required(true)
    .args(["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])))]
#[command(group(clap::ArgGroup::new("mode").args(["dry_run", "execute"])))]
pub struct ResetArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    #[arg(long)]
    pub group: String,
    /// TOPIC or TOPIC:P[,P...] (repeatable).
    #[arg(long, value_parser = parse_topic_spec)]
    pub topic: Vec<TopicSpec>,
    /// Every partition the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
    #[arg(long)]
    pub to_earliest: bool,
    #[arg(long)]
    pub to_latest: bool,
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub to_offset: Option<i64>,
    /// YYYY-MM-DDTHH:mm:SS.sss, local time unless it carries a zone.
    #[arg(long, value_name = "DATETIME")]
    pub to_datetime: Option<String>,
    /// Move each committed offset by N (negative: back).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// Print the new offsets without committing them (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    pub execute: bool,
}

/// Where to move each offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetSpec {
    Earliest,
    Latest,
    Offset(i64),
    /// Milliseconds since the epoch.
    Datetime(i64),
    ShiftBy(i64),
}

/// What the log of one partition holds, and what the group had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionState {
    pub earliest: i64,
    pub latest: i64,
    pub committed: Option<i64>,
    /// The first offset at or after `--to-datetime`, if any.
    pub at_time: Option<i64>,
}

/// The new offset of one partition under `spec`.
pub fn new_offset(spec: ResetSpec, tp: &(String, i32), s: PartitionState) -> Result<i64, String> {
    let clamp = |o: i64| o.clamp(s.earliest, s.latest.max(s.earliest));
    Ok(match spec {
        ResetSpec::Earliest => s.earliest,
        ResetSpec::Latest => s.latest,
        ResetSpec::Offset(o) => clamp(o),
        ResetSpec::Datetime(_) => s.at_time.map_or(s.latest, clamp),
        ResetSpec::ShiftBy(n) => {
            let current = s.committed.ok_or_else(|| {
                format!(
                    "Cannot shift offset for partition {}-{} since there is no current \
                     committed offset",
                    tp.0, tp.1
                )
            })?;
            clamp(current.saturating_add(n))
        }
    })
}

fn spec_of(args: &ResetArgs) -> Result<ResetSpec, CliError> {
    Ok(if args.to_earliest {
        ResetSpec::Earliest
    } else if args.to_latest {
        ResetSpec::Latest
    } else if let Some(o) = args.to_offset {
        ResetSpec::Offset(o)
    } else if let Some(n) = args.shift_by {
        ResetSpec::ShiftBy(n)
    } else {
        let text = args.to_datetime.as_deref().unwrap_or_default();
        match parse_time(text) {
            Ok(OffsetSpec::Timestamp(ms)) => ResetSpec::Datetime(ms),
            _ => {
                return Err(CliError::Usage(format!(
                    "'{text}' is not a date-time: use YYYY-MM-DDTHH:mm:SS.sss"
                )))
            }
        }
    })
}

pub fn run(args: ResetArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let spec = spec_of(&args)?;
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    let group = args.group.as_str();
    let state = describe_group(&admin, group)?.map_or_else(|| "Dead".to_string(), |d| d.state);
    if state != "Empty" && state != "Dead" {
        return Err(CliError::Broker {
            code: RDKafkaErrorCode::NonEmptyGroup,
            message: format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the \
                 current state is {state}."
            ),
        });
    }
    let client = admin.client.inner();
    let consumer = group_consumer(&args.conn, group)?;
    let timeout = admin.conn.timeout;
    let (partitions, committed) = if args.all_topics {
        let every: Vec<(String, i32)> = admin
            .conn
            .all_topics(client)?
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions.into_iter().map(move |p| (name.clone(), p.id))
            })
            .collect();
        let committed = committed_offsets(&consumer, group, &every, timeout)?;
        (committed.keys().cloned().collect::<Vec<_>>(), committed)
    } else {
        let partitions = select_partitions(&admin.conn, client, &args.topic)?;
        let committed = committed_offsets(&consumer, group, &partitions, timeout)?;
        (partitions, committed)
    };
    let planned = plan(&admin, spec, &partitions, &committed)?;
    if args.execute {
        commit(&consumer, group, &planned, timeout)?;
    } else if !args.dry_run {
        eprintln!(
            "WARN: No action will be performed as the --execute option is missing. \
             Add --dry-run to keep this behaviour without the warning."
        );
    }
    let rows: Vec<Vec<String>> = planned
        .iter()
        .map(|((t, p), o)| vec![group.to_string(), t.clone(), p.to_string(), o.to_string()])
        .collect();
    let io = |e| CliError::io("could not write to stdout", e);
    writeln!(out).map_err(io)?;
    print_table(out, &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows).map_err(io)
}

fn plan(
    admin: &Admin,
    spec: ResetSpec,
    partitions: &[(String, i32)],
    committed: &Committed,
) -> Result<BTreeMap<(String, i32), i64>, CliError> {
    let earliest = list_offsets(admin, partitions, OffsetSpec::Earliest)?;
    let latest = list_offsets(admin, partitions, OffsetSpec::Latest)?;
    let at_time = match spec {
        ResetSpec::Datetime(ms) => list_offsets(admin, partitions, OffsetSpec::Timestamp(ms))?,
        _ => BTreeMap::new(),
    };
    let mut planned = BTreeMap::new();
    for tp in partitions {
        let state = PartitionState {
            earliest: earliest.get(tp).copied().unwrap_or(0),
            latest: latest.get(tp).copied().unwrap_or(0),
            committed: committed.get(tp).copied(),
            at_time: at_time.get(tp).copied(),
        };
        let offset = new_offset(spec, tp, state).map_err(CliError::Usage)?;
        planned.insert(tp.clone(), offset);
    }
    Ok(planned)
}

fn commit(
    consumer: &rdkafka::consumer::BaseConsumer<crate::cli::client::CliContext>,
    group: &str,
    planned: &BTreeMap<(String, i32), i64>,
    _timeout: std::time::Duration,
) -> Result<(), CliError> {
    if planned.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in planned {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))
            .map_err(|e| CliError::from_kafka(&e, Subject::Partition(t, *p)))?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| CliError::from_kafka(&e, Subject::Group(group)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> (String, i32) {
        ("t".to_string(), 0)
    }

    fn state(committed: Option<i64>, at_time: Option<i64>) -> PartitionState {
        PartitionState {
            earliest: 5,
            latest: 20,
            committed,
            at_time,
        }
    }

    #[test]
    fn offsets_are_clamped_to_the_log() {
        let s = state(Some(10), None);
        assert_eq!(new_offset(ResetSpec::Earliest, &tp(), s), Ok(5));
        assert_eq!(new_offset(ResetSpec::Latest, &tp(), s), Ok(20));
        assert_eq!(new_offset(ResetSpec::Offset(100), &tp(), s), Ok(20));
        assert_eq!(new_offset(ResetSpec::Offset(1), &tp(), s), Ok(5));
        assert_eq!(new_offset(ResetSpec::ShiftBy(-3), &tp(), s), Ok(7));
        assert_eq!(new_offset(ResetSpec::ShiftBy(-30), &tp(), s), Ok(5));
        assert_eq!(new_offset(ResetSpec::ShiftBy(30), &tp(), s), Ok(20));
    }

    #[test]
    fn datetimes_after_the_last_record_mean_the_log_end() {
        assert_eq!(
            new_offset(ResetSpec::Datetime(0), &tp(), state(None, Some(12))),
            Ok(12)
        );
        assert_eq!(
            new_offset(ResetSpec::Datetime(0), &tp(), state(None, None)),
            Ok(20)
        );
    }

    #[test]
    fn shifting_needs_a_committed_offset() {
        let err = new_offset(ResetSpec::ShiftBy(1), &tp(), state(None, None)).unwrap_err();
        assert!(err.contains("no current committed offset"), "{err}");
    }
}
