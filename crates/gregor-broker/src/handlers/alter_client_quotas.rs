//! AlterClientQuotas: set or remove quota values per entity, validated by
//! the controller rules (`gregor_metadata::quotas`) and made durable as
//! client quota records. Each entry succeeds or fails on its own.

use std::sync::Arc;

use gregor_metadata::acl::AclOperation;
use gregor_metadata::quotas::{self, EntityPart, QuotaAlteration};
use gregor_metadata::ApiError;
use gregor_protocol::kafka_protocol::messages::alter_client_quotas_request::EntryData;
use gregor_protocol::kafka_protocol::messages::alter_client_quotas_response::{
    EntityData, EntryData as ResultEntry,
};
use gregor_protocol::kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::{text, ApiSupport, RequestContext, CLUSTER_AUTHORIZATION_FAILED};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::AlterClientQuotas, 0, 1);

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    // As Kafka: ALTER_CONFIGS on the cluster, or every entry is refused.
    let authorized = broker.authorize_cluster(ctx, AclOperation::AlterConfigs);
    let entries = req
        .entries
        .iter()
        .map(|entry| {
            let entity = entry
                .entity
                .iter()
                .map(|e| {
                    EntityData::default()
                        .with_entity_type(e.entity_type.clone())
                        .with_entity_name(e.entity_name.clone())
                })
                .collect();
            let result = ResultEntry::default().with_entity(entity);
            let outcome = if authorized {
                alter(broker, entry, req.validate_only)
            } else {
                Err(ApiError::new(
                    ResponseError::ClusterAuthorizationFailed,
                    CLUSTER_AUTHORIZATION_FAILED.to_string(),
                ))
            };
            match outcome {
                Ok(()) => result,
                Err(e) => result
                    .with_error_code(e.code.code())
                    .with_error_message(Some(text(&e.message))),
            }
        })
        .collect();
    AlterClientQuotasResponse::default().with_entries(entries)
}

fn alter(broker: &Broker, entry: &EntryData, validate_only: bool) -> Result<(), ApiError> {
    let alteration = QuotaAlteration {
        entity: entry
            .entity
            .iter()
            .map(|e| EntityPart {
                entity_type: e.entity_type.to_string(),
                entity_name: e.entity_name.as_ref().map(|n| n.to_string()),
            })
            .collect(),
        ops: entry
            .ops
            .iter()
            .map(|op| (op.key.to_string(), (!op.remove).then_some(op.value)))
            .collect(),
    };
    if validate_only {
        return quotas::alter_client_quota(&broker.metadata.image(), &alteration).map(|_| ());
    }
    let result = tokio::task::block_in_place(|| {
        broker.commit_metadata(|image| {
            quotas::alter_client_quota(image, &alteration).map(|records| (records, ()))
        })
    });
    match result {
        Ok(Ok(())) => {
            info!(entity = ?alteration.entity, ops = ?alteration.ops, "altered client quotas");
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(e) => Err(ApiError::new(
            ResponseError::UnknownServerError,
            e.to_string(),
        )),
    }
}
