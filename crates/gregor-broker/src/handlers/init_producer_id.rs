//! InitProducerId: for an idempotent producer a fresh producer id, epoch 0;
//! for a transactional one, its transaction coordinator's id and epoch
//! (bumped on every call, fencing older instances; an ongoing transaction
//! is aborted first).

use std::sync::Arc;

use gregor_protocol::kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::warn;

use gregor_coordinator::txn::{TxnApi, TxnError};
use gregor_metadata::acl::{AclOperation, ResourceType};

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::InitProducerId, 0, 6);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let version = ctx.api_version;
    let failed = |code: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(code.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if let Some(id) = req.transactional_id.as_ref().map(|t| t.to_string()) {
        if !broker.authorize(ctx, AclOperation::Write, ResourceType::TransactionalId, &id) {
            return failed(ResponseError::TransactionalIdAuthorizationFailed);
        }
        let result = tokio::task::block_in_place(|| {
            broker.txn_write(&id, |shard, now| {
                let mut alloc = || {
                    broker.next_producer_id().map_err(|e| {
                        warn!(error = %e, "could not allocate a producer id");
                        TxnError::ProducerIdAllocation(ResponseError::UnknownServerError.code())
                    })
                };
                shard.init_producer_id(
                    &id,
                    req.transaction_timeout_ms,
                    req.producer_id.0,
                    req.producer_epoch,
                    now,
                    &mut alloc,
                )
            })
        });
        return match result {
            Ok(Ok(pe)) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(pe.producer_id))
                .with_producer_epoch(pe.producer_epoch),
            Ok(Err(e)) => InitProducerIdResponse::default()
                .with_error_code(e.code_for(TxnApi::InitProducerId, version))
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
            Err(e) => failed(e.code()),
        };
    }
    // An idempotent producer needs IDEMPOTENT_WRITE on the cluster or
    // WRITE on some topic (KIP-679), as Kafka checks.
    if !broker.authorize_cluster(ctx, AclOperation::IdempotentWrite)
        && !broker.authorize_by_resource_type(ctx, AclOperation::Write, ResourceType::Topic)
    {
        return failed(ResponseError::ClusterAuthorizationFailed);
    }
    // Kafka gives an idempotent producer a new id each time, even when it
    // presents its old one (KIP-360): sequences then restart at 0 cleanly.
    match tokio::task::block_in_place(|| broker.next_producer_id()) {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            warn!(error = %e, "could not allocate a producer id");
            failed(ResponseError::UnknownServerError)
        }
    }
}
