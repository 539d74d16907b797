//! DeleteTopics, by name or (v6+) by topic id.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::controller;
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DeleteTopicsRequest, DeleteTopicsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;
use uuid::Uuid;

use super::{text, topic_name, ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::quota::MutationQuota;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DeleteTopics, 1, 6);

/// From this version on the controller mutation quota refuses (KIP-599).
const MUTATION_QUOTA_STRICT_VERSION: i16 = 5;

/// v6 names topics by `topics` (name or id); older versions by `topic_names`.
const TOPIC_STATES_MIN_VERSION: i16 = 6;

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let version = ctx.api_version;
    let wanted: Vec<(Option<String>, Uuid)> = if version >= TOPIC_STATES_MIN_VERSION {
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| (Some(n.to_string()), Uuid::nil()))
            .collect()
    };
    let mut quota = MutationQuota::new(broker, ctx, MUTATION_QUOTA_STRICT_VERSION);
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let image = broker.metadata.image();
            let resolved = match (&name, id.is_nil()) {
                (Some(n), _) => Ok(n.clone()),
                (None, false) => image
                    .topic_by_id(&id)
                    .map(|t| t.name.clone())
                    .ok_or_else(|| {
                        ApiError::new(
                            ResponseError::UnknownTopicId,
                            "This server does not host this topic ID.",
                        )
                    }),
                (None, true) => Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    "Neither topic name nor id was given.",
                )),
            };
            let topic_id = resolved
                .as_ref()
                .ok()
                .and_then(|n| image.topic(n))
                .map_or(id, |t| t.topic_id);
            let outcome = resolved.and_then(|n| {
                if !broker.authorize(ctx, AclOperation::Delete, ResourceType::Topic, &n) {
                    return Err(ApiError::new(
                        ResponseError::TopicAuthorizationFailed,
                        "Authorization failed.",
                    ));
                }
                delete(broker, &n, &mut quota).map(|_| n)
            });
            let entry = DeletableTopicResult::default()
                .with_name(name.as_deref().map(topic_name))
                .with_topic_id(topic_id);
            match outcome {
                Ok(n) => entry.with_name(Some(topic_name(&n))),
                Err(e) => entry
                    .with_error_code(e.code.code())
                    .with_error_message(Some(text(&e.message))),
            }
        })
        .collect();
    let mut responses: Vec<DeletableTopicResult> = responses;
    for r in &mut responses {
        if version < TOPIC_STATES_MIN_VERSION {
            r.topic_id = Uuid::nil();
        }
        if version < 5 {
            r.error_message = None;
        }
    }
    DeleteTopicsResponse::default()
        .with_responses(responses)
        .with_throttle_time_ms(quota.throttle_time_ms())
}

fn delete(broker: &Broker, name: &str, quota: &mut MutationQuota<'_>) -> Result<(), ApiError> {
    if !broker.config.delete_topic_enable {
        return Err(ApiError::new(
            ResponseError::TopicDeletionDisabled,
            "Topic deletion is disabled.",
        ));
    }
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            let records = controller::delete_topic(image, name)?;
            // As Kafka's controller: the topic's partitions count against
            // the client's controller mutation quota.
            let partitions = image.topic(name).map_or(0, |t| t.partitions.len());
            quota.take(i32::try_from(partitions).unwrap_or(i32::MAX))?;
            Ok::<_, ApiError>((records, ()))
        })
    });
    match result {
        Ok(Ok(())) => {
            info!(topic = name, "deleted topic");
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}
