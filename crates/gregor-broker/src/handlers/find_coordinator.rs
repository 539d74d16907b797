//! FindCoordinator: which broker coordinates a group (or a transactional
//! id), one key per request before v4 and a batch of keys from v4 on.
//!
//! A group's coordinator is the leader of its `__consumer_offsets`
//! partition; the topic is created on the first lookup that needs it, as
//! Kafka does. A transactional id's coordinator is the leader of its
//! `__transaction_state` partition, created the same way.

use std::sync::Arc;

use gregor_coordinator::txn::TRANSACTION_STATE_TOPIC;
use gregor_coordinator::OFFSETS_TOPIC;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::controller::{self, NewTopic};
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::find_coordinator_response::Coordinator;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::{info, warn};

use super::{metadata, text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::FindCoordinator, 0, 6);

/// `key_type` values (Kafka's CoordinatorType).
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;
/// Batched `coordinator_keys` replace the single `key` from v4 on.
const BATCHED_MIN_VERSION: i16 = 4;

/// A coordinator lookup's answer: the error and the node (Kafka's
/// `Node.noNode()`, id -1, on error).
struct Found {
    error: Option<ResponseError>,
    node_id: i32,
    host: String,
    port: i32,
}

impl Found {
    fn error(code: ResponseError) -> Found {
        Found {
            error: Some(code),
            node_id: -1,
            host: String::new(),
            port: -1,
        }
    }

    fn code(&self) -> i16 {
        self.error.map_or(0, |e| e.code())
    }

    /// Kafka's `Errors.message()`: the enum name for NONE, else the
    /// exception's default message.
    fn message(&self) -> &'static str {
        match self.error {
            None => "NONE",
            Some(ResponseError::CoordinatorNotAvailable) => "The coordinator is not available.",
            Some(ResponseError::InvalidRequest) => {
                "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details."
            }
            Some(_) => "The server experienced an unexpected error when processing the request.",
        }
    }
}

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    if ctx.api_version >= BATCHED_MIN_VERSION {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| {
                let found = find(broker, ctx, req.key_type, key);
                Coordinator::default()
                    .with_key(key.clone())
                    .with_error_code(found.code())
                    .with_node_id(BrokerId(found.node_id))
                    .with_host(text(&found.host))
                    .with_port(found.port)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let found = find(broker, ctx, req.key_type, &req.key);
    let message = (ctx.api_version >= 1).then(|| text(found.message()));
    FindCoordinatorResponse::default()
        .with_error_code(found.code())
        .with_error_message(message.or_else(|| Some(StrBytes::default())))
        .with_node_id(BrokerId(found.node_id))
        .with_host(text(&found.host))
        .with_port(found.port)
}

fn find(broker: &Broker, ctx: &RequestContext, key_type: i8, key: &str) -> Found {
    let (topic, partition) = match key_type {
        KEY_TYPE_GROUP => {
            if !broker.authorize(ctx, AclOperation::Describe, ResourceType::Group, key) {
                return Found::error(ResponseError::GroupAuthorizationFailed);
            }
            if let Err(e) = ensure_offsets_topic(broker) {
                warn!(error = %e.message, "cannot create {OFFSETS_TOPIC}");
                return Found::error(ResponseError::CoordinatorNotAvailable);
            }
            (OFFSETS_TOPIC, broker.groups.partition_for(key))
        }
        KEY_TYPE_TRANSACTION => {
            if key.is_empty() {
                return Found::error(ResponseError::InvalidRequest);
            }
            if !broker.authorize(
                ctx,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                key,
            ) {
                return Found::error(ResponseError::TransactionalIdAuthorizationFailed);
            }
            if let Err(e) = ensure_transaction_state_topic(broker) {
                warn!(error = %e.message, "cannot create {TRANSACTION_STATE_TOPIC}");
                return Found::error(ResponseError::CoordinatorNotAvailable);
            }
            (TRANSACTION_STATE_TOPIC, broker.txns.partition_for(key))
        }
        // Share groups (2) and unknown types: Kafka rejects the request.
        _ => return Found::error(ResponseError::InvalidRequest),
    };
    let image = broker.metadata.image();
    let leader = image
        .topic(topic)
        .and_then(|t| t.partitions.get(&partition))
        .map(|p| p.leader);
    // A single node leads every partition it hosts; the leader must be us
    // and the log open for this node to coordinate the key.
    if leader != Some(broker.node_id()) || broker.replicas.get(topic, partition).is_none() {
        return Found::error(ResponseError::CoordinatorNotAvailable);
    }
    match metadata::brokers(broker, &ctx.listener).into_iter().next() {
        Some(b) => Found {
            error: None,
            node_id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
        },
        None => Found::error(ResponseError::CoordinatorNotAvailable),
    }
}

/// Creates `__transaction_state` if it does not exist yet, as Kafka does on
/// the first transaction coordinator lookup: as many partitions as the
/// transaction coordinator has shards (`transaction.state.log.num.partitions`),
/// compacted, `transaction.state.log.segment.bytes` segments.
pub fn ensure_transaction_state_topic(broker: &Broker) -> Result<(), ApiError> {
    let config = &broker.config;
    ensure_internal_topic(
        broker,
        TRANSACTION_STATE_TOPIC,
        broker.txns.partitions(),
        config.transaction_state_log_replication_factor,
        config.transaction_state_log_segment_bytes,
    )
}

/// Creates `__consumer_offsets` if it does not exist yet, with
/// `offsets.topic.num.partitions` partitions, compacted, as Kafka does on
/// the first coordinator lookup. The replication factor is
/// `offsets.topic.replication.factor` capped at the brokers there are,
/// so a single node gets a usable topic instead of no coordinator at all.
pub fn ensure_offsets_topic(broker: &Broker) -> Result<(), ApiError> {
    let config = &broker.config;
    ensure_internal_topic(
        broker,
        OFFSETS_TOPIC,
        broker.groups.partitions(),
        config.offsets_topic_replication_factor,
        config.offsets_topic_segment_bytes,
    )
}

/// Creates a compacted internal topic if it does not exist. The replication
/// factor is capped at the brokers there are, so a single node gets a
/// usable topic instead of no coordinator at all.
fn ensure_internal_topic(
    broker: &Broker,
    name: &str,
    partitions: i32,
    replication_factor: i16,
    segment_bytes: u64,
) -> Result<(), ApiError> {
    if broker.metadata.image().topic(name).is_some() {
        return Ok(());
    }
    let ctx = broker.cluster_context();
    let brokers = i16::try_from(ctx.broker_ids.len()).unwrap_or(i16::MAX);
    let req = NewTopic {
        name: name.to_string(),
        num_partitions: partitions,
        replication_factor: replication_factor.clamp(1, brokers.max(1)),
        assignments: Vec::new(),
        configs: vec![
            ("cleanup.policy".into(), Some("compact".into())),
            ("compression.type".into(), Some("producer".into())),
            ("segment.bytes".into(), Some(segment_bytes.to_string())),
        ],
    };
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            controller::create_topic(image, &ctx, &req).map(|c| (c.records, ()))
        })
    });
    match result {
        Ok(Ok(())) => {
            info!(
                topic = name,
                partitions = req.num_partitions,
                "created an internal topic"
            );
            Ok(())
        }
        Ok(Err(e)) if e.code == ResponseError::TopicAlreadyExists => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}
