//! OffsetDelete: remove some committed offsets of a group. As in Kafka,
//! partitions of topics this cluster does not have are answered
//! UNKNOWN_TOPIC_OR_PARTITION here; the coordinator decides the rest and
//! the answer leaves once its tombstones are written.

use std::sync::Arc;

use gregor_protocol::kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, OffsetDeleteRequest, OffsetDeleteResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::ApiSupport;
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::OffsetDelete, 0, 0);

pub fn handle(
    broker: &Arc<Broker>,
    req: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let image = broker.metadata.image();
    let (known, unknown): (Vec<_>, Vec<_>) = req
        .topics
        .iter()
        .cloned()
        .partition(|t| image.topic(&t.name).is_some());
    let group_id = req.group_id.to_string();
    let known_req = req.clone().with_topics(known);
    let outcome = tokio::task::block_in_place(|| {
        broker.group_write(&group_id, |shard| shard.delete_offsets(&known_req))
    });
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(e) => {
            return OffsetDeleteResponse::default()
                .with_error_code(group_op_error_code(&group_id, &e).code())
        }
    };
    if resp.error_code != 0 {
        return resp;
    }
    let unknown_code = ResponseError::UnknownTopicOrPartition.code();
    resp.topics.extend(unknown.into_iter().map(|t| {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(unknown_code)
            })
            .collect();
        OffsetDeleteResponseTopic::default()
            .with_name(t.name)
            .with_partitions(partitions)
    }));
    resp
}
