//! CreateTopics, with validate_only and per-topic configs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use gregor_metadata::controller::{self, NewTopic};
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::create_topics_request::CreatableTopic;
use gregor_protocol::kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::describe_configs::describe_topic;
use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::CreateTopics, 2, 7);

/// Responses list the created topic's configs from v5 on.
const CONFIGS_MIN_VERSION: i16 = 5;

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let version = ctx.api_version;
    // CREATE on the cluster covers every topic; else each topic needs its own.
    let cluster_create = broker.authorize(
        ctx,
        AclOperation::Create,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in &req.topics {
        *seen.entry(t.name.to_string()).or_default() += 1;
    }
    let results = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.to_string();
            let result = if seen[&name] > 1 {
                Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    "Duplicate topic name.",
                ))
            } else if !cluster_create
                && !broker.authorize(ctx, AclOperation::Create, ResourceType::Topic, &name)
            {
                Err(ApiError::new(
                    ResponseError::TopicAuthorizationFailed,
                    "Authorization failed.",
                ))
            } else {
                create(broker, t, req.validate_only)
            };
            result_entry(broker, t, result, version)
        })
        .collect();
    CreateTopicsResponse::default().with_topics(results)
}

/// What a successful creation reports: id, partitions, replication factor.
type Created = (uuid::Uuid, i32, i16);

fn create(broker: &Broker, t: &CreatableTopic, validate_only: bool) -> Result<Created, ApiError> {
    let req = NewTopic {
        name: t.name.to_string(),
        num_partitions: t.num_partitions,
        replication_factor: t.replication_factor,
        assignments: t
            .assignments
            .iter()
            .map(|a| {
                (
                    a.partition_index,
                    a.broker_ids.iter().map(|b| b.0).collect(),
                )
            })
            .collect(),
        configs: t
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect(),
    };
    let ctx = broker.cluster_context();
    if validate_only {
        let image = broker.metadata.image();
        let c = controller::create_topic(&image, &ctx, &req)?;
        return Ok((uuid::Uuid::nil(), c.num_partitions, c.replication_factor));
    }
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            controller::create_topic(image, &ctx, &req).map(|c| {
                let out = (c.topic_id, c.num_partitions, c.replication_factor);
                (c.records, out)
            })
        })
    });
    match result {
        Ok(Ok(created)) => {
            info!(topic = %req.name, partitions = created.1, "created topic");
            Ok(created)
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}

fn result_entry(
    broker: &Broker,
    t: &CreatableTopic,
    result: Result<Created, ApiError>,
    version: i16,
) -> CreatableTopicResult {
    let entry = CreatableTopicResult::default().with_name(t.name.clone());
    match result {
        Ok((topic_id, partitions, rf)) => {
            let entry = entry.with_topic_id(if version >= 7 {
                topic_id
            } else {
                uuid::Uuid::nil()
            });
            if version < CONFIGS_MIN_VERSION {
                return entry;
            }
            let entry = entry
                .with_num_partitions(partitions)
                .with_replication_factor(rf);
            let overrides: BTreeMap<String, String> = t
                .configs
                .iter()
                .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
                .collect();
            let configs = describe_topic(&broker.config, &overrides)
                .into_iter()
                .map(|d| {
                    CreatableTopicConfigs::default()
                        .with_name(text(d.name))
                        .with_value(if d.sensitive {
                            None
                        } else {
                            d.value.as_deref().map(text)
                        })
                        .with_read_only(d.read_only)
                        .with_config_source(d.source)
                        .with_is_sensitive(d.sensitive)
                })
                .collect();
            entry.with_configs(Some(configs))
        }
        Err(e) => entry
            .with_error_code(e.code.code())
            .with_error_message(Some(text(&e.message)))
            .with_num_partitions(-1)
            .with_replication_factor(-1),
    }
}
