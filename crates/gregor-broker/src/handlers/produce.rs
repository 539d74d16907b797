//! Produce: validate and append record batches, acks 0, 1 and -1.

use std::sync::Arc;

use gregor_coordinator::txn::{TopicPartition, TxnError};
use gregor_log::{AppendError, VerificationGuard};
use gregor_protocol::kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest,
};
use gregor_protocol::kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use gregor_protocol::kafka_protocol::messages::{ApiKey, ProduceResponse};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::warn;

use gregor_metadata::acl::{AclOperation, ResourceType};

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::partition::PartitionError;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::Produce, 3, 13);

/// Topic ids replace names from v13 on.
const TOPIC_IDS_MIN_VERSION: i16 = 13;

/// Returns `None` for acks=0: the client expects no response at all.
pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ProduceRequest,
) -> Option<ProduceResponse> {
    let version = ctx.api_version;
    let acks_valid = matches!(req.acks, -1..=1);
    let image = broker.metadata.image();
    let now = now_ms();
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let txn = req.transactional_id.as_ref().map(|t| t.to_string());
    // Kafka refuses every partition of a transactional produce whose
    // transactional id the principal may not WRITE.
    let txn_denied = txn.as_deref().is_some_and(|id| {
        !broker.authorize(ctx, AclOperation::Write, ResourceType::TransactionalId, id)
    });
    for topic in req.topic_data {
        let name = if version >= TOPIC_IDS_MIN_VERSION {
            image.topic_by_id(&topic.topic_id).map(|t| t.name.clone())
        } else {
            Some(topic.name.to_string())
        };
        let authorized = name
            .as_deref()
            .is_some_and(|n| broker.authorize(ctx, AclOperation::Write, ResourceType::Topic, n));
        let partitions = topic
            .partition_data
            .into_iter()
            .map(|p| match (&name, acks_valid) {
                (_, false) => error_response(p.index, ResponseError::InvalidRequiredAcks, None),
                (_, true) if txn_denied => error_response(
                    p.index,
                    ResponseError::TransactionalIdAuthorizationFailed,
                    None,
                ),
                (None, true) => error_response(p.index, ResponseError::UnknownTopicId, None),
                (Some(_), true) if !authorized => {
                    error_response(p.index, ResponseError::TopicAuthorizationFailed, None)
                }
                (Some(name), true) => append(broker, version, txn.as_deref(), name, p, now),
            })
            .collect();
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_topic_id(topic.topic_id)
                .with_partition_responses(partitions),
        );
    }
    if req.acks == 0 {
        return None;
    }
    // Fields older versions lack must stay at their defaults to encode.
    for p in responses
        .iter_mut()
        .flat_map(|t| t.partition_responses.iter_mut())
    {
        if version < 5 {
            p.log_start_offset = -1;
        }
        if version < 8 {
            p.error_message = None;
            p.record_errors.clear();
        }
    }
    // A single replica commits on append, so acks=-1 needs no wait here.
    Some(ProduceResponse::default().with_responses(responses))
}

fn append(
    broker: &Broker,
    version: i16,
    transactional_id: Option<&str>,
    topic: &str,
    data: PartitionProduceData,
    now: i64,
) -> PartitionProduceResponse {
    let Some(partition) = broker.replicas.get(topic, data.index) else {
        return error_response(data.index, ResponseError::UnknownTopicOrPartition, None);
    };
    let Some(records) = data.records.filter(|r| !r.is_empty()) else {
        return error_response(
            data.index,
            ResponseError::InvalidRecord,
            Some("produce request holds no record batch"),
        );
    };
    let guard = match verify_transaction(broker, version, transactional_id, &partition, &records) {
        Ok(guard) => guard,
        Err(code) => return error_response(data.index, code, None),
    };
    // Written as received: the log rewrites only a copy of each batch header.
    match partition.append_verified(&records, guard, now) {
        Ok(info) => PartitionProduceResponse::default()
            .with_index(data.index)
            .with_base_offset(info.base_offset)
            .with_log_append_time_ms(info.log_append_time_ms)
            .with_log_start_offset(info.log_start_offset),
        Err(e) => {
            let (code, message) = produce_error(&e);
            if code == ResponseError::KafkaStorageError {
                warn!(partition = %partition.name(), error = ?e, "append failed");
            }
            let mut response = error_response(data.index, code, Some(&message));
            if let PartitionError::KeylessRecords(indexes) = &e {
                response.record_errors = keyless_errors(indexes, &partition.name());
            }
            response
        }
    }
}

/// KIP-890 part 1: a transactional batch that would start its producer's
/// transaction in this partition is accepted only once the transaction
/// coordinator confirms the partition was added to the ongoing transaction.
/// The guard is registered with the log *before* asking, so a marker that
/// ends the transaction meanwhile retires it and the append is refused: no
/// write can land after its transaction was decided (a hanging
/// transaction). Produce v11+ clients learn TRANSACTION_ABORTABLE; older
/// ones INVALID_TXN_STATE, as in Kafka.
fn verify_transaction(
    broker: &Broker,
    version: i16,
    transactional_id: Option<&str>,
    partition: &Arc<crate::partition::Partition>,
    records: &[u8],
) -> Result<VerificationGuard, ResponseError> {
    let Some(header) = gregor_protocol::batch::split_batches(records)
        .next()
        .and_then(Result::ok)
        .map(|(h, _)| h)
        .filter(|h| h.is_transactional() && !h.is_control())
    else {
        return Ok(VerificationGuard::SENTINEL);
    };
    let Some(transactional_id) = transactional_id else {
        // Kafka refuses transactional records without a transactional id.
        return Err(ResponseError::InvalidRecord);
    };
    let guard = partition
        .start_verification(header.producer_id, header.producer_epoch)
        .map_err(|_| ResponseError::NotLeaderOrFollower)?;
    if guard.is_sentinel() {
        return Ok(guard);
    }
    let tp = TopicPartition {
        topic: partition.topic.clone(),
        partition: partition.index,
    };
    let verdict = tokio::task::block_in_place(|| {
        broker.txn_read(transactional_id, |shard| {
            shard.verify_partitions(
                transactional_id,
                header.producer_id,
                header.producer_epoch,
                std::slice::from_ref(&tp),
            )
        })
    });
    match verdict {
        Ok(results) => {
            match results.into_iter().next().map(|(_, r)| r) {
                Some(Ok(())) => Ok(guard),
                Some(Err(TxnError::TransactionAbortable))
                    if version < TRANSACTION_ABORTABLE_MIN_VERSION =>
                {
                    Err(ResponseError::InvalidTxnState)
                }
                Some(Err(TxnError::ProducerFenced)) => Err(ResponseError::InvalidProducerEpoch),
                Some(Err(e)) => Err(ResponseError::try_from_code(e.code())
                    .unwrap_or(ResponseError::InvalidTxnState)),
                None => Err(ResponseError::InvalidTxnState),
            }
        }
        // The coordinator is this broker; without its partition the
        // transaction cannot be checked, and the client retries.
        Err(_) => Err(ResponseError::NotEnoughReplicas),
    }
}

/// Produce v11 added TRANSACTION_ABORTABLE (KIP-890).
const TRANSACTION_ABORTABLE_MIN_VERSION: i16 = 11;

/// The one place produce failures become Kafka error codes.
fn produce_error(e: &PartitionError) -> (ResponseError, String) {
    let code = match e {
        PartitionError::Append(a) => match a {
            AppendError::CorruptMessage(_) => ResponseError::CorruptMessage,
            AppendError::InvalidRecord(_) => ResponseError::InvalidRecord,
            AppendError::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
            AppendError::RecordListTooLarge { .. } => ResponseError::RecordListTooLarge,
            AppendError::UnsupportedForMessageFormat(_) => {
                ResponseError::UnsupportedForMessageFormat
            }
            AppendError::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
            AppendError::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
            AppendError::InvalidTxnState(_) => ResponseError::InvalidTxnState,
            AppendError::TransactionCoordinatorFenced { .. } => {
                ResponseError::TransactionCoordinatorFenced
            }
            AppendError::Io(_) => ResponseError::KafkaStorageError,
        },
        PartitionError::Gone => ResponseError::UnknownTopicOrPartition,
        PartitionError::KeylessRecords(_) => ResponseError::InvalidRecord,
        PartitionError::Read(_) | PartitionError::Log(_) => ResponseError::KafkaStorageError,
    };
    let message = match e {
        PartitionError::Append(a) => a.to_string(),
        PartitionError::Gone => "the partition was deleted".to_string(),
        PartitionError::KeylessRecords(_) => "One or more records have been rejected".to_string(),
        other => format!("{other:?}"),
    };
    (code, message)
}

fn error_response(
    index: i32,
    code: ResponseError,
    message: Option<&str>,
) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(text))
}

/// Per-record errors for keyless records sent to a compacted topic.
fn keyless_errors(indexes: &[i32], partition: &str) -> Vec<BatchIndexAndErrorMessage> {
    let message = format!(
        "Compacted topic cannot accept message without key in topic partition {partition}."
    );
    indexes
        .iter()
        .map(|i| {
            BatchIndexAndErrorMessage::default()
                .with_batch_index(*i)
                .with_batch_index_error_message(Some(text(&message)))
        })
        .collect()
}
