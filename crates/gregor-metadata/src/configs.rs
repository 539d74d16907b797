//! Kafka's broker and topic configuration keys as data: name, type, default,
//! documentation, validator, sensitivity and how each may be updated.
//!
//! The tables follow Apache Kafka 4.0 (names, types, defaults, valid values
//! and the topic-to-broker synonym chains), so `server.properties` files,
//! `kafka-configs.sh` and DescribeConfigs behave as Kafka users expect. A few
//! broker defaults are Gregor's own so that a bare `gregor broker` works
//! (node id, data directory, process roles); each says so in its doc.
//!
//! This module only describes and validates values. Loading a properties
//! file and resolving effective values is the broker's job
//! (`gregor_broker::config`); storing topic overrides is the image's.

/// Builds a static table of [`ConfigDef`]s from compact rows of
/// `"name": Type = default, validator, scope, "doc";` where `default` is a
/// string literal or `null`. A macro keeps each row on one or two lines,
/// which a struct literal per key would not survive under rustfmt.
macro_rules! config_table {
    ($( $name:literal : $ty:ident = $default:tt, $validator:expr, $scope:ident, $doc:literal; )*) => {
        &[ $( $crate::configs::ConfigDef {
            name: $name,
            ty: $crate::configs::ConfigType::$ty,
            default: config_table!(@default $default),
            doc: $doc,
            validator: $validator,
            sensitive: matches!($crate::configs::ConfigType::$ty, $crate::configs::ConfigType::Password),
            dynamic: $crate::configs::DynamicScope::$scope,
        }, )* ]
    };
    (@default null) => { ::core::option::Option::None };
    (@default $d:expr) => { ::core::option::Option::Some($d) };
}

/// Like `config_table!`, for topic configs: each row also lists its broker
/// synonyms in precedence order, e.g. `["log.roll.ms" Same, "log.roll.hours" Hours]`.
macro_rules! topic_table {
    ($( $name:literal : $ty:ident = $default:tt, $validator:expr,
        [ $( $syn:literal $unit:ident ),* ], $doc:literal; )*) => {
        &[ $( $crate::configs::TopicConfigDef {
            def: $crate::configs::ConfigDef {
                name: $name,
                ty: $crate::configs::ConfigType::$ty,
                default: config_table!(@default $default),
                doc: $doc,
                validator: $validator,
                sensitive: false,
                dynamic: $crate::configs::DynamicScope::PerTopic,
            },
            broker_synonym: topic_table!(@first $( $syn )*),
            synonyms: &[ $( $crate::configs::Synonym {
                name: $syn,
                unit: $crate::configs::SynonymUnit::$unit,
            } ),* ],
        }, )* ]
    };
    (@first) => { ::core::option::Option::None };
    (@first $first:literal $( $rest:literal )*) => { ::core::option::Option::Some($first) };
}

mod broker;
mod endpoints;
mod group;
mod topic;
mod validate;

#[cfg(test)]
mod tests;

use thiserror::Error;

pub use endpoints::{
    parse_endpoints, parse_host_port, parse_protocol_map, parse_voters, Endpoint, SecurityProtocol,
    Voter,
};
pub use validate::{parse_bool, parse_list, validate};

/// The value type of a config, as Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    /// The `config_type` code DescribeConfigs (v3+) reports for this type.
    pub fn code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Short => 4,
            ConfigType::Long => 5,
            ConfigType::Double => 6,
            ConfigType::List => 7,
            ConfigType::Class => 8,
            ConfigType::Password => 9,
        }
    }

    /// The upper-case name Kafka uses in messages ("Not a number of type INT").
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// What a value must satisfy beyond parsing as its type. Numeric bounds are
/// inclusive and apply to INT, SHORT, LONG and DOUBLE alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Validator {
    None,
    AtLeast(i64),
    Between(i64, i64),
    /// Exactly one of these strings (case-sensitive, as Kafka's `ValidString`).
    OneOf(&'static [&'static str]),
    /// One of these strings, ignoring ASCII case.
    OneOfIgnoreCase(&'static [&'static str]),
    /// Every list element is one of these strings (Kafka's `ValidList`).
    ListOf(&'static [&'static str]),
    NonEmptyString,
    /// gzip levels: 1 to 9, or -1 for the codec's default.
    GzipLevel,
    /// `*`, or a list of `partition:broker` pairs (replication throttling).
    ThrottledReplicas,
    /// `id@host:port` entries (controller.quorum.voters).
    QuorumVoters,
    /// `host:port` entries (controller.quorum.bootstrap.servers).
    HostPorts,
    /// `NAME://host:port` entries (listeners, advertised.listeners).
    Listeners,
    /// `NAME:PROTOCOL` entries (listener.security.protocol.map).
    ListenerProtocolMap,
}

/// How a broker config may be changed while the broker runs, as Kafka's
/// "Update Mode". Topic configs are all changeable per topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynamicScope {
    /// Only from the properties file at start-up.
    ReadOnly,
    /// May be altered for one broker at a time.
    PerBroker,
    /// May be altered as a cluster-wide default (and per broker).
    ClusterWide,
    /// A topic-level config, altered per topic.
    PerTopic,
}

/// Where a reported config value came from, with DescribeConfigs' codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigSource {
    DynamicTopic,
    DynamicBroker,
    DynamicDefaultBroker,
    StaticBroker,
    Default,
    DynamicBrokerLogger,
    ClientMetrics,
    Group,
}

impl ConfigSource {
    /// The `config_source` code of DescribeConfigs.
    pub fn code(self) -> i8 {
        match self {
            ConfigSource::DynamicTopic => 1,
            ConfigSource::DynamicBroker => 2,
            ConfigSource::DynamicDefaultBroker => 3,
            ConfigSource::StaticBroker => 4,
            ConfigSource::Default => 5,
            ConfigSource::DynamicBrokerLogger => 6,
            ConfigSource::ClientMetrics => 7,
            ConfigSource::Group => 8,
        }
    }
}

/// One config key. Instances live in static tables; callers hold
/// `&'static ConfigDef`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfigDef {
    pub name: &'static str,
    pub ty: ConfigType,
    /// The default as Kafka would print it; `None` means no default (null).
    pub default: Option<&'static str>,
    pub doc: &'static str,
    pub validator: Validator,
    /// Whether values must be hidden in DescribeConfigs and logs.
    pub sensitive: bool,
    pub dynamic: DynamicScope,
}

impl ConfigDef {
    /// DescribeConfigs' `read_only` flag.
    pub fn is_read_only(&self) -> bool {
        self.dynamic == DynamicScope::ReadOnly
    }
}

/// How a broker synonym's value becomes the topic config's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SynonymUnit {
    /// Same unit and meaning: copied as is.
    Same,
    /// Broker value is in minutes; the topic value is milliseconds.
    Minutes,
    /// Broker value is in hours; the topic value is milliseconds.
    Hours,
}

/// A broker config that supplies the default of a topic config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Synonym {
    pub name: &'static str,
    pub unit: SynonymUnit,
}

impl Synonym {
    /// Converts a (valid) broker value into the topic config's unit. Kafka
    /// treats any negative retention as "forever" (-1), and the other
    /// converted synonyms cannot be negative, so negatives become -1.
    pub fn to_topic_value(&self, broker_value: &str) -> Option<String> {
        let factor: i64 = match self.unit {
            SynonymUnit::Same => return Some(broker_value.trim().to_string()),
            SynonymUnit::Minutes => 60_000,
            SynonymUnit::Hours => 3_600_000,
        };
        let n: i64 = broker_value.trim().parse().ok()?;
        if n < 0 {
            return Some("-1".to_string());
        }
        Some(n.saturating_mul(factor).to_string())
    }
}

/// A topic-level config and the broker configs that supply its default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopicConfigDef {
    pub def: ConfigDef,
    /// The highest-precedence broker synonym (Kafka's "Server Default
    /// Property"); always `synonyms[0]` when there is one.
    pub broker_synonym: Option<&'static str>,
    /// Every broker synonym in Kafka's precedence order: the first one with
    /// a value (explicit or default) wins.
    pub synonyms: &'static [Synonym],
}

/// A value that does not fit its config.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// Worded as Kafka's `ConfigException` so operators recognise it.
    #[error("Invalid value {value} for configuration {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    pub fn invalid(name: &str, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Every broker config Gregor knows, in a stable order.
pub fn broker_configs() -> &'static [ConfigDef] {
    broker::BROKER_CONFIGS
}

/// Every topic-level config, sorted by name as Kafka documents them.
pub fn topic_configs() -> &'static [TopicConfigDef] {
    topic::TOPIC_CONFIGS
}

// The tables hold a few hundred entries and lookups happen at start-up and
// in admin requests, so a linear scan is simpler than an index and as fast
// as anything that matters here.

/// Every group-level config (GROUP resources), sorted by name.
pub fn group_configs() -> &'static [ConfigDef] {
    group::GROUP_CONFIGS
}

/// The group config called `name`.
pub fn group_config(name: &str) -> Option<&'static ConfigDef> {
    group_configs().iter().find(|d| d.name == name)
}

/// The broker config called `name`.
pub fn broker_config(name: &str) -> Option<&'static ConfigDef> {
    broker_configs().iter().find(|d| d.name == name)
}

/// The topic config called `name`.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    topic_configs().iter().find(|d| d.def.name == name)
}

/// The broker keys that feed topic config `name`'s default, highest
/// precedence first; empty for unknown names and topic-only configs.
pub fn topic_synonyms(name: &str) -> Vec<&'static str> {
    topic_config(name)
        .map(|t| t.synonyms.iter().map(|s| s.name).collect())
        .unwrap_or_default()
}

/// The topic config whose default broker key `broker_key` supplies, with the
/// synonym entry describing the conversion.
pub fn topic_for_broker_key(
    broker_key: &str,
) -> Option<(&'static TopicConfigDef, &'static Synonym)> {
    topic_configs().iter().find_map(|t| {
        t.synonyms
            .iter()
            .find(|s| s.name == broker_key)
            .map(|s| (t, s))
    })
}

/// Configs that Kafka 4.0 removed (mostly ZooKeeper-era) with the reason,
/// so start-up can say why an old `server.properties` line is ignored
/// instead of calling it unknown.
pub fn removed_broker_config(name: &str) -> Option<&'static str> {
    const ZK: &str = "Kafka 4.0 removed ZooKeeper mode; Gregor keeps metadata in its own log";
    const FORMAT: &str = "message formats v0 and v1 were removed in Kafka 4.0";
    const TS: &str =
        "replaced by log.message.timestamp.before.max.ms and log.message.timestamp.after.max.ms";
    match name {
        n if n.starts_with("zookeeper.") => Some(ZK),
        "broker.id.generation.enable"
        | "reserved.broker.max.id"
        | "control.plane.listener.name" => Some(ZK),
        "controlled.shutdown.max.retries" | "controlled.shutdown.retry.backoff.ms" => Some(ZK),
        "log.message.format.version" | "message.format.version" => Some(FORMAT),
        "log.message.timestamp.difference.max.ms" | "message.timestamp.difference.max.ms" => {
            Some(TS)
        }
        _ => None,
    }
}
