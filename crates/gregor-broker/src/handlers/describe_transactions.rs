//! DescribeTransactions (KIP-664): the state of transactional ids this
//! broker coordinates, for `kafka-transactions.sh describe`.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, topic_name, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeTransactions, 0, 0);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .iter()
        .map(|id| {
            let failed = |code: ResponseError| {
                TransactionState::default()
                    .with_transactional_id(id.clone())
                    .with_error_code(code.code())
                    .with_transaction_state(text(""))
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1)
            };
            if !broker.authorize(
                ctx,
                AclOperation::Describe,
                ResourceType::TransactionalId,
                id,
            ) {
                return failed(ResponseError::TransactionalIdAuthorizationFailed);
            }
            let described = broker.txn_read(id, |shard| shard.describe(&[id.as_str()]));
            let result = match described {
                Ok(mut d) => d.pop().map(|(_, r)| r),
                Err(e) => return failed(e.code()),
            };
            match result {
                Some(Ok(d)) => {
                    // Only partitions of topics the caller may describe.
                    let topics = d
                        .topics
                        .iter()
                        .filter(|(t, _)| {
                            broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, t)
                        })
                        .map(|(t, parts)| {
                            TopicData::default()
                                .with_topic(topic_name(t))
                                .with_partitions(parts.clone())
                        })
                        .collect();
                    TransactionState::default()
                        .with_transactional_id(id.clone())
                        .with_transaction_state(text(d.state))
                        .with_transaction_timeout_ms(d.transaction_timeout_ms)
                        .with_transaction_start_time_ms(d.transaction_start_time_ms)
                        .with_producer_id(ProducerId(d.producer_id))
                        .with_producer_epoch(d.producer_epoch)
                        .with_topics(topics)
                }
                Some(Err(e)) => TransactionState::default()
                    .with_transactional_id(id.clone())
                    .with_error_code(e.code())
                    .with_transaction_state(text(""))
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1),
                None => failed(ResponseError::UnknownServerError),
            }
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
