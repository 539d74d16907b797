//! AddPartitionsToTxn: a transactional producer names the partitions it is
//! about to write (v0-3, one transaction), or a partition leader verifies
//! that a producer's partitions are in its transaction (v4+, batched, the
//! `verify_only` path of KIP-890; a single node verifies inside Produce).

use std::collections::HashMap;
use std::sync::Arc;

use gregor_coordinator::txn::{TopicPartition, TxnApi, TxnError};
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use gregor_protocol::kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use gregor_protocol::kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{topic_name, ApiSupport, RequestContext};
use crate::broker::Broker;

/// v5 (TRANSACTION_ABORTABLE) is the last version of transaction version 1.
pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::AddPartitionsToTxn, 0, 5);

/// The batched, broker-to-broker form starts at v4.
const BATCHED_MIN_VERSION: i16 = 4;

/// (topic, partition) → error code.
type Codes = HashMap<(String, i32), i16>;

/// One transaction's part of the request.
struct Txn<'a> {
    id: &'a str,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
    topics: &'a [AddPartitionsToTxnTopic],
}

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let version = ctx.api_version;
    if version < BATCHED_MIN_VERSION {
        let txn = Txn {
            id: &req.v3_and_below_transactional_id,
            producer_id: req.v3_and_below_producer_id.0,
            producer_epoch: req.v3_and_below_producer_epoch,
            verify_only: false,
            topics: &req.v3_and_below_topics,
        };
        let codes = handle_txn(broker, ctx, &txn);
        return AddPartitionsToTxnResponse::default()
            .with_results_by_topic_v3_and_below(topic_results(txn.topics, &codes));
    }
    // Kafka lets only brokers (ClusterAction) send the batched form.
    if !broker.authorize(
        ctx,
        AclOperation::ClusterAction,
        ResourceType::Cluster,
        "kafka-cluster",
    ) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let results = req
        .transactions
        .iter()
        .map(|t| {
            let txn = Txn {
                id: &t.transactional_id,
                producer_id: t.producer_id.0,
                producer_epoch: t.producer_epoch,
                verify_only: t.verify_only,
                topics: &t.topics,
            };
            let codes = handle_txn(broker, ctx, &txn);
            AddPartitionsToTxnResult::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_topic_results(topic_results(txn.topics, &codes))
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// Per partition, Kafka's answers: the failing partitions get their own
/// code and every other one OPERATION_NOT_ATTEMPTED; otherwise the
/// coordinator's verdict applies to all.
fn handle_txn(broker: &Broker, ctx: &RequestContext, txn: &Txn<'_>) -> Codes {
    let all = || {
        txn.topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.name.to_string(), *p)))
    };
    let every = |code: i16| all().map(|k| (k, code)).collect::<Codes>();
    if !broker.authorize(
        ctx,
        AclOperation::Write,
        ResourceType::TransactionalId,
        txn.id,
    ) {
        return every(ResponseError::TransactionalIdAuthorizationFailed.code());
    }
    let image = broker.metadata.image();
    let mut failed = Codes::new();
    for (topic, partition) in all() {
        let code = if !broker.authorize(ctx, AclOperation::Write, ResourceType::Topic, &topic) {
            ResponseError::TopicAuthorizationFailed
        } else if image
            .topic(&topic)
            .is_none_or(|t| !t.partitions.contains_key(&partition))
        {
            ResponseError::UnknownTopicOrPartition
        } else {
            continue;
        };
        failed.insert((topic, partition), code.code());
    }
    if !failed.is_empty() {
        let not_attempted = ResponseError::OperationNotAttempted.code();
        return all()
            .map(|k| {
                let code = failed.get(&k).copied().unwrap_or(not_attempted);
                (k, code)
            })
            .collect();
    }
    let partitions: Vec<TopicPartition> = all()
        .map(|(topic, partition)| TopicPartition { topic, partition })
        .collect();
    let version = ctx.api_version;
    if txn.verify_only {
        let verdict = broker.txn_read(txn.id, |shard| {
            shard.verify_partitions(txn.id, txn.producer_id, txn.producer_epoch, &partitions)
        });
        return match verdict {
            Ok(results) => results
                .into_iter()
                .map(|(tp, r)| {
                    let code = r.err().map_or(0, |e| e.code_for(TxnApi::Other, version));
                    ((tp.topic, tp.partition), code)
                })
                .collect(),
            Err(e) => every(e.code().code()),
        };
    }
    let result = tokio::task::block_in_place(|| {
        broker.txn_write(txn.id, |shard, now| {
            shard.add_partitions(
                txn.id,
                txn.producer_id,
                txn.producer_epoch,
                &partitions,
                now,
            )
        })
    });
    match result {
        Ok(Ok(())) => every(0),
        Ok(Err(e)) => every(code_for(e, version)),
        Err(e) => every(e.code().code()),
    }
}

fn code_for(e: TxnError, version: i16) -> i16 {
    e.code_for(TxnApi::AddPartitionsToTxn, version)
}

fn topic_results(
    topics: &[AddPartitionsToTxnTopic],
    codes: &Codes,
) -> Vec<AddPartitionsToTxnTopicResult> {
    topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = codes
                        .get(&(t.name.to_string(), *p))
                        .copied()
                        .unwrap_or(ResponseError::UnknownServerError.code());
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(*p)
                        .with_partition_error_code(code)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic_name(&t.name))
                .with_results_by_partition(partitions)
        })
        .collect()
}
