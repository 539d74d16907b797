//! DescribeConfigs: topic and broker configs with their value, source,
//! synonyms and documentation, as Kafka answers (`ConfigHelper`).
//!
//! Synonyms are listed as Kafka does: the topic override first (topics
//! only), then for each source in precedence order (dynamic broker, dynamic
//! cluster default, static broker, default) every broker synonym that has a
//! value there, and the list starts at the config's own broker key; the
//! first entry is the reported source.

use std::collections::BTreeMap;
use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::configs::{self, ConfigDef, ConfigSource, DynamicScope};
use gregor_protocol::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use gregor_protocol::kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeConfigsRequest, DescribeConfigsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::topic_config;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeConfigs, 1, 4);

/// Resource type codes of the admin protocol.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_GROUP: i8 = 32;

/// One described config, before it is cut to what the request version carries.
#[derive(Debug, Clone)]
pub struct Described {
    pub name: &'static str,
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
    pub synonyms: Vec<(String, Option<String>, i8)>,
    pub def: &'static ConfigDef,
}

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let version = ctx.api_version;
    let results = req
        .resources
        .iter()
        .map(|r| {
            let op = AclOperation::DescribeConfigs;
            if let Some(e) =
                broker.config_resource_denied(ctx, r.resource_type, &r.resource_name, op)
            {
                return DescribeConfigsResult::default()
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name.clone())
                    .with_error_code(e.code.code())
                    .with_error_message(Some(text(&e.message)));
            }
            describe_resource(
                broker,
                r,
                req.include_synonyms,
                req.include_documentation && version >= 3,
                version,
            )
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn describe_resource(
    broker: &Broker,
    r: &DescribeConfigsResource,
    synonyms: bool,
    documentation: bool,
    version: i16,
) -> DescribeConfigsResult {
    let result = DescribeConfigsResult::default()
        .with_resource_type(r.resource_type)
        .with_resource_name(r.resource_name.clone());
    let described = match describe(broker, r.resource_type, r.resource_name.as_str()) {
        Ok(d) => d,
        Err((code, message)) => {
            return result
                .with_error_code(code.code())
                .with_error_message(Some(text(&message)))
        }
    };
    let wanted = |name: &str| {
        r.configuration_keys
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
    };
    let configs = described
        .into_iter()
        .filter(|d| wanted(d.name))
        .map(|d| entry(d, synonyms, documentation, version))
        .collect();
    result.with_configs(configs)
}

/// The configs of one resource, or the error Kafka gives for it.
fn describe(
    broker: &Broker,
    resource_type: i8,
    name: &str,
) -> Result<Vec<Described>, (ResponseError, String)> {
    let node_id = broker.node_id();
    let broker_id = || match name.parse::<i32>() {
        Ok(id) => Ok(id),
        Err(_) => Err((
            ResponseError::InvalidRequest,
            format!("Broker id must be an integer, but it is: {name}"),
        )),
    };
    match resource_type {
        RESOURCE_TOPIC => match broker.metadata.image().topic(name) {
            Some(t) => Ok(describe_topic(&broker.config, &t.configs)),
            None => Err((
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {name} does not exist"),
            )),
        },
        RESOURCE_BROKER if name.is_empty() => Ok(describe_cluster_default(&broker.config)),
        RESOURCE_BROKER if broker_id()? == node_id => Ok(describe_broker(&broker.config)),
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest,
            format!(
                "Unexpected broker id, expected {node_id} or empty string, but received {name}"
            ),
        )),
        // Log levels are not adjustable at run time: the logger list is empty.
        RESOURCE_BROKER_LOGGER if broker_id()? == node_id => Ok(Vec::new()),
        RESOURCE_BROKER_LOGGER => Err((
            ResponseError::InvalidRequest,
            format!("Unexpected broker id, expected {node_id} but received {name}"),
        )),
        RESOURCE_GROUP => Ok(describe_group(
            &broker.config,
            broker.metadata.image().group_configs(name),
        )),
        other => Err((
            ResponseError::InvalidRequest,
            format!("Unsupported resource type {other}"),
        )),
    }
}

fn entry(
    d: Described,
    synonyms: bool,
    documentation: bool,
    version: i16,
) -> DescribeConfigsResourceResult {
    let hide = |v: Option<String>| if d.sensitive { None } else { v };
    let synonyms = if synonyms {
        d.synonyms
            .into_iter()
            .map(|(name, value, source)| {
                DescribeConfigsSynonym::default()
                    .with_name(text(&name))
                    .with_value(hide(value).map(|v| text(&v)))
                    .with_source(source)
            })
            .collect()
    } else {
        Vec::new()
    };
    DescribeConfigsResourceResult::default()
        .with_name(text(d.name))
        .with_value(hide(d.value).map(|v| text(&v)))
        .with_read_only(d.read_only)
        .with_config_source(d.source)
        .with_is_sensitive(d.sensitive)
        .with_synonyms(synonyms)
        .with_config_type(if version >= 3 { d.def.ty.code() } else { 0 })
        .with_documentation(documentation.then(|| text(d.def.doc)))
}

/// Every topic config of a topic with these overrides.
pub fn describe_topic(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<Described> {
    configs::topic_configs()
        .iter()
        .map(|t| {
            let value = topic_config::effective(broker, overrides, t.def.name).map(|(v, _)| v);
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(t.def.name) {
                let source = ConfigSource::DynamicTopic.code();
                synonyms.push((t.def.name.to_string(), Some(v.clone()), source));
            }
            if let Some(primary) = t.broker_synonym {
                synonyms.extend(broker_synonyms(broker, primary));
            }
            Described {
                name: t.def.name,
                value,
                source: first_source(&synonyms),
                read_only: false,
                sensitive: t.def.sensitive,
                synonyms,
                def: &t.def,
            }
        })
        .collect()
}

/// Every broker config of this broker with its effective value.
pub fn describe_broker(broker: &BrokerConfig) -> Vec<Described> {
    configs::broker_configs()
        .iter()
        .map(|def| {
            let synonyms = broker_synonyms(broker, def.name);
            Described {
                name: def.name,
                value: broker.value(def.name),
                source: first_source(&synonyms),
                read_only: def.dynamic == DynamicScope::ReadOnly,
                sensitive: def.sensitive,
                synonyms,
                def,
            }
        })
        .collect()
}

/// The cluster-wide dynamic defaults (resource name `""`): only the keys
/// set there, with only the dynamic-default synonyms, as Kafka.
pub fn describe_cluster_default(broker: &BrokerConfig) -> Vec<Described> {
    let defaults = broker.dynamic().cluster_default;
    configs::broker_configs()
        .iter()
        .filter_map(|def| {
            let value = defaults.get(def.name)?.clone();
            let wanted = ConfigSource::DynamicDefaultBroker.code();
            let synonyms: Vec<_> = broker_synonyms(broker, def.name)
                .into_iter()
                .filter(|s| s.2 == wanted)
                .collect();
            Some(Described {
                name: def.name,
                value: Some(value),
                source: first_source(&synonyms),
                read_only: def.dynamic == DynamicScope::ReadOnly,
                sensitive: def.sensitive,
                synonyms,
                def,
            })
        })
        .collect()
}

/// Every group config of a group (which need not exist): its override,
/// else the broker's `group.<key>` setting, else the default.
pub fn describe_group(
    broker: &BrokerConfig,
    overrides: Option<&BTreeMap<String, String>>,
) -> Vec<Described> {
    configs::group_configs()
        .iter()
        .map(|def| {
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.and_then(|o| o.get(def.name)) {
                synonyms.push((
                    def.name.to_string(),
                    Some(v.clone()),
                    ConfigSource::Group.code(),
                ));
            }
            let broker_key = format!("group.{}", def.name);
            let default = match configs::broker_config(&broker_key) {
                Some(_) => broker.value(&broker_key),
                None => def.default.map(str::to_string),
            };
            synonyms.push((def.name.to_string(), default, ConfigSource::Default.code()));
            Described {
                name: def.name,
                value: synonyms[0].1.clone(),
                source: first_source(&synonyms),
                read_only: false,
                sensitive: false,
                synonyms,
                def,
            }
        })
        .collect()
}

fn first_source(synonyms: &[(String, Option<String>, i8)]) -> i8 {
    synonyms
        .first()
        .map_or(ConfigSource::Default.code(), |s| s.2)
}

/// Kafka's `configSynonyms`: for each source in precedence order, each key
/// of `key`'s synonym group that has a value there; then everything before
/// the first entry for `key` itself is dropped.
fn broker_synonyms(broker: &BrokerConfig, key: &str) -> Vec<(String, Option<String>, i8)> {
    let group = synonym_group(key);
    let dynamic = broker.dynamic();
    let lookup = |source: ConfigSource, k: &str| match source {
        ConfigSource::DynamicBroker => dynamic.per_broker.get(k).cloned(),
        ConfigSource::DynamicDefaultBroker => dynamic.cluster_default.get(k).cloned(),
        ConfigSource::StaticBroker => broker.explicit().get(k).cloned(),
        _ => configs::broker_config(k)
            .and_then(|d| d.default)
            .map(str::to_string),
    };
    let mut all = Vec::new();
    for source in [
        ConfigSource::DynamicBroker,
        ConfigSource::DynamicDefaultBroker,
        ConfigSource::StaticBroker,
        ConfigSource::Default,
    ] {
        for k in &group {
            if let Some(v) = lookup(source, k) {
                all.push((k.to_string(), Some(v), source.code()));
            }
        }
    }
    let first = all.iter().position(|s| s.0 == key).unwrap_or(all.len());
    all.split_off(first)
}

/// The broker keys that are one setting in different units (Kafka's
/// `brokerConfigSynonyms`): `log.retention.{ms,minutes,hours}` and the
/// like, highest precedence first; a key without synonyms stands alone.
fn synonym_group(key: &str) -> Vec<&str> {
    configs::topic_configs()
        .iter()
        .map(|t| t.synonyms)
        .find(|s| s.len() > 1 && s.iter().any(|s| s.name == key))
        .map(|s| s.iter().map(|s| s.name).collect())
        .unwrap_or_else(|| vec![key])
}

/// A described config as a client sees it, for tests.
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct DescribedConfig {
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
    pub synonyms: Vec<(String, Option<String>, i8)>,
    pub documentation: Option<String>,
}

#[cfg(test)]
impl From<&DescribeConfigsResourceResult> for DescribedConfig {
    fn from(r: &DescribeConfigsResourceResult) -> DescribedConfig {
        DescribedConfig {
            value: r.value.as_ref().map(|v| v.to_string()),
            source: r.config_source,
            read_only: r.read_only,
            sensitive: r.is_sensitive,
            synonyms: r
                .synonyms
                .iter()
                .map(|s| {
                    (
                        s.name.to_string(),
                        s.value.as_ref().map(|v| v.to_string()),
                        s.source,
                    )
                })
                .collect(),
            documentation: r.documentation.as_ref().map(|d| d.to_string()),
        }
    }
}
