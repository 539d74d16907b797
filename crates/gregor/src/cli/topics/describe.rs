//! `gregor topics describe`, printing what kafka-topics.sh --describe
//! prints: a topic line with its id, partition count, replication factor and
//! non-default configs, then one line per partition.

use std::collections::HashMap;
use std::io::Write;

use rdkafka::admin::{OwnedResourceSpecifier, ResourceSpecifier};
use rdkafka::error::RDKafkaErrorCode;

use crate::cli::client::{is_internal_topic, topic_info, Admin, PartitionInfo, TopicInfo};
use crate::cli::config::ConnectionArgs;
use crate::cli::errors::{CliError, Subject};
use crate::cli::native;

#[derive(clap::Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The topic to describe (default: every topic).
    #[arg(long)]
    pub topic: Option<String>,
    /// Leave out internal topics such as __consumer_offsets.
    #[arg(long = "exclude-internal")]
    pub exclude_internal: bool,
    /// Succeed quietly if the topic does not exist.
    #[arg(long = "if-exists")]
    pub if_exists: bool,
    /// Only show partitions whose ISR is smaller than their replica set.
    #[arg(long = "under-replicated-partitions")]
    pub under_replicated_partitions: bool,
    /// Only show partitions that have no leader.
    #[arg(long = "unavailable-partitions")]
    pub unavailable_partitions: bool,
    /// Only show topics that have config overrides (topic lines only).
    #[arg(long = "topics-with-overrides")]
    pub topics_with_overrides: bool,
}

/// A topic config entry that is not the default: name and value (`None`
/// for sensitive values, which Kafka prints as `null`).
pub type ConfigOverride = (String, Option<String>);

pub async fn run(args: DescribeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let admin = Admin::connect(&args.conn)?;
    let topics = match &args.topic {
        Some(name) => match one_topic(&admin, name)? {
            Some(topic) => vec![topic],
            None if args.if_exists => return Ok(()),
            None => {
                return Err(CliError::broker(
                    RDKafkaErrorCode::UnknownTopicOrPartition,
                    Subject::Topic(name),
                ))
            }
        },
        None => admin
            .conn
            .all_topics(admin.client.inner())?
            .into_iter()
            .filter(|t| !(args.exclude_internal && is_internal_topic(&t.name)))
            .collect(),
    };
    let partition_filter = args.under_replicated_partitions || args.unavailable_partitions;
    let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
    let configs = if partition_filter {
        HashMap::new()
    } else {
        config_overrides(&admin, &names).await
    };
    let ids = if partition_filter {
        HashMap::new()
    } else {
        // Topic ids are decoration: a broker without DescribeTopics support
        // still gets a full description, just without ids.
        native::topic_ids(admin.client.inner(), &names, admin.conn.timeout).unwrap_or_default()
    };
    let mut text = String::new();
    for topic in &topics {
        let overrides = configs.get(&topic.name).map(Vec::as_slice).unwrap_or(&[]);
        if args.topics_with_overrides {
            if !overrides.is_empty() {
                text.push_str(&topic_line(
                    topic,
                    ids.get(&topic.name).map(String::as_str),
                    overrides,
                ));
            }
            continue;
        }
        if !partition_filter {
            text.push_str(&topic_line(
                topic,
                ids.get(&topic.name).map(String::as_str),
                overrides,
            ));
        }
        for partition in &topic.partitions {
            let shown = !partition_filter
                || (args.under_replicated_partitions
                    && partition.isr.len() < partition.replicas.len())
                || (args.unavailable_partitions && partition.leader < 0);
            if shown {
                text.push_str(&partition_line(&topic.name, partition));
            }
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| CliError::io("could not write output", e))
}

/// The named topic, or `None` if the cluster does not have it. A topic
/// without a leader yet is still described (with `Leader: none`).
fn one_topic(admin: &Admin, name: &str) -> Result<Option<TopicInfo>, CliError> {
    let metadata = admin.conn.metadata(admin.client.inner(), Some(name))?;
    let Some(topic) = metadata.topics().iter().find(|t| t.name() == name) else {
        return Ok(None);
    };
    match topic.error().map(RDKafkaErrorCode::from) {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) => Ok(None),
        Some(code) if topic.partitions().is_empty() => {
            Err(CliError::broker(code, Subject::Topic(name)))
        }
        _ => Ok(Some(topic_info(topic.name(), topic.partitions()))),
    }
}

/// Non-default configs per topic, in the broker's order. Configs are part of
/// the description, but a broker that cannot describe them should not stop
/// the partition listing, so failures are a warning.
async fn config_overrides(admin: &Admin, topics: &[&str]) -> HashMap<String, Vec<ConfigOverride>> {
    let mut out = HashMap::new();
    if topics.is_empty() {
        return out;
    }
    let resources: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results = match admin
        .client
        .describe_configs(&resources, &admin.options())
        .await
    {
        Ok(results) => results,
        Err(e) => {
            let err = CliError::from_kafka(&e, Subject::Cluster);
            eprintln!("WARNING: could not read topic configs: {err}");
            return out;
        }
    };
    for result in results {
        match result {
            Ok(resource) => {
                if let OwnedResourceSpecifier::Topic(name) = resource.specifier {
                    let overrides = resource
                        .entries
                        .into_iter()
                        .filter(|e| !e.is_default)
                        .map(|e| (e.name, e.value))
                        .collect();
                    out.insert(name, overrides);
                }
            }
            Err(code) => {
                let err = CliError::broker(code, Subject::Cluster);
                eprintln!("WARNING: could not read topic configs: {err}");
            }
        }
    }
    out
}

/// `Topic: T\tTopicId: ID\tPartitionCount: N\tReplicationFactor: N\tConfigs: k=v,...`
/// plus a newline; `TopicId` is left out when unknown, as Kafka leaves out
/// the zero id.
pub fn topic_line(topic: &TopicInfo, topic_id: Option<&str>, configs: &[ConfigOverride]) -> String {
    let mut line = format!("Topic: {}", topic.name);
    if let Some(id) = topic_id {
        line.push_str(&format!("\tTopicId: {id}"));
    }
    let replication_factor = topic.partitions.first().map_or(0, |p| p.replicas.len());
    let configs: Vec<String> = configs
        .iter()
        .map(|(name, value)| format!("{name}={}", value.as_deref().unwrap_or("null")))
        .collect();
    line.push_str(&format!(
        "\tPartitionCount: {}\tReplicationFactor: {replication_factor}\tConfigs: {}\n",
        topic.partitions.len(),
        configs.join(",")
    ));
    line
}

/// `\tTopic: T\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2` plus a
/// newline; `Leader: none` when there is no leader.
pub fn partition_line(topic: &str, partition: &PartitionInfo) -> String {
    let leader = if partition.leader < 0 {
        "none".to_string()
    } else {
        partition.leader.to_string()
    };
    format!(
        "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\n",
        partition.id,
        join_ids(&partition.replicas),
        join_ids(&partition.isr)
    )
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> TopicInfo {
        TopicInfo {
            name: "orders".into(),
            partitions: vec![
                PartitionInfo {
                    id: 0,
                    leader: 1,
                    replicas: vec![1, 2],
                    isr: vec![1, 2],
                },
                PartitionInfo {
                    id: 1,
                    leader: -1,
                    replicas: vec![2, 1],
                    isr: vec![],
                },
            ],
        }
    }

    #[test]
    fn topic_line_matches_kafka_topics() {
        let configs = vec![
            ("cleanup.policy".to_string(), Some("compact".to_string())),
            ("sasl.secret".to_string(), None),
        ];
        assert_eq!(
            topic_line(&topic(), Some("AAAAAAAAAAEAAAAAAAAAAg"), &configs),
            "Topic: orders\tTopicId: AAAAAAAAAAEAAAAAAAAAAg\tPartitionCount: 2\t\
             ReplicationFactor: 2\tConfigs: cleanup.policy=compact,sasl.secret=null\n"
        );
    }

    #[test]
    fn topic_line_without_id_or_configs() {
        assert_eq!(
            topic_line(&topic(), None, &[]),
            "Topic: orders\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: \n"
        );
    }

    #[test]
    fn partition_lines_match_kafka_topics() {
        let t = topic();
        assert_eq!(
            partition_line("orders", &t.partitions[0]),
            "\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n"
        );
        assert_eq!(
            partition_line("orders", &t.partitions[1]),
            "\tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 2,1\tIsr: \n"
        );
    }
}
