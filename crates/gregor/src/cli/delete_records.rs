//! `gregor delete-records`, like `kafka-delete-records.sh`: reads
//! `{"partitions": [{"topic": "t", "partition": 0, "offset": 5}], "version": 1}`
//! from `--offset-json-file` (offset -1 means the high watermark), asks each
//! partition's leader to delete the records below the offset, and prints
//! each partition's new low watermark or its error. Any failed partition
//! makes the exit status non-zero.

use std::io::Write;
use std::path::PathBuf;

use rdkafka::{Offset, TopicPartitionList};

use super::client::Admin;
use super::config::ConnectionArgs;
use super::errors::{CliError, Subject};

#[derive(clap::Args, Debug)]
pub struct DeleteRecordsArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// JSON file naming the partitions and the offset to delete up to.
    #[arg(long = "offset-json-file", value_name = "FILE")]
    pub offset_json_file: PathBuf,
}

/// One requested deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Parses the offset JSON as kafka-delete-records.sh does, refusing
/// duplicate partitions.
pub fn parse_offset_json(text: &str) -> Result<Vec<Deletion>, CliError> {
    let bad = |why: &str| CliError::Input(format!("the offset JSON file {why}"));
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(&format!("is not valid JSON: {e}")))?;
    let partitions = json
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or_else(|| bad("has no \"partitions\" array"))?;
    let mut out: Vec<Deletion> = Vec::with_capacity(partitions.len());
    for p in partitions {
        let topic = p.get("topic").and_then(|t| t.as_str());
        let partition = p.get("partition").and_then(|t| t.as_i64());
        let offset = p.get("offset").and_then(|t| t.as_i64());
        let (Some(topic), Some(partition), Some(offset)) = (topic, partition, offset) else {
            return Err(bad(&format!(
                "has an entry without topic, partition and offset: {p}"
            )));
        };
        let partition =
            i32::try_from(partition).map_err(|_| bad("has a partition out of range"))?;
        let d = Deletion {
            topic: topic.to_string(),
            partition,
            offset,
        };
        if out
            .iter()
            .any(|o| o.topic == d.topic && o.partition == d.partition)
        {
            return Err(CliError::Input(format!(
                "Offset json file contains duplicate topic partitions: {}-{}",
                d.topic, d.partition
            )));
        }
        out.push(d);
    }
    if out.is_empty() {
        return Err(bad("lists no partitions"));
    }
    Ok(out)
}

pub async fn run(args: DeleteRecordsArgs, out: &mut impl Write) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.offset_json_file).map_err(|e| {
        CliError::io(
            format!("could not read {}", args.offset_json_file.display()),
            e,
        )
    })?;
    let deletions = parse_offset_json(&text)?;
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    let mut list = TopicPartitionList::new();
    for d in &deletions {
        let offset = if d.offset == -1 {
            Offset::End
        } else {
            Offset::Offset(d.offset)
        };
        list.add_partition_offset(&d.topic, d.partition, offset)
            .map_err(|e| CliError::from_kafka(&e, Subject::Partition(&d.topic, d.partition)))?;
    }
    let w = |e| CliError::io("could not write the output", e);
    writeln!(out, "Executing records delete operation").map_err(w)?;
    let result = admin
        .client
        .delete_records(&list, &admin.options())
        .await
        .map_err(|e| admin.conn.error(admin.client.inner(), &e, Subject::Cluster))?;
    writeln!(out, "Records delete operation completed:").map_err(w)?;
    let mut failed = None;
    for elem in result.elements() {
        let (topic, partition) = (elem.topic(), elem.partition());
        match (elem.error(), elem.offset()) {
            (Ok(()), Offset::Offset(low)) => {
                writeln!(out, "partition: {topic}-{partition}\tlow_watermark: {low}").map_err(w)?
            }
            (Ok(()), other) => writeln!(
                out,
                "partition: {topic}-{partition}\tlow_watermark: {other:?}"
            )
            .map_err(w)?,
            (Err(e), _) => {
                let err = CliError::from_kafka(&e, Subject::Partition(topic, partition));
                writeln!(out, "partition: {topic}-{partition}\terror: {err}").map_err(w)?;
                failed.get_or_insert(err);
            }
        }
    }
    match failed {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_offset_json() {
        let d = parse_offset_json(
            r#"{"partitions": [{"topic": "t", "partition": 1, "offset": -1}], "version": 1}"#,
        )
        .unwrap();
        assert_eq!(
            d,
            vec![Deletion {
                topic: "t".into(),
                partition: 1,
                offset: -1
            }]
        );
        let dup = r#"{"partitions": [{"topic": "t", "partition": 1, "offset": 2},
                                     {"topic": "t", "partition": 1, "offset": 3}]}"#;
        assert!(parse_offset_json(dup)
            .unwrap_err()
            .to_string()
            .contains("duplicate topic partitions: t-1"));
        assert!(parse_offset_json("{}").is_err());
        assert!(parse_offset_json(r#"{"partitions": [{"topic": "t"}]}"#).is_err());
    }
}
