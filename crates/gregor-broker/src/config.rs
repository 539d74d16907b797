//! Broker start-up configuration: Kafka's `server.properties` keys, read
//! from (lowest to highest precedence) built-in defaults, a properties file,
//! `GREGOR_*`/`KAFKA_*` environment variables and `--override key=value`.
//!
//! Every explicit value is checked against its Kafka definition in
//! `gregor_metadata::configs`; a bad value stops start-up with a sentence
//! naming the key, the value, what is allowed and where it was set. Unknown
//! keys only produce warnings, as Kafka only logs them. The resulting
//! [`BrokerConfig`] is built once in `main` and shared read-only (`Arc`).

mod listeners;
mod properties;
mod sources;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gregor_metadata::configs::{self, ConfigDef};
use thiserror::Error;

pub use gregor_metadata::configs::{ConfigSource, SecurityProtocol, Voter};
pub use listeners::Listener;
pub use sources::Origin;
use sources::{KeyKind, Layered};

/// Why the configuration could not be loaded. Start-up prints it and stops.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}, line {line}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("--override {0:?} must have the form key=value")]
    BadOverride(String),
    #[error("{error} (from {origin})")]
    Invalid {
        error: configs::ConfigError,
        origin: Origin,
    },
}

/// The broker's static configuration. Typed fields hold the values the
/// broker uses, with Kafka's synonym rules already applied (for example
/// `log_roll_ms` comes from `log.roll.ms`, else `log.roll.hours`).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Every known key set by file, environment or override, validated.
    explicit: Explicit,
    pub node_id: i32,
    pub process_roles: Vec<String>,
    pub listeners: Vec<Listener>,
    /// What clients are told to connect to; by default the listeners with
    /// wildcard hosts replaced by loopback, minus controller listeners.
    pub advertised_listeners: Vec<Listener>,
    pub controller_listener_names: Vec<String>,
    pub inter_broker_listener_name: String,
    pub controller_quorum_voters: Vec<Voter>,
    pub log_dirs: Vec<PathBuf>,
    pub metadata_log_dir: Option<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub log_segment_bytes: u64,
    pub log_roll_ms: i64,
    pub log_roll_jitter_ms: i64,
    pub log_index_interval_bytes: u64,
    pub log_index_size_max_bytes: u64,
    pub log_flush_interval_messages: u64,
    pub log_flush_interval_ms: i64,
    pub log_flush_scheduler_interval_ms: i64,
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_retention_check_interval_ms: i64,
    pub log_cleanup_policy: Vec<String>,
    pub log_cleaner_enable: bool,
    pub log_message_timestamp_type: String,
    pub log_message_timestamp_before_max_ms: i64,
    pub log_message_timestamp_after_max_ms: i64,
    pub message_max_bytes: usize,
    pub compression_type: String,
    pub min_insync_replicas: i32,
    pub unclean_leader_election_enable: bool,
    pub socket_request_max_bytes: usize,
    pub socket_send_buffer_bytes: i32,
    pub socket_receive_buffer_bytes: i32,
    /// A negative `connections.max.idle.ms` disables idle closing in Kafka;
    /// it is stored as `i64::MAX` (still safe to add to an `Instant`).
    pub connections_max_idle_ms: u64,
    pub num_network_threads: usize,
    pub num_io_threads: usize,
    /// Threads that open (recover) logs at start and close them at shutdown.
    pub num_recovery_threads_per_data_dir: usize,
    pub queued_max_requests: usize,
    pub fetch_max_bytes: usize,
    pub replica_lag_time_max_ms: i64,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_replication_factor: i16,
    pub offsets_topic_segment_bytes: u64,
    pub offsets_retention_ms: i64,
    pub offsets_retention_check_interval_ms: i64,
    pub offset_metadata_max_bytes: i32,
    pub transaction_state_log_num_partitions: i32,
    pub transaction_state_log_replication_factor: i16,
    pub transaction_state_log_min_isr: i32,
    pub transaction_state_log_segment_bytes: u64,
    pub transaction_max_timeout_ms: i32,
    pub transactional_id_expiration_ms: i32,
    pub producer_id_expiration_ms: i32,
    pub group_coordinator_rebalance_protocols: Vec<String>,
    pub group_initial_rebalance_delay_ms: i32,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_max_size: i32,
    pub group_consumer_session_timeout_ms: i32,
    pub group_consumer_min_session_timeout_ms: i32,
    pub group_consumer_max_session_timeout_ms: i32,
    pub group_consumer_heartbeat_interval_ms: i32,
    pub group_consumer_min_heartbeat_interval_ms: i32,
    pub group_consumer_max_heartbeat_interval_ms: i32,
}

impl BrokerConfig {
    /// Loads the configuration. Layers, lowest to highest precedence:
    /// built-in defaults, the properties file, environment variables, then
    /// `--override key=value` arguments. Returns the warnings to log (unknown
    /// or ignored keys) alongside the config.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &[String],
    ) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let mut layered = Layered::new();
        let mut warnings = Vec::new();
        if let Some(path) = file {
            sources::read_file(path, &mut layered)?;
        }
        sources::apply_env(env, &mut layered, &mut warnings);
        sources::apply_overrides(overrides, &mut layered)?;
        let r = Resolver {
            values: check_keys(layered, &mut warnings)?,
        };
        warn_shadowed(&r, &mut warnings);
        check_topic_defaults(&r)?;
        check_relations(&r)?;
        Ok((build(r)?, warnings))
    }

    /// The effective value of any broker config: explicit, else its default;
    /// `None` when neither exists (Kafka's null).
    pub fn value(&self, key: &str) -> Option<String> {
        if let Some(v) = self.explicit.0.get(key) {
            return Some(v.clone());
        }
        // Kafka copies node.id and broker.id into each other when only one
        // is set, so both always report the node's id.
        if key == "node.id" || key == "broker.id" {
            return Some(self.node_id.to_string());
        }
        configs::broker_config(key)
            .and_then(|d| d.default)
            .map(str::to_string)
    }

    /// Whether `key` was set explicitly (static broker config) or is a default.
    pub fn source(&self, key: &str) -> ConfigSource {
        if self.explicit.0.contains_key(key) {
            ConfigSource::StaticBroker
        } else {
            ConfigSource::Default
        }
    }

    /// Every known key set by file, environment or override, after validation.
    pub fn explicit(&self) -> &BTreeMap<String, String> {
        &self.explicit.0
    }

    /// The broker-level value of topic config `topic_key`, in the topic
    /// config's unit, with the broker key that supplied it: the first of its
    /// synonyms (Kafka's order) that has a value, else the topic default with
    /// `None`. `None` for unknown topic configs or ones without any default.
    pub fn topic_default(&self, topic_key: &str) -> Option<(String, Option<&'static str>)> {
        topic_default_with(topic_key, |k| self.value(k))
    }
}

/// The explicit values, with a `Debug` that hides secrets so that logging a
/// whole [`BrokerConfig`] cannot leak a password.
#[derive(Clone, PartialEq, Eq)]
struct Explicit(BTreeMap<String, String>);

impl std::fmt::Debug for Explicit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                (
                    k,
                    if is_sensitive(k) {
                        "[hidden]"
                    } else {
                        v.as_str()
                    },
                )
            }))
            .finish()
    }
}

/// Whether a key's value is a secret: a PASSWORD-typed config, directly or
/// behind a `listener.name.` prefix, or anything that looks like one.
fn is_sensitive(key: &str) -> bool {
    match sources::classify(key) {
        KeyKind::Known(def) | KeyKind::PerListener(Some(def)) => def.sensitive,
        _ => key.contains("password") || key.contains("jaas") || key.contains("secret"),
    }
}

/// Shared by [`BrokerConfig::topic_default`] and the checks made while loading.
fn topic_default_with(
    topic_key: &str,
    value: impl Fn(&str) -> Option<String>,
) -> Option<(String, Option<&'static str>)> {
    let t = configs::topic_config(topic_key)?;
    for s in t.synonyms {
        if let Some(v) = value(s.name) {
            return s.to_topic_value(&v).map(|v| (v, Some(s.name)));
        }
    }
    t.def.default.map(|d| (d.to_string(), None))
}

/// The validated explicit values while the config is being built, with
/// their origins for error messages.
struct Resolver {
    values: Layered,
}

impl Resolver {
    fn explicit(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    fn value(&self, key: &str) -> Option<String> {
        match self.explicit(key) {
            Some(v) => Some(v.to_string()),
            None => configs::broker_config(key)
                .and_then(|d| d.default)
                .map(str::to_string),
        }
    }

    fn origin(&self, key: &str) -> Origin {
        self.values
            .get(key)
            .map(|(_, o)| o.clone())
            .unwrap_or(Origin::Default)
    }

    /// An error about `key`'s current value.
    fn invalid(&self, key: &str, reason: String) -> ConfigError {
        let value = self.value(key).unwrap_or_else(|| "null".to_string());
        ConfigError::Invalid {
            error: configs::ConfigError::invalid(key, &value, reason),
            origin: self.origin(key),
        }
    }

    fn parsed<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        parse(&self.value(key).unwrap_or_default()).map_err(|reason| self.invalid(key, reason))
    }

    /// Any integer-typed config as i64. Values were validated, so a failure
    /// here means a key without a default was read as if it had one.
    fn long(&self, key: &str) -> Result<i64, ConfigError> {
        self.parsed(key, |v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| "Not a number".to_string())
        })
    }

    fn int(&self, key: &str) -> Result<i32, ConfigError> {
        let n = self.long(key)?;
        i32::try_from(n).map_err(|_| self.invalid(key, "Not a number of type INT".to_string()))
    }

    fn short(&self, key: &str) -> Result<i16, ConfigError> {
        let n = self.long(key)?;
        i16::try_from(n)
            .map_err(|_| self.invalid(key, "Value must be between -32768 and 32767".to_string()))
    }

    /// A non-negative integer config as an unsigned Rust type.
    fn unsigned<T: TryFrom<i64>>(&self, key: &str) -> Result<T, ConfigError> {
        let n = self.long(key)?;
        T::try_from(n).map_err(|_| self.invalid(key, "Value must not be negative".to_string()))
    }

    fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        self.parsed(key, |v| {
            configs::parse_bool(v).ok_or_else(|| "Expected true or false".to_string())
        })
    }

    fn string(&self, key: &str) -> String {
        self.value(key).unwrap_or_default().trim().to_string()
    }

    fn list(&self, key: &str) -> Vec<String> {
        configs::parse_list(&self.value(key).unwrap_or_default())
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// The effective broker default of a topic config, as i64.
    fn topic_long(&self, topic_key: &str) -> Result<i64, ConfigError> {
        let (v, key) = topic_default_with(topic_key, |k| self.value(k))
            .ok_or_else(|| self.invalid(topic_key, "no default".to_string()))?;
        v.parse()
            .map_err(|_| self.invalid(key.unwrap_or(topic_key), "Not a number".to_string()))
    }
}

/// Validates every explicit key against its definition and drops, with a
/// warning, keys that are unknown or no longer used.
fn check_keys(layered: Layered, warnings: &mut Vec<String>) -> Result<Layered, ConfigError> {
    let mut out = Layered::new();
    for (key, (value, origin)) in layered {
        let def: Option<&ConfigDef> = match sources::classify(&key) {
            KeyKind::Known(def) => Some(def),
            KeyKind::PerListener(def) => def,
            KeyKind::Removed(reason) => {
                warnings.push(format!(
                    "configuration {key} ({origin}) is ignored: {reason}"
                ));
                continue;
            }
            KeyKind::Unknown if key.is_empty() => {
                warnings.push(format!("an entry with an empty name ({origin}) is ignored"));
                continue;
            }
            KeyKind::Unknown => {
                warnings.push(format!("unknown configuration {key} ({origin}) is ignored"));
                continue;
            }
        };
        if let Some(def) = def {
            configs::validate(def, &value).map_err(|error| ConfigError::Invalid {
                error: hide_secret(def, &key, error),
                origin: origin.clone(),
            })?;
        }
        // Kafka trims every value when parsing it.
        out.insert(key, (value.trim().to_string(), origin));
    }
    Ok(out)
}

/// Keeps passwords out of error messages (and so out of logs).
fn hide_secret(def: &ConfigDef, key: &str, error: configs::ConfigError) -> configs::ConfigError {
    if !def.sensitive {
        return error;
    }
    let configs::ConfigError::InvalidValue { reason, .. } = error;
    configs::ConfigError::invalid(key, "[hidden]", reason)
}

/// Says which explicitly set keys lose to a higher-precedence synonym, since
/// Kafka silently ignores them and that surprises people.
fn warn_shadowed(r: &Resolver, warnings: &mut Vec<String>) {
    if r.explicit("log.dirs").is_some() && r.explicit("log.dir").is_some() {
        warnings.push(format!(
            "log.dir ({}) is ignored because log.dirs is set",
            r.origin("log.dir")
        ));
    }
    for t in configs::topic_configs() {
        let set: Vec<&str> = t
            .synonyms
            .iter()
            .map(|s| s.name)
            .filter(|n| r.explicit(n).is_some())
            .collect();
        if let Some((winner, losers)) = set.split_first() {
            for loser in losers {
                warnings.push(format!(
                    "{loser} ({}) is ignored because {winner} is set",
                    r.origin(loser)
                ));
            }
        }
    }
}

/// Broker synonyms have looser validators than the topic configs they feed
/// (log.roll.ms accepts 0, segment.ms does not), so Kafka checks the derived
/// topic defaults at start-up; so do we.
fn check_topic_defaults(r: &Resolver) -> Result<(), ConfigError> {
    for t in configs::topic_configs() {
        let Some((value, Some(key))) = topic_default_with(t.def.name, |k| r.value(k)) else {
            continue;
        };
        if r.explicit(key).is_none() {
            continue;
        }
        if let Err(configs::ConfigError::InvalidValue { reason, .. }) =
            configs::validate(&t.def, &value)
        {
            return Err(r.invalid(
                key,
                format!(
                    "as the default of topic config {} it is invalid: {reason}",
                    t.def.name
                ),
            ));
        }
    }
    Ok(())
}

/// Relations between keys that Kafka enforces at start-up: `(a, b)` means
/// `a` must be at least `b`.
fn check_relations(r: &Resolver) -> Result<(), ConfigError> {
    const AT_LEAST: &[(&str, &str)] = &[
        (
            "log.cleaner.max.compaction.lag.ms",
            "log.cleaner.min.compaction.lag.ms",
        ),
        (
            "group.consumer.max.heartbeat.interval.ms",
            "group.consumer.min.heartbeat.interval.ms",
        ),
        (
            "group.consumer.heartbeat.interval.ms",
            "group.consumer.min.heartbeat.interval.ms",
        ),
        (
            "group.consumer.max.heartbeat.interval.ms",
            "group.consumer.heartbeat.interval.ms",
        ),
        (
            "group.consumer.max.session.timeout.ms",
            "group.consumer.min.session.timeout.ms",
        ),
        (
            "group.consumer.session.timeout.ms",
            "group.consumer.min.session.timeout.ms",
        ),
        (
            "group.consumer.max.session.timeout.ms",
            "group.consumer.session.timeout.ms",
        ),
    ];
    for (a, b) in AT_LEAST {
        let (va, vb) = (r.long(a)?, r.long(b)?);
        if va < vb {
            // Blame whichever of the two was set explicitly.
            let key = if r.explicit(a).is_some() { a } else { b };
            return Err(r.invalid(
                key,
                format!("{a} ({va}) must be greater than or equal to {b} ({vb})"),
            ));
        }
    }
    let (hb, session) = (
        "group.consumer.heartbeat.interval.ms",
        "group.consumer.session.timeout.ms",
    );
    if r.long(hb)? >= r.long(session)? {
        let key = if r.explicit(hb).is_some() {
            hb
        } else {
            session
        };
        return Err(r.invalid(key, format!("{hb} must be less than {session}")));
    }
    Ok(())
}

fn build(r: Resolver) -> Result<BrokerConfig, ConfigError> {
    let process_roles = roles(&r)?;
    let l = listeners::resolve(&r, &process_roles)?;
    let idle_ms = r.long("connections.max.idle.ms")?;
    let replication_factor = r.short("default.replication.factor")?;
    if replication_factor < 1 {
        return Err(r.invalid(
            "default.replication.factor",
            "Value must be at least 1".to_string(),
        ));
    }
    Ok(BrokerConfig {
        node_id: node_id(&r)?,
        process_roles,
        listeners: l.listeners,
        advertised_listeners: l.advertised,
        controller_listener_names: l.controller_names,
        inter_broker_listener_name: l.inter_broker_name,
        controller_quorum_voters: r.parsed("controller.quorum.voters", configs::parse_voters)?,
        log_dirs: log_dirs(&r)?,
        metadata_log_dir: r.value("metadata.log.dir").map(PathBuf::from),
        num_partitions: r.int("num.partitions")?,
        default_replication_factor: replication_factor,
        auto_create_topics_enable: r.bool("auto.create.topics.enable")?,
        delete_topic_enable: r.bool("delete.topic.enable")?,
        log_segment_bytes: r.unsigned("log.segment.bytes")?,
        log_roll_ms: r.topic_long("segment.ms")?,
        log_roll_jitter_ms: r.topic_long("segment.jitter.ms")?,
        log_index_interval_bytes: r.unsigned("log.index.interval.bytes")?,
        log_index_size_max_bytes: r.unsigned("log.index.size.max.bytes")?,
        log_flush_interval_messages: r.unsigned("log.flush.interval.messages")?,
        log_flush_interval_ms: r.topic_long("flush.ms")?,
        log_flush_scheduler_interval_ms: r.long("log.flush.scheduler.interval.ms")?,
        log_retention_ms: r.topic_long("retention.ms")?,
        log_retention_bytes: r.long("log.retention.bytes")?,
        log_retention_check_interval_ms: r.long("log.retention.check.interval.ms")?,
        log_cleanup_policy: r.list("log.cleanup.policy"),
        log_cleaner_enable: r.bool("log.cleaner.enable")?,
        log_message_timestamp_type: r.string("log.message.timestamp.type"),
        log_message_timestamp_before_max_ms: r.long("log.message.timestamp.before.max.ms")?,
        log_message_timestamp_after_max_ms: r.long("log.message.timestamp.after.max.ms")?,
        message_max_bytes: r.unsigned("message.max.bytes")?,
        compression_type: r.string("compression.type"),
        min_insync_replicas: r.int("min.insync.replicas")?,
        unclean_leader_election_enable: r.bool("unclean.leader.election.enable")?,
        socket_request_max_bytes: r.unsigned("socket.request.max.bytes")?,
        socket_send_buffer_bytes: r.int("socket.send.buffer.bytes")?,
        socket_receive_buffer_bytes: r.int("socket.receive.buffer.bytes")?,
        connections_max_idle_ms: u64::try_from(idle_ms).unwrap_or(i64::MAX as u64),
        num_network_threads: r.unsigned("num.network.threads")?,
        num_io_threads: r.unsigned("num.io.threads")?,
        num_recovery_threads_per_data_dir: r.unsigned("num.recovery.threads.per.data.dir")?,
        queued_max_requests: r.unsigned("queued.max.requests")?,
        fetch_max_bytes: r.unsigned("fetch.max.bytes")?,
        replica_lag_time_max_ms: r.long("replica.lag.time.max.ms")?,
        offsets_topic_num_partitions: r.int("offsets.topic.num.partitions")?,
        offsets_topic_replication_factor: r.short("offsets.topic.replication.factor")?,
        offsets_topic_segment_bytes: r.unsigned("offsets.topic.segment.bytes")?,
        offsets_retention_ms: r.long("offsets.retention.minutes")?.saturating_mul(60_000),
        offsets_retention_check_interval_ms: r.long("offsets.retention.check.interval.ms")?,
        offset_metadata_max_bytes: r.int("offset.metadata.max.bytes")?,
        transaction_state_log_num_partitions: r.int("transaction.state.log.num.partitions")?,
        transaction_state_log_replication_factor: r
            .short("transaction.state.log.replication.factor")?,
        transaction_state_log_min_isr: r.int("transaction.state.log.min.isr")?,
        transaction_state_log_segment_bytes: r.unsigned("transaction.state.log.segment.bytes")?,
        transaction_max_timeout_ms: r.int("transaction.max.timeout.ms")?,
        transactional_id_expiration_ms: r.int("transactional.id.expiration.ms")?,
        producer_id_expiration_ms: r.int("producer.id.expiration.ms")?,
        group_coordinator_rebalance_protocols: r.list("group.coordinator.rebalance.protocols"),
        group_initial_rebalance_delay_ms: r.int("group.initial.rebalance.delay.ms")?,
        group_min_session_timeout_ms: r.int("group.min.session.timeout.ms")?,
        group_max_session_timeout_ms: r.int("group.max.session.timeout.ms")?,
        group_max_size: r.int("group.max.size")?,
        group_consumer_session_timeout_ms: r.int("group.consumer.session.timeout.ms")?,
        group_consumer_min_session_timeout_ms: r.int("group.consumer.min.session.timeout.ms")?,
        group_consumer_max_session_timeout_ms: r.int("group.consumer.max.session.timeout.ms")?,
        group_consumer_heartbeat_interval_ms: r.int("group.consumer.heartbeat.interval.ms")?,
        group_consumer_min_heartbeat_interval_ms: r
            .int("group.consumer.min.heartbeat.interval.ms")?,
        group_consumer_max_heartbeat_interval_ms: r
            .int("group.consumer.max.heartbeat.interval.ms")?,
        explicit: Explicit(r.values.into_iter().map(|(k, (v, _))| (k, v)).collect()),
    })
}

/// node.id, or broker.id when only that is set (older files); if both are
/// set they must agree, as in Kafka.
fn node_id(r: &Resolver) -> Result<i32, ConfigError> {
    let broker_id = match r.explicit("broker.id") {
        Some(_) => Some(r.int("broker.id")?).filter(|id| *id >= 0),
        None => None,
    };
    match (r.explicit("node.id"), broker_id) {
        (None, Some(id)) => Ok(id),
        (Some(_), Some(id)) => {
            let node_id = r.int("node.id")?;
            if id == node_id {
                Ok(node_id)
            } else {
                Err(r.invalid(
                    "broker.id",
                    format!("must be equal to node.id ({node_id}) when both are set"),
                ))
            }
        }
        (_, None) => r.int("node.id"),
    }
}

fn roles(r: &Resolver) -> Result<Vec<String>, ConfigError> {
    let roles = r.list("process.roles");
    if roles.is_empty() {
        return Err(r.invalid(
            "process.roles",
            "at least one of broker, controller is required".to_string(),
        ));
    }
    for (i, role) in roles.iter().enumerate() {
        if roles[..i].contains(role) {
            return Err(r.invalid("process.roles", format!("{role} is listed more than once")));
        }
    }
    Ok(roles)
}

/// log.dirs when set, else log.dir; non-empty and without repeats.
fn log_dirs(r: &Resolver) -> Result<Vec<PathBuf>, ConfigError> {
    let key = if r.explicit("log.dirs").is_some() {
        "log.dirs"
    } else {
        "log.dir"
    };
    let dirs = r.list(key);
    if dirs.is_empty() || dirs.iter().any(String::is_empty) {
        return Err(r.invalid(key, "directory names must not be empty".to_string()));
    }
    for (i, d) in dirs.iter().enumerate() {
        if dirs[..i].contains(d) {
            return Err(r.invalid(key, format!("{d} is listed more than once")));
        }
    }
    Ok(dirs.into_iter().map(PathBuf::from).collect())
}
