//! CreatePartitions: grow a topic's partition count.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::controller;
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use gregor_protocol::kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::quota::MutationQuota;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::CreatePartitions, 0, 3);

/// From this version on the controller mutation quota refuses (KIP-599).
const MUTATION_QUOTA_STRICT_VERSION: i16 = 3;

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut counts = std::collections::HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.to_string()).or_insert(0) += 1;
    }
    let mut quota = MutationQuota::new(broker, ctx, MUTATION_QUOTA_STRICT_VERSION);
    let results = req
        .topics
        .iter()
        .map(|t| {
            let outcome = if counts[&t.name.to_string()] > 1 {
                Err(ApiError::new(
                    ResponseError::InvalidRequest,
                    "Duplicate topic in request.",
                ))
            } else if !broker.authorize(ctx, AclOperation::Alter, ResourceType::Topic, &t.name) {
                Err(ApiError::new(
                    ResponseError::TopicAuthorizationFailed,
                    "Authorization failed.",
                ))
            } else {
                grow(broker, t, req.validate_only, &mut quota)
            };
            let entry = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            match outcome {
                Ok(()) => entry,
                Err(e) => entry
                    .with_error_code(e.code.code())
                    .with_error_message(Some(text(&e.message))),
            }
        })
        .collect();
    CreatePartitionsResponse::default()
        .with_results(results)
        .with_throttle_time_ms(quota.throttle_time_ms())
}

fn grow(
    broker: &Broker,
    t: &CreatePartitionsTopic,
    validate_only: bool,
    quota: &mut MutationQuota<'_>,
) -> Result<(), ApiError> {
    let ctx = broker.cluster_context();
    let name = t.name.to_string();
    let assignments: Option<Vec<Vec<i32>>> = t.assignments.as_ref().map(|a| {
        a.iter()
            .map(|x| x.broker_ids.iter().map(|b| b.0).collect())
            .collect()
    });
    // As Kafka's controller: the added partitions count against the
    // client's controller mutation quota once the request is valid.
    let mut decide = |image: &gregor_metadata::MetadataImage| {
        let records =
            controller::create_partitions(image, &ctx, &name, t.count, assignments.as_deref())?;
        let current = image.topic(&name).map_or(0, |topic| topic.partitions.len());
        quota.take(t.count - i32::try_from(current).unwrap_or(i32::MAX))?;
        Ok((records, ()))
    };
    if validate_only {
        return decide(&broker.metadata.image()).map(|_| ());
    }
    match tokio::task::block_in_place(|| broker.commit_metadata(decide)) {
        Ok(Ok(())) => {
            info!(topic = %name, count = t.count, "added partitions");
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}
