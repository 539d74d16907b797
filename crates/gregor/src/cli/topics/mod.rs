//! `gregor topics ...`: kafka-topics.sh's create, list, describe, alter
//! (partition count) and delete, through librdkafka's AdminClient.

mod describe;

use std::io::Write;

use rdkafka::error::RDKafkaErrorCode;

use super::client::{is_internal_topic, Admin};
use super::config::{parse_key_value, ConnectionArgs};
use super::errors::{CliError, Subject};
use super::native;

pub use describe::DescribeArgs;

/// Topic administration, as kafka-topics.sh.
#[derive(clap::Subcommand, Debug)]
pub enum TopicsCommand {
    /// Create a topic.
    Create(CreateArgs),
    /// List topic names.
    List(ListArgs),
    /// Describe topics: partitions, leaders, replicas, ISR and non-default configs.
    Describe(DescribeArgs),
    /// Increase a topic's partition count.
    Alter(AlterArgs),
    /// Delete a topic.
    Delete(DeleteArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to create.
    #[arg(long)]
    pub topic: String,
    /// Number of partitions (default: the broker's num.partitions).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replicas per partition (default: the broker's default.replication.factor).
    #[arg(long = "replication-factor")]
    pub replication_factor: Option<i32>,
    /// Manual assignment: broker ids of each partition's replicas, e.g.
    /// 1:2,2:3 for two partitions with two replicas each.
    #[arg(long = "replica-assignment", value_name = "ASSIGNMENT",
          conflicts_with_all = ["partitions", "replication_factor"])]
    pub replica_assignment: Option<String>,
    /// A topic config override KEY=VALUE (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub configs: Vec<(String, String)>,
    /// Succeed quietly if the topic already exists.
    #[arg(long = "if-not-exists")]
    pub if_not_exists: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Leave out internal topics such as __consumer_offsets.
    #[arg(long = "exclude-internal")]
    pub exclude_internal: bool,
}

#[derive(clap::Args, Debug)]
pub struct AlterArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to alter.
    #[arg(long)]
    pub topic: String,
    /// The new, larger, partition count.
    #[arg(long)]
    pub partitions: i32,
    /// Succeed quietly if the topic does not exist.
    #[arg(long = "if-exists")]
    pub if_exists: bool,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to delete.
    #[arg(long)]
    pub topic: String,
    /// Succeed quietly if the topic does not exist.
    #[arg(long = "if-exists")]
    pub if_exists: bool,
}

/// Turns a single-topic result into success, `Ok(false)` for the
/// `ignore`d error code (--if-exists / --if-not-exists), or the error.
fn topic_outcome(
    outcome: Result<native::TopicOutcome, native::NativeError>,
    topic: &str,
    ignore: Option<RDKafkaErrorCode>,
) -> Result<bool, CliError> {
    let subject = Subject::Topic(topic);
    match outcome {
        Ok(Ok(())) => Ok(true),
        Ok(Err((code, _))) if Some(code) == ignore => Ok(false),
        Ok(Err((code, message))) | Err(native::NativeError { code, message }) => {
            Err(CliError::broker_with_message(code, subject, &message))
        }
    }
}

/// Runs a topics subcommand, writing its normal output to `out`.
pub async fn run(cmd: TopicsCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        TopicsCommand::Create(args) => create(args, out),
        TopicsCommand::List(args) => list(args, out),
        TopicsCommand::Describe(args) => describe::run(args, out).await,
        TopicsCommand::Alter(args) => alter(args),
        TopicsCommand::Delete(args) => delete(args),
    }
}

fn create(args: CreateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let assignment = match &args.replica_assignment {
        Some(text) => Some(parse_replica_assignment(text).map_err(CliError::Usage)?),
        None => None,
    };
    let spec = native::NewTopicSpec {
        name: &args.topic,
        // -1 asks the broker for its defaults (CreateTopics v4+).
        partitions: args.partitions.unwrap_or(-1),
        replication_factor: args.replication_factor.unwrap_or(-1),
        assignment: assignment.as_deref().unwrap_or(&[]),
        configs: &args.configs,
    };
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    if args.topic.contains('.') || args.topic.contains('_') {
        eprintln!(
            "WARNING: Due to limitations in metric names, topics with a period ('.') or \
             underscore ('_') could collide. To avoid issues it is best to use either, but not both."
        );
    }
    let outcome = native::create_topic(admin.client.inner(), spec, admin.conn.timeout);
    let ignore = args
        .if_not_exists
        .then_some(RDKafkaErrorCode::TopicAlreadyExists);
    if topic_outcome(outcome, &args.topic, ignore)? {
        writeln!(out, "Created topic {}.", args.topic)
            .map_err(|e| CliError::io("could not write output", e))?;
    }
    Ok(())
}

fn list(args: ListArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    let topics = admin.conn.all_topics(admin.client.inner())?;
    for topic in topics {
        if args.exclude_internal && is_internal_topic(&topic.name) {
            continue;
        }
        writeln!(out, "{}", topic.name).map_err(|e| CliError::io("could not write output", e))?;
    }
    Ok(())
}

fn alter(args: AlterArgs) -> Result<(), CliError> {
    let total = usize::try_from(args.partitions)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--partitions must be at least 1, got {}",
                args.partitions
            ))
        })?;
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    let outcome =
        native::create_partitions(admin.client.inner(), &args.topic, total, admin.conn.timeout);
    let ignore = args
        .if_exists
        .then_some(RDKafkaErrorCode::UnknownTopicOrPartition);
    topic_outcome(outcome, &args.topic, ignore).map(drop)
}

fn delete(args: DeleteArgs) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    admin.check_reachable()?;
    let outcome = native::delete_topic(admin.client.inner(), &args.topic, admin.conn.timeout);
    let ignore = args
        .if_exists
        .then_some(RDKafkaErrorCode::UnknownTopicOrPartition);
    topic_outcome(outcome, &args.topic, ignore).map(drop)
}

/// Parses kafka-topics.sh's `--replica-assignment`: partitions separated by
/// `,`, each a `:`-separated list of broker ids.
pub fn parse_replica_assignment(text: &str) -> Result<Vec<Vec<i32>>, String> {
    let mut partitions = Vec::new();
    for (index, part) in text.split(',').enumerate() {
        let brokers: Vec<i32> = part
            .split(':')
            .map(|b| b.trim().parse::<i32>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                format!("--replica-assignment: partition {index} has a broker id that is not a number: '{part}'")
            })?;
        let mut unique = brokers.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != brokers.len() {
            return Err(format!(
                "--replica-assignment: partition {index} lists a broker more than once: '{part}'"
            ));
        }
        if let Some(first) = partitions.first().map(Vec::len) {
            if first != brokers.len() {
                return Err(format!(
                    "--replica-assignment: partition {index} has {} replicas but partition 0 has {first}",
                    brokers.len()
                ));
            }
        }
        partitions.push(brokers);
    }
    Ok(partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_assignment_parses_like_kafka_topics() {
        assert_eq!(
            parse_replica_assignment("1:2,2:3,3:1").unwrap(),
            vec![vec![1, 2], vec![2, 3], vec![3, 1]]
        );
        assert_eq!(parse_replica_assignment("1").unwrap(), vec![vec![1]]);
        assert!(parse_replica_assignment("1:x").is_err());
        assert!(parse_replica_assignment("1:1").is_err());
        assert!(parse_replica_assignment("1:2,3").is_err());
    }
}
