//! ListOffsets: earliest, latest, by timestamp and max timestamp.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::list_offsets_request::ListOffsetsPartition;
use gregor_protocol::kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use gregor_protocol::kafka_protocol::messages::{ApiKey, ListOffsetsRequest, ListOffsetsResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::partition::Partition;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ListOffsets, 1, 10);

/// Kafka's special timestamps.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
/// Responses carry the leader epoch from v4 on.
const LEADER_EPOCH_MIN_VERSION: i16 = 4;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let version = ctx.api_version;
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let authorized =
                broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, &t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| match broker.replicas.get(&t.name, p.partition_index) {
                    _ if !authorized => answer(
                        p.partition_index,
                        ResponseError::TopicAuthorizationFailed.code(),
                        -1,
                        -1,
                        -1,
                    ),
                    Some(partition) => lookup(&partition, p, req.isolation_level),
                    None => answer(
                        p.partition_index,
                        ResponseError::UnknownTopicOrPartition.code(),
                        -1,
                        -1,
                        -1,
                    ),
                })
                .collect();
            let mut partitions: Vec<ListOffsetsPartitionResponse> = partitions;
            if version < LEADER_EPOCH_MIN_VERSION {
                partitions.iter_mut().for_each(|p| p.leader_epoch = -1);
            }
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// `isolation_level` 1: latest is the last stable offset, and timestamp
/// lookups stop below it, as Kafka's `fetchOffsetForTimestamp` does.
const READ_COMMITTED: i8 = 1;

fn lookup(
    partition: &Partition,
    p: &ListOffsetsPartition,
    isolation_level: i8,
) -> ListOffsetsPartitionResponse {
    let epoch = partition.leader_epoch();
    let index = p.partition_index;
    if p.current_leader_epoch >= 0 && p.current_leader_epoch != epoch {
        let code = if p.current_leader_epoch > epoch {
            ResponseError::UnknownLeaderEpoch
        } else {
            ResponseError::FencedLeaderEpoch
        };
        return answer(index, code.code(), -1, -1, -1);
    }
    let hw = partition.high_watermark();
    let found = partition.with_log(|log| {
        let hw = if isolation_level == READ_COMMITTED {
            log.last_stable_offset_at(hw)
        } else {
            hw
        };
        match p.timestamp {
            LATEST => Some((hw, -1)),
            EARLIEST | EARLIEST_LOCAL => Some((log.log_start_offset(), -1)),
            MAX_TIMESTAMP => log.max_timestamp(),
            // Nothing is tiered: there is no tiered offset to report.
            LATEST_TIERED => None,
            ts => log
                .offset_for_timestamp(ts)
                .filter(|(offset, _)| *offset < hw),
        }
    });
    match found {
        Ok(Some((offset, ts))) => answer(index, 0, ts, offset, epoch),
        Ok(None) => answer(index, 0, -1, -1, -1),
        Err(_) => answer(
            index,
            ResponseError::UnknownTopicOrPartition.code(),
            -1,
            -1,
            -1,
        ),
    }
}

fn answer(
    index: i32,
    code: i16,
    timestamp: i64,
    offset: i64,
    leader_epoch: i32,
) -> ListOffsetsPartitionResponse {
    ListOffsetsPartitionResponse::default()
        .with_partition_index(index)
        .with_error_code(code)
        .with_timestamp(timestamp)
        .with_offset(offset)
        .with_leader_epoch(leader_epoch)
}
