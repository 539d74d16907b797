//! Metadata: brokers, cluster id, controller and topic/partition layout,
//! with automatic topic creation when `auto.create.topics.enable` allows it.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use gregor_metadata::controller::{self, NewTopic};
use gregor_metadata::{ApiError, MetadataImage, TopicImage};
use gregor_protocol::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataRequest, MetadataResponse, TopicName,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::{info, warn};
use uuid::Uuid;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::Metadata, 0, 13);

/// Kafka's value for "authorized operations were not requested".
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;
/// Topic operations a client may perform while no authorizer is configured:
/// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_OPERATIONS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Group operations likewise: READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const GROUP_OPERATIONS_ALL: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations likewise: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS_ALL: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: MetadataRequest,
) -> MetadataResponse {
    let version = ctx.api_version;
    let mut image = broker.metadata.image();
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    let mut topics = Vec::new();
    let describable =
        |name: &str| broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, name);
    if all {
        // Kafka lists only the topics the principal may describe.
        topics.extend(
            image
                .topics()
                .filter(|t| describable(&t.name))
                .map(|t| topic_response(t, req.include_topic_authorized_operations)),
        );
    } else {
        let auto_create = broker.config.auto_create_topics_enable
            && (version < 4 || req.allow_auto_topic_creation);
        for wanted in req.topics.iter().flatten() {
            let named = wanted
                .name
                .as_deref()
                .map(|n| n.as_str())
                .or_else(|| image.topic_by_id(&wanted.topic_id).map(|t| t.name.as_str()));
            if let Some(name) = named.filter(|n| !describable(n)) {
                let name = StrBytes::from_string(name.to_string());
                topics.push(error_topic(
                    Some(&name),
                    wanted.topic_id,
                    ResponseError::TopicAuthorizationFailed,
                ));
                continue;
            }
            // Auto-creation needs CREATE on the cluster or on the topic.
            let may_create = |n: &str| {
                broker.authorize(
                    ctx,
                    AclOperation::Create,
                    ResourceType::Cluster,
                    CLUSTER_NAME,
                ) || broker.authorize(ctx, AclOperation::Create, ResourceType::Topic, n)
            };
            let auto_create = auto_create
                && wanted
                    .name
                    .as_deref()
                    .is_some_and(|n| may_create(n.as_str()));
            let (entry, newer) = requested_topic(
                broker,
                &image,
                wanted.name.as_deref(),
                wanted.topic_id,
                auto_create,
                &req,
            )
            .await;
            if let Some(newer) = newer {
                image = newer;
            }
            topics.push(entry);
        }
    }
    if req.include_topic_authorized_operations {
        for t in topics.iter_mut().filter(|t| t.error_code == 0) {
            if let Some(name) = &t.name {
                t.topic_authorized_operations = broker.authorized_operations(
                    ctx,
                    ResourceType::Topic,
                    name.as_str(),
                    TOPIC_OPERATIONS_ALL,
                );
            }
        }
    }
    let mut resp = MetadataResponse::default()
        .with_brokers(brokers(broker, &ctx.listener))
        .with_cluster_id(Some(StrBytes::from_string(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_topics(topics);
    resp.cluster_authorized_operations = if req.include_cluster_authorized_operations {
        broker.authorized_operations(
            ctx,
            ResourceType::Cluster,
            CLUSTER_NAME,
            CLUSTER_OPERATIONS_ALL,
        )
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    resp
}

/// The brokers clients should talk to: this node, at the advertised
/// address of the listener the client came in on (as Kafka matches them by
/// name), or the first advertised one.
pub fn brokers(broker: &Broker, listener: &str) -> Vec<MetadataResponseBroker> {
    let advertised = &broker.config.advertised_listeners;
    advertised
        .iter()
        .find(|l| l.name == listener)
        .or_else(|| advertised.first())
        .map(|l| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(broker.node_id()))
                .with_host(StrBytes::from_string(l.host.clone()))
                .with_port(i32::from(l.port))
        })
        .into_iter()
        .collect()
}

async fn requested_topic(
    broker: &Arc<Broker>,
    image: &Arc<MetadataImage>,
    name: Option<&StrBytes>,
    topic_id: Uuid,
    auto_create: bool,
    req: &MetadataRequest,
) -> (MetadataResponseTopic, Option<Arc<MetadataImage>>) {
    let ops = req.include_topic_authorized_operations;
    let Some(name) = name else {
        return match image.topic_by_id(&topic_id) {
            Some(t) => (topic_response(t, ops), None),
            None => (
                error_topic(None, topic_id, ResponseError::UnknownTopicId),
                None,
            ),
        };
    };
    if let Some(t) = image.topic(name.as_str()) {
        return (topic_response(t, ops), None);
    }
    if let Err(e) = controller::validate_topic_name(name.as_str()) {
        return (error_topic(Some(name), Uuid::nil(), e.code), None);
    }
    if !auto_create {
        return (
            error_topic(
                Some(name),
                Uuid::nil(),
                ResponseError::UnknownTopicOrPartition,
            ),
            None,
        );
    }
    match auto_create_topic(broker, name.as_str()) {
        Ok(image) => match image.topic(name.as_str()) {
            Some(t) => (topic_response(t, ops), Some(image.clone())),
            None => (
                error_topic(Some(name), Uuid::nil(), ResponseError::LeaderNotAvailable),
                Some(image),
            ),
        },
        Err(e) => (error_topic(Some(name), Uuid::nil(), e.code), None),
    }
}

/// Creates `name` with the broker defaults, as Kafka does on a Metadata
/// request for an unknown topic. Losing a race with another creator is fine.
pub fn auto_create_topic(broker: &Broker, name: &str) -> Result<Arc<MetadataImage>, ApiError> {
    let ctx = broker.cluster_context();
    let req = NewTopic {
        name: name.to_string(),
        num_partitions: -1,
        replication_factor: -1,
        ..Default::default()
    };
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            controller::create_topic(image, &ctx, &req).map(|c| (c.records, ()))
        })
    });
    match result {
        Ok(Ok(())) => {
            info!(topic = name, "auto-created topic");
            Ok(broker.metadata.image())
        }
        Ok(Err(e)) if e.code == ResponseError::TopicAlreadyExists => Ok(broker.metadata.image()),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            warn!(topic = name, error = %e, "auto-creation failed");
            Err(ApiError::new(
                ResponseError::UnknownServerError,
                e.to_string(),
            ))
        }
    }
}

fn error_topic(
    name: Option<&StrBytes>,
    topic_id: Uuid,
    code: ResponseError,
) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name.map(|n| TopicName(n.clone())))
        .with_topic_id(topic_id)
        .with_error_code(code.code())
        .with_topic_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED)
}

pub fn topic_response(t: &TopicImage, include_ops: bool) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .values()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.partition)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|b| BrokerId(*b)).collect())
                .with_isr_nodes(p.isr.iter().map(|b| BrokerId(*b)).collect())
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(t.name.clone()))))
        .with_topic_id(t.topic_id)
        .with_is_internal(t.is_internal())
        .with_partitions(partitions)
        .with_topic_authorized_operations(if include_ops {
            TOPIC_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}
