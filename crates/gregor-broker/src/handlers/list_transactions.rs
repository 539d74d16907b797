//! ListTransactions (KIP-664, KIP-994 duration filter): every transactional
//! id this broker coordinates, filtered by state, producer id and how long
//! the transaction has been running; `kafka-transactions.sh list`.

use std::sync::Arc;

use gregor_coordinator::txn::{ListFilter, TRANSACTION_STATE_TOPIC};
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::list_transactions_response::TransactionState;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::time::now_ms;

/// v2's transactional-id pattern (KIP-1152) is not built.
pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ListTransactions, 0, 1);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let filter = ListFilter {
        states: req.state_filters.iter().map(|s| s.to_string()).collect(),
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        min_duration_ms: (req.duration_filter >= 0).then_some(req.duration_filter),
    };
    let now = now_ms();
    let mut unknown = Vec::new();
    let mut states = Vec::new();
    for index in 0..broker.txns.partitions() {
        if broker
            .replicas
            .get(TRANSACTION_STATE_TOPIC, index)
            .is_none()
        {
            continue;
        }
        let listing = broker.txns.shard(index).list(&filter, now);
        if unknown.is_empty() {
            unknown = listing.unknown_state_filters;
        }
        for t in listing.transactions {
            if !broker.authorize(
                ctx,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                &t.transactional_id,
            ) {
                continue;
            }
            states.push(
                TransactionState::default()
                    .with_transactional_id(TransactionalId(text(&t.transactional_id)))
                    .with_producer_id(ProducerId(t.producer_id))
                    .with_transaction_state(text(t.state)),
            );
        }
    }
    if unknown.is_empty() {
        // With no hosted partition, the filter is still checked.
        unknown = broker
            .txns
            .shard(0)
            .list(&filter, now)
            .unknown_state_filters;
    }
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown.iter().map(|s| text(s)).collect())
        .with_transaction_states(states)
}
