//! `gregor groups`: kafka-consumer-groups.sh. List, describe (offsets and
//! lag, members, state), reset offsets, delete groups and delete offsets,
//! with Kafka's column names and messages.
//!
//! Like the Java tool, it is an ordinary client: ListGroups/DescribeGroups
//! (librdkafka's ListConsumerGroups and `rd_kafka_list_groups`), OffsetFetch and OffsetCommit
//! through a consumer that carries the group id but never joins, ListOffsets
//! for log ends, DeleteGroups and OffsetDelete through the admin API.
//!
//! Layout: arguments, list and the two deletions here; `describe.rs`;
//! `reset.rs` (pure planning of new offsets, then the commit); `common.rs`
//! (clients, the consumer protocol's assignment bytes, table output).

pub(super) mod common;
mod describe;
mod reset;

use std::io::Write;

use rdkafka::admin::GroupResult;
use rdkafka::error::RDKafkaErrorCode;

use super::client::Admin;
use super::config::ConnectionArgs;
use super::errors::{CliError, Subject};
use super::native;
use common::{print_table, select_partitions, TopicSpec};

pub use describe::DescribeArgs;
pub use reset::ResetArgs;

#[derive(clap::Subcommand, Debug)]
pub enum GroupsCommand {
    /// List groups, optionally with their state and type.
    List(ListArgs),
    /// Show a group's committed offsets and lag, its members, or its state.
    Describe(DescribeArgs),
    /// Move an inactive group's committed offsets.
    ResetOffsets(ResetArgs),
    /// Delete inactive groups with all their committed offsets.
    Delete(DeleteArgs),
    /// Delete some committed offsets of a group.
    DeleteOffsets(DeleteOffsetsArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Show each group's state; with a value, only groups in these
    /// (comma-separated) states.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "STATE[,STATE...]")]
    pub state: Option<String>,
    /// Show each group's type; with a value, only groups of these types
    /// (classic, consumer).
    #[arg(long = "type", num_args = 0..=1, default_missing_value = "", value_name = "TYPE[,TYPE...]")]
    pub group_type: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The group to delete (repeatable).
    #[arg(long, required = true)]
    pub group: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct DeleteOffsetsArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    #[arg(long)]
    pub group: String,
    /// TOPIC or TOPIC:P[,P...] (repeatable).
    #[arg(long, required = true, value_parser = common::parse_topic_spec)]
    pub topic: Vec<TopicSpec>,
}

pub async fn run(cmd: GroupsCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        GroupsCommand::List(args) => list(args, out),
        GroupsCommand::Describe(args) => describe::run(args, out),
        GroupsCommand::ResetOffsets(args) => reset::run(args, out),
        GroupsCommand::Delete(args) => delete(args, out).await,
        GroupsCommand::DeleteOffsets(args) => delete_offsets(args, out),
    }
}

fn filter_values(arg: &Option<String>) -> Vec<String> {
    arg.iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn list(args: ListArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    let groups = native::list_group_listings(admin.client.inner(), admin.conn.timeout)
        .map_err(|e| CliError::broker(e.code, Subject::Cluster))?;
    let states = filter_values(&args.state);
    let types = filter_values(&args.group_type);
    let mut rows: Vec<Vec<String>> = groups
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.to_lowercase()))
        .filter(|g| types.is_empty() || types.contains(&g.group_type))
        .map(|g| {
            let mut row = vec![g.name];
            if args.group_type.is_some() {
                row.push(g.group_type);
            }
            if args.state.is_some() {
                row.push(g.state);
            }
            row
        })
        .collect();
    rows.sort();
    let io = |e| CliError::io("could not write to stdout", e);
    if args.state.is_none() && args.group_type.is_none() {
        for row in rows {
            writeln!(out, "{}", row[0]).map_err(io)?;
        }
        return Ok(());
    }
    let mut header = vec!["GROUP"];
    if args.group_type.is_some() {
        header.push("TYPE");
    }
    if args.state.is_some() {
        header.push("STATE");
    }
    print_table(out, &header, &rows).map_err(io)
}

async fn delete(args: DeleteArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    let names: Vec<&str> = args.group.iter().map(String::as_str).collect();
    let results: Vec<GroupResult> = admin
        .client
        .delete_groups(&names, &admin.options())
        .await
        .map_err(|e| CliError::from_kafka(&e, Subject::Cluster))?;
    let io = |e| CliError::io("could not write to stdout", e);
    let mut deleted = Vec::new();
    let mut failed: Vec<(String, RDKafkaErrorCode)> = Vec::new();
    for r in results {
        match r {
            Ok(g) => deleted.push(g),
            Err((g, code)) => failed.push((g, code)),
        }
    }
    if failed.is_empty() {
        let list = deleted.join("', '");
        writeln!(
            out,
            "Deletion of requested consumer groups ('{list}') was successful."
        )
        .map_err(io)?;
        return Ok(());
    }
    eprintln!("Error: Deletion of some consumer groups failed:");
    for (g, code) in &failed {
        let err = CliError::broker(*code, Subject::Group(g));
        eprintln!("* Group '{g}' could not be deleted due to: {err}");
    }
    if !deleted.is_empty() {
        let list = deleted.join("', '");
        writeln!(
            out,
            "\nThese consumer groups were deleted successfully: '{list}'"
        )
        .map_err(io)?;
    }
    let (g, code) = &failed[0];
    Err(CliError::broker(*code, Subject::Group(g)))
}

fn delete_offsets(args: DeleteOffsetsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    let client = admin.client.inner();
    let partitions = select_partitions(&admin.conn, client, &args.topic)?;
    let results =
        native::delete_group_offsets(client, &args.group, &partitions, admin.conn.timeout)
            .map_err(|e| CliError::broker(e.code, Subject::Group(&args.group)))?;
    let io = |e| CliError::io("could not write to stdout", e);
    writeln!(
        out,
        "Request succeeded for deleting offsets from group {}.",
        args.group
    )
    .map_err(io)?;
    let mut rows = Vec::new();
    let mut first_error = None;
    let mut sorted = results;
    sorted.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    for r in &sorted {
        let status = match r.result {
            Ok(()) => "Successful".to_string(),
            Err(code) => {
                let err = CliError::broker(code, Subject::Partition(&r.topic, r.partition));
                let text = format!("Error: {err}");
                first_error.get_or_insert(err);
                text
            }
        };
        rows.push(vec![r.topic.clone(), r.partition.to_string(), status]);
    }
    print_table(out, &["TOPIC", "PARTITION", "STATUS"], &rows).map_err(io)?;
    match first_error {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
