//! DescribeConfigs: every topic and broker config with its value, source,
//! synonyms and documentation, as Kafka answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::configs::{self, ConfigDef, DynamicScope};
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
use crate::config::{BrokerConfig, ConfigSource};
use crate::topic_config::{self, TopicValueSource};

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeConfigs, 1, 4);

/// Resource type codes of the admin protocol.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Config source codes of DescribeConfigs (Kafka's `ConfigSource`).
pub const SOURCE_TOPIC: i8 = 1;
pub const SOURCE_STATIC_BROKER: i8 = 4;
pub const SOURCE_DEFAULT: i8 = 5;

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
                    .with_error_message(Some(super::text(&e.message)));
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
    let described = match r.resource_type {
        RESOURCE_TOPIC => match broker.metadata.image().topic(r.resource_name.as_str()) {
            Some(t) => Ok(describe_topic(&broker.config, &t.configs)),
            None => Err((
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {} does not exist", r.resource_name),
            )),
        },
        RESOURCE_BROKER => {
            let name = r.resource_name.as_str();
            if name.is_empty() || name == broker.node_id().to_string() {
                Ok(describe_broker(&broker.config))
            } else {
                Err((
                    ResponseError::InvalidRequest,
                    format!(
                        "Unexpected broker id, expected {} or empty string, but received {name}",
                        broker.node_id()
                    ),
                ))
            }
        }
        // No run-time log levels are exposed yet: the logger list is empty.
        RESOURCE_BROKER_LOGGER => Ok(Vec::new()),
        other => Err((
            ResponseError::InvalidRequest,
            format!("Unsupported resource type {other}"),
        )),
    };
    let described = match described {
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

/// Every topic config of a topic with these overrides, with Kafka's synonym chain:
/// the topic override, then each broker key set explicitly, then the default.
pub fn describe_topic(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<Described> {
    configs::topic_configs()
        .iter()
        .map(|t| {
            let (value, source) = match topic_config::effective(broker, overrides, t.def.name) {
                Some((v, TopicValueSource::TopicOverride)) => (Some(v), SOURCE_TOPIC),
                Some((v, TopicValueSource::Broker { explicit: true, .. })) => {
                    (Some(v), SOURCE_STATIC_BROKER)
                }
                Some((v, _)) => (Some(v), SOURCE_DEFAULT),
                None => (None, SOURCE_DEFAULT),
            };
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(t.def.name) {
                synonyms.push((t.def.name.to_string(), Some(v.clone()), SOURCE_TOPIC));
            }
            for key in configs::topic_synonyms(t.def.name) {
                if let Some(v) = broker.explicit().get(key) {
                    synonyms.push((key.to_string(), Some(v.clone()), SOURCE_STATIC_BROKER));
                }
            }
            let default_name = configs::topic_synonyms(t.def.name)
                .first()
                .copied()
                .unwrap_or(t.def.name);
            let default_value = configs::broker_config(default_name)
                .and_then(|d| d.default)
                .or(t.def.default);
            synonyms.push((
                default_name.to_string(),
                default_value.map(str::to_string),
                SOURCE_DEFAULT,
            ));
            Described {
                name: t.def.name,
                value,
                source,
                read_only: false,
                sensitive: t.def.sensitive,
                synonyms,
                def: &t.def,
            }
        })
        .collect()
}

/// Every broker config with its effective value.
pub fn describe_broker(broker: &BrokerConfig) -> Vec<Described> {
    configs::broker_configs()
        .iter()
        .map(|def| {
            let source = match broker.source(def.name) {
                ConfigSource::StaticBroker => SOURCE_STATIC_BROKER,
                _ => SOURCE_DEFAULT,
            };
            let value = broker.value(def.name);
            Described {
                name: def.name,
                synonyms: vec![(def.name.to_string(), value.clone(), source)],
                value,
                source,
                read_only: matches!(def.dynamic, DynamicScope::ReadOnly),
                sensitive: def.sensitive,
                def,
            }
        })
        .collect()
}
