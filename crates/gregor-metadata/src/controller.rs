//! The controller's decisions: admin requests in, metadata records out.
//!
//! Every function here validates against the current image and returns the
//! records to append to the metadata log, or the Kafka error for the
//! request. Nothing is applied here: the broker appends the records durably
//! and then replays them into the image, so a crash between the two cannot
//! leave the image ahead of the log.

use std::collections::BTreeSet;

use gregor_protocol::kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::configs;
use crate::image::MetadataImage;
use crate::records::{ConfigResource, MetadataRecord};

/// Longest topic name Kafka accepts.
pub const TOPIC_NAME_LENGTH_MAX: usize = 249;

/// A request refused with a Kafka error code and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ResponseError,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ResponseError, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// What the controller needs to know besides the image.
#[derive(Debug, Clone)]
pub struct ClusterContext {
    /// Brokers that can hold replicas, ascending.
    pub broker_ids: Vec<i32>,
    /// `num.partitions`, used when a request asks for the default (-1).
    pub default_partitions: i32,
    /// `default.replication.factor`, used when a request asks for the default (-1).
    pub default_replication_factor: i16,
}

/// A CreateTopics entry (or an auto-creation) in controller terms.
#[derive(Debug, Clone, Default)]
pub struct NewTopic {
    pub name: String,
    pub num_partitions: i32,
    pub replication_factor: i16,
    /// Manual replica assignment: (partition, broker ids). Empty = automatic.
    pub assignments: Vec<(i32, Vec<i32>)>,
    pub configs: Vec<(String, Option<String>)>,
}

/// What a successful creation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub topic_id: Uuid,
    pub num_partitions: i32,
    pub replication_factor: i16,
    pub records: Vec<MetadataRecord>,
}

/// Checks a topic name the way Kafka's `Topic.validate` does.
pub fn validate_topic_name(name: &str) -> Result<(), ApiError> {
    let invalid = |m: String| Err(ApiError::new(ResponseError::InvalidTopicException, m));
    if name.is_empty() {
        return invalid("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return invalid("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > TOPIC_NAME_LENGTH_MAX {
        return invalid(format!(
            "Topic name is illegal, it can't be longer than {TOPIC_NAME_LENGTH_MAX} characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid(format!(
            "Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Kafka refuses topics whose names differ only in '.' versus '_', because
/// metric names would collide.
fn colliding_topic<'a>(image: &'a MetadataImage, name: &str) -> Option<&'a str> {
    let unify = |s: &str| s.replace('.', "_");
    let wanted = unify(name);
    image
        .topics()
        .map(|t| t.name.as_str())
        .find(|t| *t != name && unify(t) == wanted)
}

/// Validates topic config overrides, as CreateTopics and AlterConfigs do.
pub fn validate_topic_configs(configs_in: &[(String, Option<String>)]) -> Result<(), ApiError> {
    for (key, value) in configs_in {
        let def = configs::topic_config(key).ok_or_else(|| {
            ApiError::new(
                ResponseError::InvalidConfig,
                format!("Unknown topic config name: {key}"),
            )
        })?;
        let value = value.as_deref().ok_or_else(|| {
            ApiError::new(
                ResponseError::InvalidConfig,
                format!("Null value not supported for topic configs: {key}"),
            )
        })?;
        configs::validate(&def.def, value)
            .map_err(|e| ApiError::new(ResponseError::InvalidConfig, e.to_string()))?;
    }
    Ok(())
}

/// Decides a topic creation.
pub fn create_topic(
    image: &MetadataImage,
    ctx: &ClusterContext,
    req: &NewTopic,
) -> Result<CreatedTopic, ApiError> {
    validate_topic_name(&req.name)?;
    if image.topic(&req.name).is_some() {
        return Err(ApiError::new(
            ResponseError::TopicAlreadyExists,
            format!("Topic '{}' already exists.", req.name),
        ));
    }
    if let Some(other) = colliding_topic(image, &req.name) {
        return Err(ApiError::new(
            ResponseError::InvalidTopicException,
            format!("Topic '{}' collides with existing topic: {other}", req.name),
        ));
    }
    let assignments = if req.assignments.is_empty() {
        let partitions = resolve_partitions(req.num_partitions, ctx.default_partitions)?;
        let rf = resolve_replication_factor(req.replication_factor, ctx)?;
        (0..partitions)
            .map(|p| (p, place_replicas(ctx, p, rf)))
            .collect()
    } else {
        if req.num_partitions != -1 || req.replication_factor != -1 {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
            ));
        }
        validate_assignments(ctx, &req.assignments, 0)?
    };
    validate_topic_configs(&req.configs)?;

    let topic_id = Uuid::new_v4();
    let mut records = vec![MetadataRecord::Topic {
        name: req.name.clone(),
        topic_id,
    }];
    records.extend(
        assignments
            .iter()
            .map(|(p, replicas)| partition_record(topic_id, *p, replicas)),
    );
    records.extend(req.configs.iter().map(|(k, v)| MetadataRecord::Config {
        resource: ConfigResource::Topic,
        resource_name: req.name.clone(),
        name: k.clone(),
        value: v.clone(),
    }));
    let replication_factor = assignments.first().map_or(0, |(_, r)| r.len() as i16);
    Ok(CreatedTopic {
        topic_id,
        num_partitions: assignments.len() as i32,
        replication_factor,
        records,
    })
}

/// Decides a topic deletion.
pub fn delete_topic(image: &MetadataImage, name: &str) -> Result<Vec<MetadataRecord>, ApiError> {
    let topic = image.topic(name).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            "This server does not host this topic-partition.",
        )
    })?;
    Ok(vec![MetadataRecord::RemoveTopic {
        topic_id: topic.topic_id,
    }])
}

/// Decides a CreatePartitions entry: grow `name` to `count` partitions.
pub fn create_partitions(
    image: &MetadataImage,
    ctx: &ClusterContext,
    name: &str,
    count: i32,
    assignments: Option<&[Vec<i32>]>,
) -> Result<Vec<MetadataRecord>, ApiError> {
    let topic = image.topic(name).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            "This server does not host this topic-partition.",
        )
    })?;
    let current = topic.partitions.len() as i32;
    if count == current {
        return Err(ApiError::new(
            ResponseError::InvalidPartitions,
            format!("Topic already has {current} partitions."),
        ));
    }
    if count < current {
        return Err(ApiError::new(
            ResponseError::InvalidPartitions,
            format!("Topic currently has {current} partitions, which is higher than the requested {count}."),
        ));
    }
    let rf = topic
        .partitions
        .values()
        .next()
        .map_or(1, |p| p.replicas.len()) as i16;
    let new: Vec<(i32, Vec<i32>)> = match assignments {
        None => (current..count)
            .map(|p| (p, place_replicas(ctx, p, rf)))
            .collect(),
        Some(a) => {
            if a.len() as i32 != count - current {
                return Err(ApiError::new(
                    ResponseError::InvalidReplicaAssignment,
                    format!(
                        "Attempted to add {} additional partition(s), but only {} assignment(s) were specified.",
                        count - current,
                        a.len()
                    ),
                ));
            }
            let numbered: Vec<_> = a
                .iter()
                .enumerate()
                .map(|(i, r)| (current + i as i32, r.clone()))
                .collect();
            validate_assignments(ctx, &numbered, current)?
        }
    };
    Ok(new
        .iter()
        .map(|(p, r)| partition_record(topic.topic_id, *p, r))
        .collect())
}

/// Reserves `count` producer ids; returns the records and the first id.
pub fn allocate_producer_ids(image: &MetadataImage, count: i64) -> (Vec<MetadataRecord>, i64) {
    assert!(count > 0);
    let first = image.next_producer_id;
    (
        vec![MetadataRecord::ProducerIds {
            next_producer_id: first + count,
        }],
        first,
    )
}

fn partition_record(topic_id: Uuid, partition: i32, replicas: &[i32]) -> MetadataRecord {
    MetadataRecord::Partition {
        topic_id,
        partition,
        replicas: replicas.to_vec(),
        isr: replicas.to_vec(),
        leader: replicas[0],
        leader_epoch: 0,
        partition_epoch: 0,
    }
}

fn resolve_partitions(requested: i32, default: i32) -> Result<i32, ApiError> {
    match requested {
        -1 => Ok(default),
        n if n > 0 => Ok(n),
        _ => Err(ApiError::new(
            ResponseError::InvalidPartitions,
            "Number of partitions was set to an invalid non-positive value.",
        )),
    }
}

fn resolve_replication_factor(requested: i16, ctx: &ClusterContext) -> Result<i16, ApiError> {
    let rf = match requested {
        -1 => ctx.default_replication_factor,
        n if n > 0 => n,
        _ => {
            return Err(ApiError::new(
                ResponseError::InvalidReplicationFactor,
                "Replication factor must be larger than 0, or -1 to use the default value.",
            ))
        }
    };
    if rf as usize > ctx.broker_ids.len() {
        return Err(ApiError::new(
            ResponseError::InvalidReplicationFactor,
            format!(
                "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {} broker(s) are registered.",
                ctx.broker_ids.len()
            ),
        ));
    }
    Ok(rf)
}

/// Round-robin placement: partition p's replicas start at broker p mod n.
fn place_replicas(ctx: &ClusterContext, partition: i32, rf: i16) -> Vec<i32> {
    let n = ctx.broker_ids.len();
    (0..rf as usize)
        .map(|i| ctx.broker_ids[(partition as usize + i) % n])
        .collect()
}

fn validate_assignments(
    ctx: &ClusterContext,
    assignments: &[(i32, Vec<i32>)],
    first_partition: i32,
) -> Result<Vec<(i32, Vec<i32>)>, ApiError> {
    let bad = |m: String| Err(ApiError::new(ResponseError::InvalidReplicaAssignment, m));
    let mut sorted = assignments.to_vec();
    sorted.sort_by_key(|(p, _)| *p);
    let rf = sorted.first().map_or(0, |(_, r)| r.len());
    for (i, (p, replicas)) in sorted.iter().enumerate() {
        if *p != first_partition + i as i32 {
            return bad("Partitions should be a consecutive 0-based integer sequence".into());
        }
        if replicas.is_empty() {
            return bad(format!(
                "The manual partition assignment includes a partition ({p}) with no replicas."
            ));
        }
        if replicas.len() != rf {
            return bad("All partitions should have the same number of replicas".into());
        }
        if replicas.iter().collect::<BTreeSet<_>>().len() != replicas.len() {
            return bad(format!("The manual partition assignment includes the broker more than once for partition {p}."));
        }
        if let Some(b) = replicas.iter().find(|b| !ctx.broker_ids.contains(b)) {
            return bad(format!("The manual partition assignment includes broker {b}, but no such broker is registered."));
        }
    }
    Ok(sorted)
}

pub mod acls;
mod alter_configs;
pub mod scram;
pub use alter_configs::{
    alter_broker_configs, alter_group_configs, alter_topic_configs, check_broker_name,
    replace_configs, AlterOp, ConfigChange, GroupConfigLimits,
};
mod elect_leaders;
pub use elect_leaders::{elect_leader, ElectionType};

#[cfg(test)]
mod tests;
