//! `gregor groups describe`: a group's committed offsets with lag (the
//! default, `--offsets`), its members (`--members [--verbose]`) or its state
//! (`--state`), in kafka-consumer-groups.sh's columns.

use std::collections::BTreeMap;
use std::io::Write;

use rdkafka::error::RDKafkaErrorCode;

use super::common::{committed_offsets, decode_assignment, group_consumer, print_table};
use crate::cli::client::Admin;
use crate::cli::config::ConnectionArgs;
use crate::cli::errors::{CliError, Subject};
use crate::cli::native::{self, GroupDescription, OffsetSpec};

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The group to describe (repeatable).
    #[arg(long, required = true)]
    pub group: Vec<String>,
    /// Show the members instead of the offsets.
    #[arg(long, conflicts_with = "state")]
    pub members: bool,
    /// With --members: show each member's assigned partitions.
    #[arg(long, requires = "members")]
    pub verbose: bool,
    /// Show the group's coordinator, assignor, state and member count.
    #[arg(long)]
    pub state: bool,
    /// Show committed offsets, log end offsets and lag (the default).
    #[arg(long, conflicts_with_all = ["members", "state"])]
    pub offsets: bool,
}

/// The state Kafka reports for a group that does not exist.
const DEAD: &str = "Dead";
/// The protocol type whose member assignments this tool can read.
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";
/// Printed for a missing value, as Kafka's tool does.
const NONE: &str = "-";

pub fn run(args: DescribeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    for group in &args.group {
        let desc = existing_group(&admin, group)?;
        let io = |e| CliError::io("could not write to stdout", e);
        writeln!(out).map_err(io)?;
        if args.state {
            print_state(&desc, out).map_err(io)?;
        } else if args.members {
            print_members(&desc, args.verbose, out).map_err(io)?;
        } else {
            print_offsets(&admin, &args.conn, &desc, out)?;
        }
    }
    Ok(())
}

/// The group as DescribeGroups reports it; `None` if it does not exist
/// (GROUP_ID_NOT_FOUND or the Dead state, depending on the version).
pub fn describe_group(admin: &Admin, group: &str) -> Result<Option<GroupDescription>, CliError> {
    let found = match native::list_groups(admin.client.inner(), Some(group), admin.conn.timeout) {
        Ok(found) => found,
        Err(e) if e.code == RDKafkaErrorCode::GroupIdNotFound => return Ok(None),
        Err(e) => return Err(CliError::broker(e.code, Subject::Group(group))),
    };
    let Some(desc) = found.into_iter().find(|g| g.name == group) else {
        return Ok(None);
    };
    match desc.error {
        Some(RDKafkaErrorCode::GroupIdNotFound) => Ok(None),
        Some(code) => Err(CliError::broker(code, Subject::Group(group))),
        None if desc.state == DEAD => Ok(None),
        None => Ok(Some(desc)),
    }
}

/// The group's description, or GROUP_ID_NOT_FOUND.
fn existing_group(admin: &Admin, group: &str) -> Result<GroupDescription, CliError> {
    describe_group(admin, group)?
        .ok_or_else(|| CliError::broker(RDKafkaErrorCode::GroupIdNotFound, Subject::Group(group)))
}

/// Each member's assigned partitions, when the group runs the consumer
/// protocol.
fn assignments(desc: &GroupDescription) -> Vec<Vec<(String, i32)>> {
    desc.members
        .iter()
        .map(|m| {
            if desc.protocol_type == CONSUMER_PROTOCOL_TYPE {
                decode_assignment(&m.assignment).unwrap_or_default()
            } else {
                Vec::new()
            }
        })
        .collect()
}

fn print_state(desc: &GroupDescription, out: &mut dyn Write) -> std::io::Result<()> {
    let row = vec![
        desc.name.clone(),
        desc.coordinator.clone(),
        desc.protocol.clone(),
        desc.state.clone(),
        desc.members.len().to_string(),
    ];
    let header = [
        "GROUP",
        "COORDINATOR (ID)",
        "ASSIGNMENT-STRATEGY",
        "STATE",
        "#MEMBERS",
    ];
    print_table(out, &header, &[row])
}

fn print_members(
    desc: &GroupDescription,
    verbose: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if desc.members.is_empty() {
        eprintln!("Consumer group '{}' has no active members.", desc.name);
    }
    let mut rows = Vec::new();
    for (m, assigned) in desc.members.iter().zip(assignments(desc)) {
        let mut row = vec![
            desc.name.clone(),
            m.member_id.clone(),
            m.client_host.clone(),
            m.client_id.clone(),
            assigned.len().to_string(),
        ];
        if verbose {
            row.push(assignment_text(&assigned));
        }
        rows.push(row);
    }
    let mut header = vec!["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"];
    if verbose {
        header.push("ASSIGNMENT");
    }
    print_table(out, &header, &rows)
}

/// `topic(0,1),other(2)`, or `-` for none.
fn assignment_text(assigned: &[(String, i32)]) -> String {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in assigned {
        by_topic.entry(t).or_default().push(*p);
    }
    if by_topic.is_empty() {
        return NONE.to_string();
    }
    by_topic
        .iter()
        .map(|(t, ps)| {
            let mut ps = ps.clone();
            ps.sort_unstable();
            let list: Vec<String> = ps.iter().map(i32::to_string).collect();
            format!("{t}({})", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Who owns a partition in the offsets table.
struct Owner {
    consumer_id: String,
    host: String,
    client_id: String,
}

fn print_offsets(
    admin: &Admin,
    conn: &ConnectionArgs,
    desc: &GroupDescription,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let group = desc.name.as_str();
    let client = admin.client.inner();
    let mut owners: BTreeMap<(String, i32), Owner> = BTreeMap::new();
    for (m, assigned) in desc.members.iter().zip(assignments(desc)) {
        for tp in assigned {
            owners.insert(
                tp,
                Owner {
                    consumer_id: m.member_id.clone(),
                    host: m.client_host.clone(),
                    client_id: m.client_id.clone(),
                },
            );
        }
    }
    let every_partition: Vec<(String, i32)> = admin
        .conn
        .all_topics(client)?
        .into_iter()
        .flat_map(|t| {
            let name = t.name;
            t.partitions.into_iter().map(move |p| (name.clone(), p.id))
        })
        .collect();
    let consumer = group_consumer(conn, group)?;
    let committed = committed_offsets(&consumer, group, &every_partition, admin.conn.timeout)?;
    let mut shown: Vec<(String, i32)> = committed.keys().cloned().collect();
    shown.extend(owners.keys().cloned());
    shown.sort();
    shown.dedup();
    let ends = log_end_offsets(admin, &shown)?;
    if desc.members.is_empty() {
        eprintln!("Consumer group '{group}' has no active members.");
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|tp| {
            let current = committed.get(tp).copied();
            let end = ends.get(tp).copied();
            let lag = match (current, end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => NONE.to_string(),
            };
            let owner = owners.get(tp);
            vec![
                group.to_string(),
                tp.0.clone(),
                tp.1.to_string(),
                current.map_or(NONE.to_string(), |c| c.to_string()),
                end.map_or(NONE.to_string(), |e| e.to_string()),
                lag,
                owner.map_or(NONE.to_string(), |o| o.consumer_id.clone()),
                owner.map_or(NONE.to_string(), |o| o.host.clone()),
                owner.map_or(NONE.to_string(), |o| o.client_id.clone()),
            ]
        })
        .collect();
    let header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ];
    print_table(out, &header, &rows).map_err(|e| CliError::io("could not write to stdout", e))
}

/// The log end offset (Kafka's "latest") of each partition that has one.
pub fn log_end_offsets(
    admin: &Admin,
    partitions: &[(String, i32)],
) -> Result<BTreeMap<(String, i32), i64>, CliError> {
    list_offsets(admin, partitions, OffsetSpec::Latest)
}

/// ListOffsets for `partitions`: offsets found (>= 0) by partition.
pub fn list_offsets(
    admin: &Admin,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
) -> Result<BTreeMap<(String, i32), i64>, CliError> {
    let listed =
        native::list_offsets(admin.client.inner(), partitions, spec, admin.conn.timeout)
            .map_err(|e| CliError::broker_with_message(e.code, Subject::Cluster, &e.message))?;
    let mut out = BTreeMap::new();
    for l in listed {
        match l.result {
            Ok(o) if o >= 0 => {
                out.insert((l.topic, l.partition), o);
            }
            Ok(_) => {}
            Err(code) => {
                return Err(CliError::broker(
                    code,
                    Subject::Partition(&l.topic, l.partition),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_print_by_topic_with_sorted_partitions() {
        let a = vec![
            ("b".to_string(), 2),
            ("a".to_string(), 1),
            ("b".to_string(), 0),
        ];
        assert_eq!(assignment_text(&a), "a(1),b(0,2)");
        assert_eq!(assignment_text(&[]), "-");
    }
}
