//! DeleteRecords: move a partition's log start offset forward.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DeleteRecordsRequest, DeleteRecordsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::partition::Partition;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DeleteRecords, 0, 2);

/// "Delete up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let authorized =
                broker.authorize(ctx, AclOperation::Delete, ResourceType::Topic, &t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = match broker.replicas.get(&t.name, p.partition_index) {
                        _ if !authorized => Err(ResponseError::TopicAuthorizationFailed),
                        Some(partition) => delete_before(&partition, p.offset),
                        None => Err(ResponseError::UnknownTopicOrPartition),
                    };
                    let entry = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index);
                    match result {
                        Ok(low) => entry.with_low_watermark(low),
                        Err(code) => entry.with_low_watermark(-1).with_error_code(code.code()),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}

fn delete_before(partition: &Partition, offset: i64) -> Result<i64, ResponseError> {
    let hw = partition.high_watermark();
    let target = if offset == HIGH_WATERMARK { hw } else { offset };
    if target < 0 || target > hw {
        return Err(ResponseError::OffsetOutOfRange);
    }
    match tokio::task::block_in_place(|| {
        partition.with_log(|log| log.delete_records_before(target))
    }) {
        Ok(Ok(low)) => Ok(low),
        Ok(Err(_)) => Err(ResponseError::KafkaStorageError),
        Err(_) => Err(ResponseError::UnknownTopicOrPartition),
    }
}
