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
        let explicit = broker.explicit().contains_key(broker_key);
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

/// The topic's `cleanup.policy` entries, lower-cased.
fn cleanup_policies(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> Vec<String> {
    effective(broker, overrides, "cleanup.policy")
        .map(|(v, _)| {
            configs::parse_list(&v)
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// The log settings for a topic with these overrides.
pub fn log_config(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> LogConfig {
    let d = LogConfig::default();
    let flush_messages: i64 = number(broker, overrides, "flush.messages", i64::MAX);
    let timestamp_type = match effective(broker, overrides, "message.timestamp.type") {
        Some((v, _)) if v == "LogAppendTime" => TimestampType::LogAppendTime,
        _ => TimestampType::CreateTime,
    };
    let policies = cleanup_policies(broker, overrides);
    LogConfig {
        cleanup_delete: policies.iter().any(|p| p == "delete"),
        cleanup_compact: policies.iter().any(|p| p == "compact"),
        retention_ms: number(broker, overrides, "retention.ms", d.retention_ms),
        retention_bytes: number(broker, overrides, "retention.bytes", d.retention_bytes),
        min_cleanable_dirty_ratio: number(
            broker,
            overrides,
            "min.cleanable.dirty.ratio",
            d.min_cleanable_dirty_ratio,
        ),
        min_compaction_lag_ms: number(
            broker,
            overrides,
            "min.compaction.lag.ms",
            d.min_compaction_lag_ms,
        ),
        max_compaction_lag_ms: number(
            broker,
            overrides,
            "max.compaction.lag.ms",
            d.max_compaction_lag_ms,
        ),
        delete_retention_ms: number(
            broker,
            overrides,
            "delete.retention.ms",
            d.delete_retention_ms,
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(overrides: &[&str]) -> BrokerConfig {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        BrokerConfig::load(None, &[], &overrides)
            .expect("broker config")
            .0
    }

    fn topic(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn retention_and_cleaner_settings_reach_the_log() {
        let b = broker(&[
            "log.retention.hours=2",
            "log.retention.bytes=5000000",
            "log.cleaner.min.cleanable.ratio=0.25",
        ]);
        let c = log_config(&b, &BTreeMap::new());
        assert!(c.cleanup_delete && !c.cleanup_compact);
        assert_eq!(c.retention_ms, 2 * 3_600_000, "from log.retention.hours");
        assert_eq!(c.retention_bytes, 5_000_000);
        assert_eq!(c.min_cleanable_dirty_ratio, 0.25);
        assert_eq!(c.delete_retention_ms, 86_400_000);

        let c = log_config(
            &b,
            &topic(&[
                ("cleanup.policy", "compact,delete"),
                ("retention.ms", "-1"),
                ("min.compaction.lag.ms", "100"),
                ("max.compaction.lag.ms", "5000"),
                ("delete.retention.ms", "10"),
            ]),
        );
        assert!(c.cleanup_delete && c.cleanup_compact);
        assert_eq!(c.retention_ms, -1);
        assert_eq!(
            (
                c.min_compaction_lag_ms,
                c.max_compaction_lag_ms,
                c.delete_retention_ms
            ),
            (100, 5000, 10)
        );
        let c = log_config(&b, &topic(&[("cleanup.policy", "compact")]));
        assert!(!c.cleanup_delete && c.cleanup_compact);
    }
}
