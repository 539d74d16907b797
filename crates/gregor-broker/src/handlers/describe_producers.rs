//! DescribeProducers: the idempotent producers a partition's log knows
//! (Kafka's `UnifiedLog.activeProducers`), for `kafka-transactions.sh
//! describe-producers` and admin clients looking for hanging transactions.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::controller::validate_topic_name;
use gregor_protocol::kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, ProducerId,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{text, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeProducers, 0, 0);

/// The start offset Kafka reports for a producer with no open transaction
/// in the partition. (A producer no coordinator has written a marker for
/// has coordinator epoch -1, `gregor_log::NO_COORDINATOR_EPOCH`.)
const NO_TXN_START_OFFSET: i64 = -1;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let image = broker.metadata.image();
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.as_str();
            // Errors for the whole topic, in Kafka's order: READ on the
            // topic first.
            let topic_error = match validate_topic_name(name) {
                _ if !broker.authorize(ctx, AclOperation::Read, ResourceType::Topic, name) => {
                    Some((ResponseError::TopicAuthorizationFailed, None))
                }
                Err(e) => Some((e.code, Some(e.message))),
                Ok(()) if image.topic(name).is_none() => {
                    Some((ResponseError::UnknownTopicOrPartition, None))
                }
                Ok(()) => None,
            };
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&p| match &topic_error {
                    Some((code, message)) => PartitionResponse::default()
                        .with_partition_index(p)
                        .with_error_code(code.code())
                        .with_error_message(message.as_deref().map(text)),
                    None => partition_producers(broker, name, p, &image),
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

fn partition_producers(
    broker: &Broker,
    topic: &str,
    partition: i32,
    image: &gregor_metadata::MetadataImage,
) -> PartitionResponse {
    let entry = PartitionResponse::default().with_partition_index(partition);
    let states = broker
        .replicas
        .get(topic, partition)
        .and_then(|p| p.with_log(|log| log.producer_states()).ok());
    let Some(states) = states else {
        // Kafka: a partition the metadata knows but this broker does not
        // host is NOT_LEADER_OR_FOLLOWER; one it does not know is unknown.
        let known = image
            .topic(topic)
            .is_some_and(|t| t.partitions.contains_key(&partition));
        let code = if known {
            ResponseError::NotLeaderOrFollower
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        return entry.with_error_code(code.code());
    };
    let producers = states
        .iter()
        .map(|s| {
            ProducerState::default()
                .with_producer_id(ProducerId(s.producer_id))
                .with_producer_epoch(i32::from(s.producer_epoch))
                .with_last_sequence(s.last_sequence())
                .with_last_timestamp(s.last_timestamp)
                .with_coordinator_epoch(s.coordinator_epoch)
                .with_current_txn_start_offset(
                    s.current_txn_first_offset.unwrap_or(NO_TXN_START_OFFSET),
                )
        })
        .collect();
    entry.with_active_producers(producers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::test_support::{create_topic, encodes, open_broker};
    use gregor_protocol::kafka_protocol::messages::describe_producers_request::TopicRequest;
    use gregor_protocol::kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn idempotent_batch(
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        n: i32,
        ts: i64,
    ) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch: epoch,
                timestamp_type: TimestampType::Creation,
                offset: i64::from(i),
                sequence: base_sequence + i,
                timestamp: ts,
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

    fn request(topics: &[(&str, &[i32])]) -> DescribeProducersRequest {
        DescribeProducersRequest::default().with_topics(
            topics
                .iter()
                .map(|(t, ps)| {
                    TopicRequest::default()
                        .with_name(super::super::topic_name(t))
                        .with_partition_indexes(ps.to_vec())
                })
                .collect(),
        )
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn active_producers_come_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        create_topic(&broker, "t", 2);
        let p = broker.replicas.get("t", 0).unwrap();
        p.append(&idempotent_batch(1000, 2, 0, 3, 1_700_000_000_000), 1)
            .unwrap();
        p.append(&idempotent_batch(1000, 2, 3, 2, 1_700_000_000_500), 1)
            .unwrap();
        p.append(&idempotent_batch(1001, 0, 0, 1, 1_700_000_000_900), 1)
            .unwrap();

        let resp = handle(
            &broker,
            &crate::handlers::test_support::ctx(0),
            request(&[("t", &[0, 1, 9]), ("nope", &[0]), ("bad/", &[0])]),
        );
        encodes(&resp, 0);
        let t = &resp.topics[0];
        let states: Vec<_> = t.partitions[0]
            .active_producers
            .iter()
            .map(|s| {
                (
                    s.producer_id.0,
                    s.producer_epoch,
                    s.last_sequence,
                    s.last_timestamp,
                    s.coordinator_epoch,
                    s.current_txn_start_offset,
                )
            })
            .collect();
        assert_eq!(
            states,
            vec![
                (1000, 2, 4, 1_700_000_000_500, -1, -1),
                (1001, 0, 0, 1_700_000_000_900, -1, -1)
            ]
        );
        assert_eq!(t.partitions[0].error_code, 0);
        assert!(t.partitions[1].active_producers.is_empty());
        assert_eq!(t.partitions[1].error_code, 0);
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(t.partitions[2].error_code, unknown);
        assert_eq!(resp.topics[1].partitions[0].error_code, unknown);
        let invalid = &resp.topics[2].partitions[0];
        assert_eq!(
            invalid.error_code,
            ResponseError::InvalidTopicException.code()
        );
        assert!(invalid.error_message.is_some());
    }
}
