//! AddOffsetsToTxn: a transactional producer is about to commit a consumer
//! group's offsets in its transaction, so the group's `__consumer_offsets`
//! partition joins the transaction and gets its marker at the end.

use std::sync::Arc;

use gregor_coordinator::txn::TxnApi;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, ApiKey,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::warn;

use super::find_coordinator::ensure_offsets_topic;
use super::{ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::AddOffsetsToTxn, 0, 4);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let answer = |code: i16| AddOffsetsToTxnResponse::default().with_error_code(code);
    let id = req.transactional_id.to_string();
    if !broker.authorize(ctx, AclOperation::Write, ResourceType::TransactionalId, &id) {
        return answer(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &req.group_id) {
        return answer(ResponseError::GroupAuthorizationFailed.code());
    }
    if let Err(e) = ensure_offsets_topic(broker) {
        warn!(error = %e.message, "cannot create the offsets topic");
        return answer(ResponseError::CoordinatorNotAvailable.code());
    }
    let offsets_partitions = broker.groups.partitions();
    let result = tokio::task::block_in_place(|| {
        broker.txn_write(&id, |shard, now| {
            shard.add_offsets(
                &id,
                req.producer_id.0,
                req.producer_epoch,
                &req.group_id,
                offsets_partitions,
                now,
            )
        })
    });
    match result {
        Ok(Ok(())) => answer(0),
        Ok(Err(e)) => answer(e.code_for(TxnApi::AddOffsetsToTxn, ctx.api_version)),
        Err(e) => answer(e.code().code()),
    }
}
