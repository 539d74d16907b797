//! Effective topic configuration: a topic override, else the broker's value
//! for the synonym key, else Kafka's default. DescribeConfigs and the log
//! settings both read through here so they can never disagree.

use std::collections::BTreeMap;

use gregor_log::{LogConfig, TimestampType};
use gregor_metadata::configs;

use crate::config::BrokerConfig;

/// Where an effective topic config value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicValueSource {
    TopicOverride,
    /// The broker key that supplied it, and whether it was set explicitly.
    Broker {
        key: &'static str,
        explicit: bool,
    },
    Default,
}

/// The effective value of topic config `key`, if it has one.
pub fn effective(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    key: &str,
) -> Option<(String, TopicValueSource)> {
    if let Some(v) = overrides.get(key) {
        return Some((v.clone(), TopicValueSource::TopicOverride));
    }
    if let Some((v, Some(broker_key))) = broker.topic_default(key) {
        let explicit = broker.source(broker_key) != configs::ConfigSource::Default;
        return Some((
            v,
            TopicValueSource::Broker {
                key: broker_key,
                explicit,
            },
        ));
    }
    let def = configs::topic_config(key)?;
    def.def
        .default
        .map(|d| (d.to_string(), TopicValueSource::Default))
}

fn number<T: std::str::FromStr>(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    key: &str,
    fallback: T,
) -> T {
    effective(broker, overrides, key)
        .and_then(|(v, _)| v.parse().ok())
        .unwrap_or(fallback)
}

/// Whether the topic's `cleanup.policy` includes `compact`.
pub fn is_compacted(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> bool {
    effective(broker, overrides, "cleanup.policy").is_some_and(|(v, _)| {
        configs::parse_list(&v)
            .iter()
            .any(|p| p.eq_ignore_ascii_case("compact"))
    })
}

/// The log settings for a topic with these overrides.
pub fn log_config(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> LogConfig {
    let d = LogConfig::default();
    let flush_messages: i64 = number(broker, overrides, "flush.messages", i64::MAX);
    let timestamp_type = match effective(broker, overrides, "message.timestamp.type") {
        Some((v, _)) if v == "LogAppendTime" => TimestampType::LogAppendTime,
        _ => TimestampType::CreateTime,
    };
    LogConfig {
        segment_bytes: number(broker, overrides, "segment.bytes", d.segment_bytes),
        segment_ms: number(broker, overrides, "segment.ms", d.segment_ms),
        index_interval_bytes: number(
            broker,
            overrides,
            "index.interval.bytes",
            d.index_interval_bytes,
        ),
        flush_interval_messages: u64::try_from(flush_messages).unwrap_or(u64::MAX),
        flush_interval_ms: number(broker, overrides, "flush.ms", d.flush_interval_ms),
        max_message_bytes: number(broker, overrides, "max.message.bytes", d.max_message_bytes),
        message_timestamp_type: timestamp_type,
        segment_index_bytes: number(
            broker,
            overrides,
            "segment.index.bytes",
            d.segment_index_bytes,
        ),
    }
}
