//! Kafka 4.0's group-level configs (KIP-848 `GroupConfig`): per-group
//! overrides of the broker's consumer- and share-group settings, altered
//! with IncrementalAlterConfigs on GROUP resources.

use super::ConfigDef;
use super::Validator::*;

pub(super) static GROUP_CONFIGS: &[ConfigDef] = config_table! {
    "consumer.heartbeat.interval.ms": Int = "5000", AtLeast(1), PerTopic,
        "Heartbeat interval of this consumer group's members; overrides group.consumer.heartbeat.interval.ms.";
    "consumer.session.timeout.ms": Int = "45000", AtLeast(1), PerTopic,
        "Session timeout of this consumer group's members; overrides group.consumer.session.timeout.ms.";
    "share.auto.offset.reset": String = "latest", OneOf(&["latest", "earliest", "by_duration"]), PerTopic,
        "Where a share group starts reading partitions it has no offset for.";
    "share.heartbeat.interval.ms": Int = "5000", AtLeast(1), PerTopic,
        "Heartbeat interval of this share group's members; overrides group.share.heartbeat.interval.ms.";
    "share.record.lock.duration.ms": Int = "30000", AtLeast(1), PerTopic,
        "How long a share group member holds a delivered record before it is released.";
    "share.session.timeout.ms": Int = "45000", AtLeast(1), PerTopic,
        "Session timeout of this share group's members; overrides group.share.session.timeout.ms.";
};
