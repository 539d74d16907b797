//! The admin APIs of issue 5 item 4 against the real binary, over the wire:
//! DescribeTopicPartitions, ElectLeaders, DescribeProducers,
//! OffsetForLeaderEpoch (also across a restart, and under a consumer group
//! resuming from a committed offset, which makes librdkafka validate its
//! position with it) and ListConfigResources. Requests are encoded with the
//! protocol crate, as a client would send them.

mod common;

use bytes::{Buf, BytesMut};
use common::*;
use gregor_protocol::kafka_protocol::messages::*;
use gregor_protocol::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use gregor_protocol::kafka_protocol::ResponseError;
use gregor_testkit::{
    api_versions_v0_request, parse_api_versions_response, request_frame, RawConn, ReadOutcome,
};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;

const TOPIC: &str = "admin-apis";

/// Sends `req` at `version` (all these versions are flexible: request
/// header v2, response header v1) and decodes the answer.
fn call<Q: Encodable, R: Decodable>(bootstrap: &str, key: ApiKey, version: i16, req: &Q) -> R {
    let mut body = BytesMut::new();
    req.encode(&mut body, version).expect("encode request");
    let mut conn = RawConn::connect(bootstrap, CLIENT_TIMEOUT).expect("connect");
    conn.send(&request_frame(
        key as i16,
        version,
        9,
        Some("e2e"),
        true,
        &body,
    ))
    .expect("send");
    let ReadOutcome::Frame(frame) = conn.read_frame(CLIENT_TIMEOUT).expect("read") else {
        panic!("no {key:?} response");
    };
    let mut buf = bytes::Bytes::from(frame);
    assert_eq!(buf.get_i32(), 9, "correlation id");
    assert_eq!(buf.get_u8(), 0, "no tagged fields in the header");
    R::decode(&mut buf, version).expect("decode response")
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn produce_idempotent(bootstrap: &str, n: usize) {
    let p = future_producer(bootstrap, &[("enable.idempotence", "true")]);
    block_on(async {
        for i in 0..n {
            let v = format!("v{i}");
            p.send(
                FutureRecord::<(), _>::to(TOPIC).partition(0).payload(&v),
                CLIENT_TIMEOUT,
            )
            .await
            .expect("delivered");
        }
    });
}

fn epoch_end(bootstrap: &str, current: i32, epoch: i32) -> (i16, i32, i64) {
    use offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
    let req = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name(TOPIC))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(current)
                .with_leader_epoch(epoch)])]);
    let resp: OffsetForLeaderEpochResponse = call(bootstrap, ApiKey::OffsetForLeaderEpoch, 4, &req);
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

#[test]
fn admin_apis_answer_as_kafka_does() {
    let mut broker = start_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, 3);
    produce_idempotent(&bs, 5);

    let mut conn = RawConn::connect(&bs, CLIENT_TIMEOUT).expect("connect");
    conn.send(&api_versions_v0_request(1)).expect("send");
    let ReadOutcome::Frame(frame) = conn.read_frame(CLIENT_TIMEOUT).expect("read") else {
        panic!("no ApiVersions response");
    };
    let versions = parse_api_versions_response(&frame).expect("parse");
    for (key, range) in [
        (ApiKey::OffsetForLeaderEpoch, (2, 4)),
        (ApiKey::ElectLeaders, (0, 2)),
        (ApiKey::DescribeProducers, (0, 0)),
        (ApiKey::ListConfigResources, (0, 1)),
        (ApiKey::DescribeTopicPartitions, (0, 0)),
    ] {
        assert_eq!(versions.range(key as i16), Some(range), "{key:?}");
    }

    // DescribeTopicPartitions, two partitions a page.
    use describe_topic_partitions_request::{Cursor, TopicRequest};
    let page = |cursor: Option<Cursor>| -> DescribeTopicPartitionsResponse {
        let req = DescribeTopicPartitionsRequest::default()
            .with_topics(vec![
                TopicRequest::default().with_name(name(TOPIC)),
                TopicRequest::default().with_name(name("no-such-topic")),
            ])
            .with_response_partition_limit(2)
            .with_cursor(cursor);
        call(&bs, ApiKey::DescribeTopicPartitions, 0, &req)
    };
    let first = page(None);
    assert_eq!(first.topics.len(), 1);
    let parts: Vec<i32> = first.topics[0]
        .partitions
        .iter()
        .map(|p| p.partition_index)
        .collect();
    assert_eq!(parts, vec![0, 1]);
    assert_eq!(first.topics[0].partitions[0].leader_id, BrokerId(1));
    let next = first.next_cursor.expect("a next cursor");
    assert_eq!((next.topic_name.as_str(), next.partition_index), (TOPIC, 2));
    let second = page(Some(
        Cursor::default()
            .with_topic_name(next.topic_name)
            .with_partition_index(next.partition_index),
    ));
    assert_eq!(second.topics[0].partitions.len(), 1);
    assert_eq!(second.topics[0].partitions[0].partition_index, 2);
    assert_eq!(
        second.topics[1].error_code,
        ResponseError::UnknownTopicOrPartition.code()
    );
    assert!(second.next_cursor.is_none());

    // ElectLeaders: the only replica already leads.
    use elect_leaders_request::TopicPartitions;
    let req = ElectLeadersRequest::default()
        .with_election_type(0)
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic(name(TOPIC))
            .with_partitions(vec![0, 7])]));
    let resp: ElectLeadersResponse = call(&bs, ApiKey::ElectLeaders, 2, &req);
    let codes: Vec<i16> = resp.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![
            ResponseError::ElectionNotNeeded.code(),
            ResponseError::UnknownTopicOrPartition.code()
        ]
    );

    // DescribeProducers: the idempotent producer and its last sequence.
    use describe_producers_request::TopicRequest as ProducersTopic;
    let req = DescribeProducersRequest::default().with_topics(vec![ProducersTopic::default()
        .with_name(name(TOPIC))
        .with_partition_indexes(vec![0, 1])]);
    let resp: DescribeProducersResponse = call(&bs, ApiKey::DescribeProducers, 0, &req);
    let p0 = &resp.topics[0].partitions[0];
    assert_eq!(p0.error_code, 0);
    assert_eq!(p0.active_producers.len(), 1);
    let state = &p0.active_producers[0];
    assert!(state.producer_id.0 >= 0);
    assert_eq!((state.producer_epoch, state.last_sequence), (0, 4));
    assert!(state.last_timestamp > 0);
    assert!(resp.topics[0].partitions[1].active_producers.is_empty());

    // OffsetForLeaderEpoch: epoch 0 is the current one, so it ends at the
    // log end; a client ahead of the leader's epoch is told so.
    assert_eq!(epoch_end(&bs, -1, 0), (0, 0, 5));
    assert_eq!(epoch_end(&bs, 0, 0), (0, 0, 5));
    assert_eq!(epoch_end(&bs, -1, 3), (0, -1, -1));
    assert_eq!(
        epoch_end(&bs, 1, 0).0,
        ResponseError::UnknownLeaderEpoch.code()
    );

    // ListConfigResources: the broker and the topics.
    let req = ListConfigResourcesRequest::default().with_resource_types(vec![2, 4]);
    let resp: ListConfigResourcesResponse = call(&bs, ApiKey::ListConfigResources, 1, &req);
    assert_eq!(resp.error_code, 0);
    let listed: Vec<(String, i8)> = resp
        .config_resources
        .iter()
        .map(|r| (r.resource_name.to_string(), r.resource_type))
        .collect();
    assert!(listed.contains(&("1".into(), 4)), "{listed:?}");
    assert!(listed.contains(&(TOPIC.into(), 2)), "{listed:?}");

    // The epoch cache survives an unclean restart.
    broker.kill9().expect("kill");
    broker.restart().expect("restart");
    let bs = broker.bootstrap();
    assert_eq!(epoch_end(&bs, -1, 0), (0, 0, 5));
}

#[test]
fn a_group_resumes_from_its_committed_offset_after_validating_it() {
    let broker = start_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, TOPIC, 1);
    produce_idempotent(&bs, 5);
    let group = |id: &str| -> BaseConsumer {
        base_config(&bs)
            .set("group.id", "resume")
            .set("client.id", id)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer")
    };
    let first = group("first");
    first.subscribe(&[TOPIC]).expect("subscribe");
    let got = consume_n(&first, 5, CLIENT_TIMEOUT);
    assert_eq!(got.len(), 5);
    first
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit");
    drop(first);
    produce_idempotent(&bs, 3);
    // librdkafka knows the committed offset's leader epoch, so it checks the
    // position with OffsetForLeaderEpoch before fetching from it.
    let second = group("second");
    second.subscribe(&[TOPIC]).expect("subscribe");
    let got = consume_n(&second, 3, CLIENT_TIMEOUT);
    let offsets: Vec<i64> = got.iter().map(|m| m.offset()).collect();
    assert_eq!(offsets, vec![5, 6, 7]);
    assert!(consume_extra(&second, std::time::Duration::from_secs(1)).is_empty());
}
