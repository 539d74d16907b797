//! Produce: validate and append record batches, acks 0, 1 and -1.

use std::sync::Arc;

use gregor_log::AppendError;
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
                (None, true) => error_response(p.index, ResponseError::UnknownTopicId, None),
                (Some(_), true) if !authorized => {
                    error_response(p.index, ResponseError::TopicAuthorizationFailed, None)
                }
                (Some(name), true) => append(broker, name, p, now),
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
    // Written as received: the log rewrites only a copy of each batch header.
    match partition.append(&records, now) {
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
