//! What the `groups` subcommands share: the consumer that reads and writes
//! a group's offsets, partition selection, the consumer protocol's
//! assignment bytes, and aligned tables.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use rdkafka::client::Client;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::cli::client::{CliContext, Connection};
use crate::cli::config::{client_config, ClientRole, ConnectionArgs};
use crate::cli::errors::{CliError, Subject};

/// (topic, partition) → committed offset.
pub type Committed = BTreeMap<(String, i32), i64>;

/// `--topic TOPIC` or `--topic TOPIC:P[,P...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub topic: String,
    /// `None`: every partition of the topic.
    pub partitions: Option<Vec<i32>>,
}

pub fn parse_topic_spec(s: &str) -> Result<TopicSpec, String> {
    let (topic, partitions) = match s.split_once(':') {
        None => (s, None),
        Some((topic, list)) => {
            let ids = list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| format!("'{p}' is not a partition id"))
                })
                .collect::<Result<Vec<i32>, String>>()?;
            (topic, Some(ids))
        }
    };
    if topic.is_empty() {
        return Err("the topic name is empty".to_string());
    }
    Ok(TopicSpec {
        topic: topic.to_string(),
        partitions,
    })
}

/// The partitions `specs` name, checked against the cluster's metadata,
/// sorted and without repeats.
pub fn select_partitions(
    conn: &Connection,
    client: &Client<CliContext>,
    specs: &[TopicSpec],
) -> Result<Vec<(String, i32)>, CliError> {
    let mut out = Vec::new();
    for spec in specs {
        let info = conn.existing_topic(client, &spec.topic)?;
        let ids: Vec<i32> = match &spec.partitions {
            None => info.partitions.iter().map(|p| p.id).collect(),
            Some(ids) => {
                if let Some(p) = ids
                    .iter()
                    .find(|p| !info.partitions.iter().any(|i| i.id == **p))
                {
                    return Err(CliError::broker(
                        rdkafka::error::RDKafkaErrorCode::UnknownPartition,
                        Subject::Partition(&spec.topic, *p),
                    ));
                }
                ids.clone()
            }
        };
        out.extend(ids.into_iter().map(|p| (spec.topic.clone(), p)));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A consumer that carries `group` for OffsetFetch and OffsetCommit and
/// never subscribes, so it never joins the group: its commits are the
/// "simple" commits (generation -1) Kafka accepts for inactive groups.
pub fn group_consumer(
    args: &ConnectionArgs,
    group: &str,
) -> Result<BaseConsumer<CliContext>, CliError> {
    let props = args.user_properties()?;
    let mut config = client_config(args, ClientRole::Consumer, &props)?;
    config.set("group.id", group);
    config.set("enable.auto.commit", "false");
    config.set("client.id", "gregor-consumer-groups");
    let debug = config.get("debug").is_some();
    config
        .create_with_context(CliContext::new(debug))
        .map_err(|e| CliError::from_kafka(&e, Subject::Group(group)))
}

/// The committed offsets among `partitions` (partitions without a commit
/// are left out).
pub fn committed_offsets(
    consumer: &BaseConsumer<CliContext>,
    group: &str,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<Committed, CliError> {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in partitions {
        tpl.add_partition(t, *p);
    }
    if tpl.count() == 0 {
        return Ok(Committed::new());
    }
    let got = consumer
        .committed_offsets(tpl, timeout)
        .map_err(|e| CliError::from_kafka(&e, Subject::Group(group)))?;
    Ok(got
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) if o >= 0 => Some(((e.topic().to_string(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

/// The partitions of a `ConsumerProtocolAssignment` (any version: all
/// start with `int16 version`, then `[topic: string, partitions: [int32]]`).
/// `None` for bytes that are not one.
pub fn decode_assignment(mut buf: &[u8]) -> Option<Vec<(String, i32)>> {
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if buf.len() < n {
            return None;
        }
        let (head, tail) = buf.split_at(n);
        *buf = tail;
        Some(head)
    }
    fn i16_at(buf: &mut &[u8]) -> Option<i16> {
        take(buf, 2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32_at(buf: &mut &[u8]) -> Option<i32> {
        take(buf, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    let _version = i16_at(&mut buf)?;
    let topics = usize::try_from(i32_at(&mut buf)?).ok()?;
    let mut out = Vec::new();
    for _ in 0..topics {
        let len = usize::try_from(i16_at(&mut buf)?).ok()?;
        let topic = String::from_utf8(take(&mut buf, len)?.to_vec()).ok()?;
        let count = usize::try_from(i32_at(&mut buf)?).ok()?;
        if count > buf.len() / 4 {
            return None;
        }
        for _ in 0..count {
            out.push((topic.clone(), i32_at(&mut buf)?));
        }
    }
    Some(out)
}

/// Prints `header` and `rows` in columns as wide as their widest cell,
/// separated by a space (the last column unpadded), as Kafka's tools do.
pub fn print_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$} "));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs_parse_with_and_without_partitions() {
        assert_eq!(
            parse_topic_spec("t").unwrap(),
            TopicSpec {
                topic: "t".into(),
                partitions: None
            }
        );
        assert_eq!(
            parse_topic_spec("t:0,2").unwrap().partitions,
            Some(vec![0, 2])
        );
        assert!(parse_topic_spec("t:x").is_err());
        assert!(parse_topic_spec(":1").is_err());
    }

    #[test]
    fn assignments_decode_and_damage_is_none() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2];
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes()); // null user data
        assert_eq!(
            decode_assignment(&b),
            Some(vec![("t".to_string(), 0), ("t".to_string(), 3)])
        );
        assert_eq!(decode_assignment(&b[..10]), None);
        assert_eq!(decode_assignment(&[]), None);
    }

    #[test]
    fn tables_align_every_column_but_the_last() {
        let mut out = Vec::new();
        let rows = vec![vec!["group-one".to_string(), "Empty".to_string()]];
        print_table(&mut out, &["GROUP", "STATE"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GROUP     STATE\ngroup-one Empty\n"
        );
    }
}
