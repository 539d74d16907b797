//! Config change decisions for topics and brokers: IncrementalAlterConfigs
//! (SET, DELETE, APPEND, SUBTRACT) and the legacy AlterConfigs, which
//! replaces a resource's whole set of overrides.
//!
//! Broker resources are dynamic broker configs: `resource_name` is a broker
//! id (that broker only) or `""` (the cluster-wide default). Only keys Kafka
//! can change at run time are accepted, with Kafka's wording for the rest.

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::kafka_protocol::ResponseError;

use super::ApiError;
use crate::configs::{self, ConfigDef, ConfigType, DynamicScope};
use crate::image::MetadataImage;
use crate::records::{ConfigResource, MetadataRecord};

/// One requested change, as IncrementalAlterConfigs carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl AlterOp {
    /// The protocol's operation codes.
    pub fn from_code(code: i8) -> Option<AlterOp> {
        Some(match code {
            0 => AlterOp::Set,
            1 => AlterOp::Delete,
            2 => AlterOp::Append,
            3 => AlterOp::Subtract,
            _ => return None,
        })
    }
}

/// One requested change: key, operation, value (absent for DELETE).
pub type ConfigChange = (String, AlterOp, Option<String>);

/// Decides a topic's IncrementalAlterConfigs entry: the config records that
/// bring its overrides to the requested state.
pub fn alter_topic_configs(
    image: &MetadataImage,
    topic: &str,
    changes: &[ConfigChange],
) -> Result<Vec<MetadataRecord>, ApiError> {
    let current = topic_overrides(image, topic)?;
    check_duplicates(changes.iter().map(|c| c.0.as_str()))?;
    let mut records = Vec::with_capacity(changes.len());
    for (key, op, value) in changes {
        let def = topic_def(key)?;
        let new_value = apply_op(def, current.get(key.as_str()), *op, value.as_deref())?;
        records.push(config_record(ConfigResource::Topic, topic, key, new_value));
    }
    Ok(records)
}

/// Decides a dynamic broker config IncrementalAlterConfigs entry for broker
/// `resource_name` (a broker id, or `""` for the cluster default).
pub fn alter_broker_configs(
    image: &MetadataImage,
    resource_name: &str,
    changes: &[ConfigChange],
) -> Result<Vec<MetadataRecord>, ApiError> {
    check_broker_name(resource_name)?;
    check_duplicates(changes.iter().map(|c| c.0.as_str()))?;
    let empty = BTreeMap::new();
    let current = image.broker_configs(resource_name).unwrap_or(&empty);
    let defs = broker_defs(resource_name, changes.iter().map(|c| c.0.as_str()))?;
    let mut records = Vec::with_capacity(changes.len());
    for ((key, op, value), def) in changes.iter().zip(defs) {
        let new_value = apply_op(def, current.get(key.as_str()), *op, value.as_deref())?;
        records.push(config_record(
            ConfigResource::Broker,
            resource_name,
            key,
            new_value,
        ));
    }
    Ok(records)
}

/// The broker's bounds on group-level overrides
/// (`group.consumer.{min,max}.{heartbeat.interval,session.timeout}.ms`).
/// Share groups are not built, so their bounds are Kafka's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConfigLimits {
    pub consumer_heartbeat_interval_ms: (i32, i32),
    pub consumer_session_timeout_ms: (i32, i32),
}

impl Default for GroupConfigLimits {
    /// Kafka's defaults for the bounds.
    fn default() -> Self {
        GroupConfigLimits {
            consumer_heartbeat_interval_ms: (5_000, 15_000),
            consumer_session_timeout_ms: (45_000, 60_000),
        }
    }
}

/// Kafka's defaults of `group.share.{min,max}.heartbeat.interval.ms`,
/// `group.share.{min,max}.session.timeout.ms` and
/// `group.share.{min,max}.record.lock.duration.ms`.
const SHARE_HEARTBEAT_INTERVAL_MS: (i32, i32) = (5_000, 15_000);
const SHARE_SESSION_TIMEOUT_MS: (i32, i32) = (45_000, 60_000);
const SHARE_RECORD_LOCK_DURATION_MS: (i32, i32) = (15_000, 60_000);

/// Kafka's `GroupConfig.validate` value checks on a group's overrides as
/// they would be after the change (unset keys at their defaults): each
/// interval and timeout within the broker's bounds, and each session
/// timeout above its heartbeat interval.
fn check_group_values(
    overrides: &BTreeMap<String, String>,
    limits: &GroupConfigLimits,
) -> Result<(), ApiError> {
    let value = |key: &str| -> i32 {
        let raw = overrides
            .get(key)
            .map(String::as_str)
            .or_else(|| configs::group_config(key).and_then(|d| d.default));
        raw.and_then(|v| v.trim().parse().ok()).unwrap_or_default()
    };
    let bounds = [
        (
            "consumer.heartbeat.interval.ms",
            "group.consumer.min.heartbeat.interval.ms",
            "group.consumer.max.heartbeat.interval.ms",
            limits.consumer_heartbeat_interval_ms,
        ),
        (
            "consumer.session.timeout.ms",
            "group.consumer.min.session.timeout.ms",
            "group.consumer.max.session.timeout.ms",
            limits.consumer_session_timeout_ms,
        ),
        (
            "share.heartbeat.interval.ms",
            "group.share.min.heartbeat.interval.ms",
            "group.share.max.heartbeat.interval.ms",
            SHARE_HEARTBEAT_INTERVAL_MS,
        ),
        (
            "share.session.timeout.ms",
            "group.share.min.session.timeout.ms",
            "group.share.max.session.timeout.ms",
            SHARE_SESSION_TIMEOUT_MS,
        ),
        (
            "share.record.lock.duration.ms",
            "group.share.min.record.lock.duration.ms",
            "group.share.max.record.lock.duration.ms",
            SHARE_RECORD_LOCK_DURATION_MS,
        ),
    ];
    for (key, min_key, max_key, (min, max)) in bounds {
        let v = value(key);
        if v < min {
            return Err(invalid_config(format!(
                "{key} must be greater than or equal to {min_key}"
            )));
        }
        if v > max {
            return Err(invalid_config(format!(
                "{key} must be less than or equal to {max_key}"
            )));
        }
    }
    for kind in ["consumer", "share"] {
        let session = format!("{kind}.session.timeout.ms");
        let heartbeat = format!("{kind}.heartbeat.interval.ms");
        if value(&session) <= value(&heartbeat) {
            return Err(invalid_config(format!(
                "{session} must be greater than {heartbeat}"
            )));
        }
    }
    Ok(())
}

/// Decides an IncrementalAlterConfigs entry for group `group`'s configs.
/// Groups need not exist yet, as in Kafka: the overrides wait for them.
pub fn alter_group_configs(
    image: &MetadataImage,
    group: &str,
    changes: &[ConfigChange],
    limits: &GroupConfigLimits,
) -> Result<Vec<MetadataRecord>, ApiError> {
    if group.is_empty() {
        return Err(ApiError::new(
            ResponseError::InvalidRequest,
            "Group name must not be empty",
        ));
    }
    check_duplicates(changes.iter().map(|c| c.0.as_str()))?;
    let empty = BTreeMap::new();
    let current = image.group_configs(group).unwrap_or(&empty);
    let mut after = current.clone();
    let mut records = Vec::with_capacity(changes.len());
    for (key, op, value) in changes {
        let def = configs::group_config(key)
            .ok_or_else(|| invalid_config(format!("Unknown group config name: {key}")))?;
        let new_value = apply_op(def, current.get(key.as_str()), *op, value.as_deref())?;
        match &new_value {
            Some(v) => after.insert(key.clone(), v.clone()),
            None => after.remove(key.as_str()),
        };
        records.push(config_record(ConfigResource::Group, group, key, new_value));
    }
    check_group_values(&after, limits)?;
    Ok(records)
}

/// Decides a legacy AlterConfigs entry: the resource's overrides become
/// exactly `configs`; every override not listed is removed, as in Kafka.
pub fn replace_configs(
    image: &MetadataImage,
    resource: ConfigResource,
    resource_name: &str,
    configs_in: &[(String, Option<String>)],
) -> Result<Vec<MetadataRecord>, ApiError> {
    check_duplicates(configs_in.iter().map(|c| c.0.as_str()))?;
    let null: Vec<&str> = configs_in
        .iter()
        .filter(|c| c.1.is_none())
        .map(|c| c.0.as_str())
        .collect();
    if !null.is_empty() {
        return Err(ApiError::new(
            ResponseError::InvalidRequest,
            format!("Null value not supported for : {}", null.join(", ")),
        ));
    }
    let empty = BTreeMap::new();
    let (current, defs) = match resource {
        ConfigResource::Topic => {
            let current = topic_overrides(image, resource_name)?;
            let defs = configs_in
                .iter()
                .map(|c| topic_def(&c.0))
                .collect::<Result<Vec<_>, _>>()?;
            (current, defs)
        }
        ConfigResource::Group => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "AlterConfigs does not support GROUP resources; use IncrementalAlterConfigs",
            ))
        }
        ConfigResource::Broker => {
            check_broker_name(resource_name)?;
            let current = image.broker_configs(resource_name).unwrap_or(&empty);
            let defs = broker_defs(resource_name, configs_in.iter().map(|c| c.0.as_str()))?;
            (current, defs)
        }
    };
    let mut records = Vec::new();
    for ((key, value), def) in configs_in.iter().zip(defs) {
        let value = value.as_deref().unwrap_or_default();
        check_value(def, value)?;
        records.push(config_record(
            resource,
            resource_name,
            key,
            Some(value.to_string()),
        ));
    }
    for key in current.keys() {
        if !configs_in.iter().any(|c| &c.0 == key) {
            records.push(config_record(resource, resource_name, key, None));
        }
    }
    Ok(records)
}

/// The value a key has after `op`, validated; `None` removes the override.
fn apply_op(
    def: &ConfigDef,
    current: Option<&String>,
    op: AlterOp,
    value: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let key = def.name;
    let new_value = match (op, value) {
        (AlterOp::Delete, _) => return Ok(None),
        (_, None) => {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                format!("Null value not supported for : {key}"),
            ))
        }
        (AlterOp::Set, Some(v)) => v.to_string(),
        (AlterOp::Append | AlterOp::Subtract, Some(_)) if def.ty != ConfigType::List => {
            let verb = if op == AlterOp::Append {
                "append"
            } else {
                "subtract"
            };
            return Err(invalid_config(format!(
                "Config value {verb} is not allowed for config key: {key}"
            )));
        }
        (AlterOp::Append | AlterOp::Subtract, Some(v)) => {
            // Kafka starts from the stored override if there is one, else the default.
            let base = current.map(String::as_str).or(def.default).unwrap_or("");
            let mut items = split_list(base);
            let given = split_list(v);
            if op == AlterOp::Append {
                for g in given {
                    if !items.contains(&g) {
                        items.push(g);
                    }
                }
            } else {
                items.retain(|i| !given.contains(i));
            }
            items.join(",")
        }
    };
    check_value(def, &new_value)?;
    Ok(Some(new_value))
}

fn check_value(def: &ConfigDef, value: &str) -> Result<(), ApiError> {
    configs::validate(def, value).map_err(|e| invalid_config(e.to_string()))
}

fn invalid_config(message: String) -> ApiError {
    ApiError::new(ResponseError::InvalidConfig, message)
}

fn topic_overrides<'a>(
    image: &'a MetadataImage,
    topic: &str,
) -> Result<&'a BTreeMap<String, String>, ApiError> {
    image.topic(topic).map(|t| &t.configs).ok_or_else(|| {
        ApiError::new(
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {topic} does not exist"),
        )
    })
}

fn topic_def(key: &str) -> Result<&'static ConfigDef, ApiError> {
    configs::topic_config(key)
        .map(|t| &t.def)
        .ok_or_else(|| invalid_config(format!("Unknown topic config name: {key}")))
}

fn check_duplicates<'a>(keys: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    for key in keys {
        if !seen.insert(key) {
            return Err(ApiError::new(
                ResponseError::InvalidRequest,
                "Error due to duplicate config keys",
            ));
        }
    }
    Ok(())
}

/// A broker resource is named by a broker id, or `""` for the cluster default.
pub fn check_broker_name(resource_name: &str) -> Result<(), ApiError> {
    if resource_name.is_empty() || resource_name.parse::<i32>().is_ok() {
        return Ok(());
    }
    Err(ApiError::new(
        ResponseError::InvalidRequest,
        format!("Broker id must be an integer, but it is: {resource_name}"),
    ))
}

/// The definitions of dynamic broker keys, refusing (as Kafka's
/// `DynamicBrokerConfig.validateConfigs`) keys that cannot change at run
/// time, and per-broker keys given for the cluster default.
fn broker_defs<'a>(
    resource_name: &str,
    keys: impl Iterator<Item = &'a str> + Clone,
) -> Result<Vec<&'static ConfigDef>, ApiError> {
    let refuse = |what: &str, bad: Vec<&str>| {
        ApiError::new(
            ResponseError::InvalidRequest,
            format!(
                "Invalid config value for resource ConfigResource(type=BROKER, name='{resource_name}'): {what}: Set({})",
                bad.join(", ")
            ),
        )
    };
    let mut defs = Vec::new();
    for key in keys.clone() {
        // Gregor's table covers the broker keys it knows; Kafka would store
        // an unknown key, but one nothing reads is almost always a typo.
        let def = configs::broker_config(key)
            .ok_or_else(|| invalid_config(format!("Unknown broker config name: {key}")))?;
        defs.push(def);
    }
    let read_only: Vec<&str> = defs
        .iter()
        .filter(|d| d.dynamic == DynamicScope::ReadOnly)
        .map(|d| d.name)
        .collect();
    if !read_only.is_empty() {
        return Err(refuse("Cannot update these configs dynamically", read_only));
    }
    let per_broker: Vec<&str> = defs
        .iter()
        .filter(|d| d.dynamic == DynamicScope::PerBroker)
        .map(|d| d.name)
        .collect();
    if resource_name.is_empty() && !per_broker.is_empty() {
        return Err(refuse(
            "Cannot update these configs at default cluster level, broker id must be specified",
            per_broker,
        ));
    }
    Ok(defs)
}

fn config_record(
    resource: ConfigResource,
    resource_name: &str,
    name: &str,
    value: Option<String>,
) -> MetadataRecord {
    MetadataRecord::Config {
        resource,
        resource_name: resource_name.to_string(),
        name: name.to_string(),
        value,
    }
}

fn split_list(s: &str) -> Vec<String> {
    configs::parse_list(s)
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
#[path = "alter_configs_tests.rs"]
mod tests;
