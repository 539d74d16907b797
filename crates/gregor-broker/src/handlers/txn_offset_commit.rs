//! TxnOffsetCommit: a transactional producer commits its consumer's offsets
//! inside its transaction. The records go to the group's
//! `__consumer_offsets` partition in a transactional batch of the
//! producer; they count only once the commit marker follows
//! (`gregor-coordinator/src/txn_offsets.rs`). As with produce (KIP-890),
//! the partition must already be in the producer's ongoing transaction
//! (AddOffsetsToTxn), checked under the transaction's lock so no marker can
//! pass between the check and the write.

use std::collections::HashMap;
use std::sync::Arc;

use gregor_coordinator::txn::{TopicPartition, TxnApi, TxnError};
use gregor_coordinator::OFFSETS_TOPIC;
use gregor_log::AppendError;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::warn;

use super::{ApiSupport, RequestContext};
use crate::broker::{Broker, GroupOpError};
use crate::partition::PartitionError;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::TxnOffsetCommit, 0, 5);

/// TxnOffsetCommit v5 added TRANSACTION_ABORTABLE (KIP-890).
const TRANSACTION_ABORTABLE_MIN_VERSION: i16 = 5;

/// (topic, partition) → error code.
type Codes = HashMap<(String, i32), i16>;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let version = ctx.api_version;
    let id = req.transactional_id.to_string();
    let group_id = req.group_id.to_string();
    if !broker.authorize(ctx, AclOperation::Write, ResourceType::TransactionalId, &id) {
        let code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return response(&req, &all_of(&req, code));
    }
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &group_id) {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return response(&req, &all_of(&req, code));
    }
    let image = broker.metadata.image();
    let mut codes = Codes::new();
    let mut known = req.clone();
    known.topics.clear();
    for topic in &req.topics {
        let readable = broker.authorize(ctx, AclOperation::Read, ResourceType::Topic, &topic.name);
        let mut kept = topic.clone();
        kept.partitions.retain(|p| {
            let code = if !readable {
                ResponseError::TopicAuthorizationFailed
            } else if image
                .topic(&topic.name)
                .is_none_or(|t| !t.partitions.contains_key(&p.partition_index))
            {
                ResponseError::UnknownTopicOrPartition
            } else {
                return true;
            };
            codes.insert((topic.name.to_string(), p.partition_index), code.code());
            false
        });
        if !kept.partitions.is_empty() {
            known.topics.push(kept);
        }
    }
    if known.topics.is_empty() {
        return response(&req, &codes);
    }
    let offsets_partition = TopicPartition {
        topic: OFFSETS_TOPIC.to_string(),
        partition: broker.groups.partition_for(&group_id),
    };
    let producer_id = req.producer_id.0;
    let producer_epoch = req.producer_epoch;
    let outcome = tokio::task::block_in_place(|| {
        broker.txn_read(&id, |txn| {
            let verdict = txn
                .verify_partitions(
                    &id,
                    producer_id,
                    producer_epoch,
                    std::slice::from_ref(&offsets_partition),
                )
                .into_iter()
                .next()
                .map_or(Err(TxnError::InvalidTxnState), |(_, r)| r);
            if let Err(e) = verdict {
                return Err(txn_code(e, version));
            }
            commit(broker, &known, version).map_err(|e| group_code(&group_id, &e))
        })
    });
    let written = match outcome {
        Ok(Ok(written)) => written,
        Ok(Err(code)) => {
            codes.extend(all_of(&known, code));
            return response(&req, &codes);
        }
        // No transaction coordinator here: the client looks it up again.
        Err(e) => {
            codes.extend(all_of(&known, e.code().code()));
            return response(&req, &codes);
        }
    };
    for t in &written.topics {
        for p in &t.partitions {
            codes.insert((t.name.to_string(), p.partition_index), p.error_code);
        }
    }
    response(&req, &codes)
}

/// Writes the offsets in the producer's transaction under the group's
/// shard lock (taken inside the transaction's: the coordinators' lock
/// order) and holds them pending.
fn commit(
    broker: &Broker,
    req: &TxnOffsetCommitRequest,
    version: i16,
) -> Result<TxnOffsetCommitResponse, GroupOpError> {
    let (partition, mut shard) = broker.group_shard(&req.group_id)?;
    let now = now_ms();
    let result = shard.commit_transactional_offsets(req, version, now);
    if !result.records.is_empty() {
        let pairs = result
            .records
            .iter()
            .map(|r| (Some(r.key.clone()), r.value.clone()));
        partition
            .append_transactional_records(pairs, req.producer_id.0, req.producer_epoch, now)
            .map_err(GroupOpError::Write)?;
        shard.apply_transactional(req.producer_id.0, &result.records);
    }
    Ok(result.response)
}

fn txn_code(e: TxnError, version: i16) -> i16 {
    match e {
        TxnError::TransactionAbortable if version < TRANSACTION_ABORTABLE_MIN_VERSION => {
            ResponseError::InvalidTxnState.code()
        }
        other => other.code_for(TxnApi::AddOffsetsToTxn, version),
    }
}

fn group_code(group_id: &str, e: &GroupOpError) -> i16 {
    match e {
        GroupOpError::NotCoordinator => ResponseError::NotCoordinator.code(),
        GroupOpError::Write(PartitionError::Append(AppendError::InvalidProducerEpoch {
            ..
        })) => ResponseError::InvalidProducerEpoch.code(),
        GroupOpError::Write(w) => {
            warn!(group = group_id, error = ?w, "transactional offset commit not written");
            ResponseError::CoordinatorNotAvailable.code()
        }
    }
}

fn all_of(req: &TxnOffsetCommitRequest, code: i16) -> Codes {
    req.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| ((t.name.to_string(), p.partition_index), code))
        })
        .collect()
}

/// One entry per requested partition, in request order.
fn response(req: &TxnOffsetCommitRequest, codes: &Codes) -> TxnOffsetCommitResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = codes
                        .get(&(t.name.to_string(), p.partition_index))
                        .copied()
                        .unwrap_or(ResponseError::UnknownServerError.code());
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
