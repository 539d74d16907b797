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
use crate::quota::MutationQuota;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::CreateTopics, 2, 7);

/// From this version on the controller mutation quota refuses (KIP-599).
const MUTATION_QUOTA_STRICT_VERSION: i16 = 6;

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
    let mut quota = MutationQuota::new(broker, ctx, MUTATION_QUOTA_STRICT_VERSION);
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
                create(broker, t, req.validate_only, &mut quota)
            };
            result_entry(broker, t, result, version)
        })
        .collect();
    CreateTopicsResponse::default()
        .with_topics(results)
        .with_throttle_time_ms(quota.throttle_time_ms())
}

/// What a successful creation reports: id, partitions, replication factor.
type Created = (uuid::Uuid, i32, i16);

fn create(
    broker: &Broker,
    t: &CreatableTopic,
    validate_only: bool,
    quota: &mut MutationQuota<'_>,
) -> Result<Created, ApiError> {
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
    // As Kafka's controller: a valid topic's partitions count against the
    // client's controller mutation quota, validate_only or not.
    if validate_only {
        let image = broker.metadata.image();
        let c = controller::create_topic(&image, &ctx, &req)?;
        quota.take(c.num_partitions)?;
        return Ok((uuid::Uuid::nil(), c.num_partitions, c.replication_factor));
    }
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            let c = controller::create_topic(image, &ctx, &req)?;
            quota.take(c.num_partitions)?;
            let out = (c.topic_id, c.num_partitions, c.replication_factor);
            Ok::<_, ApiError>((c.records, out))
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

#[cfg(test)]
mod mutation_quota_tests {
    //! The controller mutation quota as CreateTopics applies it: strict
    //! from v6 (THROTTLING_QUOTA_EXCEEDED), permissive before (created,
    //! with a throttle time).
    use gregor_metadata::quotas::{EntityPart, QuotaValue, CLIENT_ID, CONTROLLER_MUTATION_RATE};
    use gregor_metadata::MetadataRecord;
    use gregor_protocol::kafka_protocol::messages::TopicName;

    use super::*;
    use crate::handlers::test_support::{ctx, encodes, open_broker, s};

    fn topic(name: &str, partitions: i32) -> CreatableTopic {
        CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)
    }

    async fn create(broker: &Arc<Broker>, version: i16, name: &str, n: i32) -> (i16, i32) {
        let mut request_ctx = ctx(version);
        request_ctx.client_id = "ops".into();
        let req = CreateTopicsRequest::default().with_topics(vec![topic(name, n)]);
        let resp = handle(broker, &request_ctx, req).await;
        encodes(&resp, version);
        (resp.topics[0].error_code, resp.throttle_time_ms)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strict_from_v6_and_permissive_before() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        // 1 partition per second: 11 tokens to start.
        let record = MetadataRecord::ClientQuota {
            entity: vec![EntityPart {
                entity_type: CLIENT_ID.into(),
                entity_name: Some("ops".into()),
            }],
            key: CONTROLLER_MUTATION_RATE.into(),
            value: QuotaValue(1.0),
            remove: false,
        };
        broker
            .commit_metadata(|_| Ok::<_, std::convert::Infallible>((vec![record], ())))
            .unwrap()
            .unwrap();
        // v5, permissive: 20 partitions are created and the client is told
        // to wait until the bucket is back at zero (about 9 s).
        let (code, throttle) = create(&broker, 5, "a", 20).await;
        assert_eq!(code, 0);
        assert!((8_900..=9_000).contains(&throttle), "{throttle}");
        // v7, strict: refused while the bucket is below zero.
        let (code, throttle) = create(&broker, 7, "b", 1).await;
        assert_eq!(code, ResponseError::ThrottlingQuotaExceeded.code());
        assert!((8_900..=9_000).contains(&throttle), "{throttle}");
        assert!(broker.metadata.image().topic("b").is_none());
        // v5 still admits it.
        assert_eq!(create(&broker, 5, "b", 1).await.0, 0);
    }
}
