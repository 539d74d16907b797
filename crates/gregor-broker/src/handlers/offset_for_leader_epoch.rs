//! OffsetForLeaderEpoch: where a leader epoch ends in a partition's log,
//! from the log's leader-epoch cache. Consumers (KIP-320) ask after a
//! leader change whether the offset they hold is still in the log; Kafka's
//! `ReplicaManager.lastOffsetForLeaderEpoch` and
//! `Partition.lastOffsetForLeaderEpoch` are the model.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::MetadataImage;
use gregor_protocol::kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::partition::Partition;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::OffsetForLeaderEpoch, 2, 4);

/// `current_leader_epoch` of a request that does not fence (Kafka's
/// `RecordBatch.NO_PARTITION_LEADER_EPOCH`).
const NO_PARTITION_LEADER_EPOCH: i32 = -1;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let image = broker.metadata.image();
    // As Kafka: replicas hold CLUSTER_ACTION; consumers (KIP-320) need
    // DESCRIBE on each topic.
    let replica = broker.authorize_cluster(ctx, AclOperation::ClusterAction);
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let authorized = replica
                || broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, &t.topic);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let entry = EpochEndOffset::default().with_partition(p.partition);
                    if !authorized {
                        return entry
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    match broker.replicas.get(t.topic.as_str(), p.partition) {
                        Some(partition) => {
                            end_offset(&partition, p.current_leader_epoch, p.leader_epoch, entry)
                        }
                        None => entry.with_error_code(
                            missing_partition(&image, t.topic.as_str(), p.partition).code(),
                        ),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// The answer for a partition this broker leads.
fn end_offset(
    partition: &Partition,
    current_leader_epoch: i32,
    leader_epoch: i32,
    entry: EpochEndOffset,
) -> EpochEndOffset {
    if let Some(code) = fence(partition.leader_epoch(), current_leader_epoch) {
        return entry.with_error_code(code.code());
    }
    match partition.with_log(|log| log.end_offset_for_epoch(leader_epoch)) {
        Ok(Some((epoch, offset))) => entry.with_leader_epoch(epoch).with_end_offset(offset),
        // Nothing known: no error, undefined epoch and offset (-1, -1).
        Ok(None) => entry,
        Err(_) => entry.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
    }
}

/// Kafka's `checkCurrentLeaderEpoch`: a client behind this leader's epoch
/// is fenced; one ahead of it knows of a leader this broker has not heard of.
fn fence(local: i32, current: i32) -> Option<ResponseError> {
    if current == NO_PARTITION_LEADER_EPOCH {
        None
    } else if local > current {
        Some(ResponseError::FencedLeaderEpoch)
    } else if local < current {
        Some(ResponseError::UnknownLeaderEpoch)
    } else {
        None
    }
}

fn missing_partition(image: &MetadataImage, topic: &str, partition: i32) -> ResponseError {
    let known = image
        .topic(topic)
        .is_some_and(|t| t.partitions.contains_key(&partition));
    if known {
        ResponseError::NotLeaderOrFollower
    } else {
        ResponseError::UnknownTopicOrPartition
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::test_support::{create_topic, ctx, encodes, open_broker};
    use gregor_protocol::kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };

    fn request(topic: &str, partitions: &[(i32, i32, i32)]) -> OffsetForLeaderEpochRequest {
        OffsetForLeaderEpochRequest::default().with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(super::super::topic_name(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(p, current, epoch)| {
                        OffsetForLeaderPartition::default()
                            .with_partition(p)
                            .with_current_leader_epoch(current)
                            .with_leader_epoch(epoch)
                    })
                    .collect(),
            )])
    }

    fn answers(resp: &OffsetForLeaderEpochResponse) -> Vec<(i32, i16, i32, i64)> {
        resp.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition, p.error_code, p.leader_epoch, p.end_offset))
            .collect()
    }

    fn batch(n: usize) -> Vec<u8> {
        use gregor_protocol::kafka_protocol::records::{
            Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // One batch: the encoder splits where offset - sequence changes.
                sequence: i as i32 - 1,
                timestamp: 1_700_000_000_000,
                key: None,
                value: Some(bytes::Bytes::from_static(b"v")),
                headers: Default::default(),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).unwrap();
        buf.to_vec()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn epochs_end_where_the_next_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        create_topic(&broker, "t", 1);
        let p = broker.replicas.get("t", 0).unwrap();
        p.append(&batch(3), 1).unwrap(); // epoch 0: offsets 0..3
        p.set_leader_epoch(2);
        p.append(&batch(2), 1).unwrap(); // epoch 2: offsets 3..5
        let resp = handle(
            &broker,
            &ctx(4),
            request(
                "t",
                &[(0, -1, 0), (0, 2, 1), (0, 2, 2), (0, -1, 3), (0, -1, -1)],
            ),
        );
        for version in 2..=4 {
            encodes(&resp, version);
        }
        assert_eq!(
            answers(&resp),
            vec![
                (0, 0, 0, 3),
                (0, 0, 0, 3),
                (0, 0, 2, 5),
                (0, 0, -1, -1),
                (0, 0, -1, -1)
            ]
        );
        let fenced = handle(
            &broker,
            &ctx(4),
            request("t", &[(0, 1, 2), (0, 3, 2), (7, -1, 0)]),
        );
        assert_eq!(
            answers(&fenced),
            vec![
                (0, ResponseError::FencedLeaderEpoch.code(), -1, -1),
                (0, ResponseError::UnknownLeaderEpoch.code(), -1, -1),
                (7, ResponseError::UnknownTopicOrPartition.code(), -1, -1),
            ]
        );
        let unknown = handle(&broker, &ctx(4), request("nope", &[(0, -1, 0)]));
        assert_eq!(
            answers(&unknown)[0].1,
            ResponseError::UnknownTopicOrPartition.code()
        );
    }

    #[test]
    fn fencing_follows_kafka() {
        assert_eq!(fence(3, -1), None);
        assert_eq!(fence(3, 3), None);
        assert_eq!(fence(3, 2), Some(ResponseError::FencedLeaderEpoch));
        assert_eq!(fence(3, 4), Some(ResponseError::UnknownLeaderEpoch));
    }
}
