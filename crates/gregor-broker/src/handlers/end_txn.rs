//! EndTxn: commit or abort a producer's transaction. The coordinator
//! records the decision, writes the markers into every partition of the
//! transaction and records it complete before answering, so a commit is
//! visible to read_committed consumers once the producer hears back.

use std::sync::Arc;

use gregor_coordinator::txn::TxnApi;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{ApiKey, EndTxnRequest, EndTxnResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;

/// v5 belongs to transaction version 2 (KIP-890 part 2), not built.
pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::EndTxn, 0, 4);

pub fn handle(broker: &Arc<Broker>, ctx: &RequestContext, req: EndTxnRequest) -> EndTxnResponse {
    let answer = |code: i16| EndTxnResponse::default().with_error_code(code);
    let id = req.transactional_id.to_string();
    if !broker.authorize(ctx, AclOperation::Write, ResourceType::TransactionalId, &id) {
        return answer(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    let result = tokio::task::block_in_place(|| {
        broker.txn_write(&id, |shard, now| {
            shard.end_txn(
                &id,
                req.producer_id.0,
                req.producer_epoch,
                req.committed,
                now,
            )
        })
    });
    match result {
        Ok(Ok(())) => answer(0),
        Ok(Err(e)) => answer(e.code_for(TxnApi::EndTxn, ctx.api_version)),
        Err(e) => answer(e.code().code()),
    }
}
