//! DescribeTopicPartitions (KIP-966): topics by name, or all of them, with
//! their partitions' leaders, epochs, replica sets and eligible leader
//! replicas, paginated by a partition limit and a cursor, as Kafka's
//! `DescribeTopicPartitionsRequestHandler` and the metadata cache's
//! `describeTopicResponse` answer.

use std::collections::BTreeSet;
use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_metadata::controller::validate_topic_name;
use gregor_metadata::{MetadataImage, TopicImage};
use gregor_protocol::kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use gregor_protocol::kafka_protocol::ResponseError;
use uuid::Uuid;

use super::metadata::TOPIC_OPERATIONS_ALL;
use super::{topic_name, ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeTopicPartitions, 0, 0);

/// Kafka's `max.request.partition.size.limit` (a read-only broker config,
/// default 2000): the most partitions one response carries.
pub const RESPONSE_PARTITIONS_MAX: i32 = 2000;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let allowed =
        |name: &str| broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, name);
    let mut resp = describe(&broker.metadata.image(), req, &allowed);
    let refused = ResponseError::TopicAuthorizationFailed.code();
    for t in resp.topics.iter_mut().filter(|t| t.error_code != refused) {
        let name = t.name.as_ref().map_or("", |n| n.as_str());
        t.topic_authorized_operations =
            broker.authorized_operations(ctx, ResourceType::Topic, name, TOPIC_OPERATIONS_ALL);
    }
    resp
}

/// The answer from one metadata image for a principal that may DESCRIBE
/// the topics `allowed` admits. As in Kafka, topics it may not describe are
/// left out of an all-topics listing, and named ones are answered
/// TOPIC_AUTHORIZATION_FAILED after the page.
fn describe(
    image: &MetadataImage,
    req: DescribeTopicPartitionsRequest,
    allowed: &dyn Fn(&str) -> bool,
) -> DescribeTopicPartitionsResponse {
    let all = req.topics.is_empty();
    let cursor = req.cursor.as_ref();
    let cursor_topic = cursor.map_or("", |c| c.topic_name.as_str());
    // Topics from the cursor's on, in name order.
    let names: BTreeSet<String> = if all {
        image
            .topics()
            .map(|t| t.name.clone())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect()
    } else {
        let names: BTreeSet<String> = req
            .topics
            .iter()
            .map(|t| t.name.to_string())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect();
        if cursor.is_some() && !names.contains(cursor_topic) {
            return invalid_request(&req);
        }
        names
    };
    if cursor.is_some_and(|c| c.partition_index < 0) {
        return invalid_request(&req);
    }
    let (names, refused): (BTreeSet<String>, BTreeSet<String>) =
        names.into_iter().partition(|n| allowed(n));
    let start = |name: &str| match cursor {
        Some(c) if c.topic_name.as_str() == name => c.partition_index,
        _ => 0,
    };
    let limit = req
        .response_partition_limit
        .clamp(1, RESPONSE_PARTITIONS_MAX);
    let mut resp = page(image, &names, start, limit, all);
    if !all {
        resp.topics.extend(refused.iter().map(|name| {
            DescribeTopicPartitionsResponseTopic::default()
                .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                .with_name(Some(topic_name(name)))
                .with_topic_id(Uuid::nil())
        }));
    }
    resp
}

/// Kafka's `describeTopicResponse`: whole topics while the limit lasts; a
/// topic cut by the limit, or the first one that no longer fits, is where
/// the next cursor points. Unknown topics are reported unless all topics
/// were asked for.
fn page(
    image: &MetadataImage,
    names: &BTreeSet<String>,
    start: impl Fn(&str) -> i32,
    limit: i32,
    all: bool,
) -> DescribeTopicPartitionsResponse {
    let mut resp = DescribeTopicPartitionsResponse::default();
    let mut remaining = limit;
    for name in names {
        if remaining == 0 {
            resp.next_cursor = Some(cursor(name, 0));
            break;
        }
        let Some(topic) = image.topic(name) else {
            if !all {
                resp.topics.push(unknown_topic(name));
            }
            continue;
        };
        let first = start(name);
        let count = topic.partitions.len() as i32;
        let upper = count.min(first.saturating_add(remaining));
        let partitions: Vec<_> = (first..upper)
            .filter_map(|p| topic.partitions.get(&p))
            .map(partition)
            .collect();
        let described = partitions.len() as i32;
        resp.topics.push(topic_entry(topic, partitions));
        if upper < count {
            resp.next_cursor = Some(cursor(name, upper));
            break;
        }
        remaining -= described;
    }
    resp
}

fn topic_entry(
    topic: &TopicImage,
    partitions: Vec<DescribeTopicPartitionsResponsePartition>,
) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.topic_id)
        .with_is_internal(topic.is_internal())
        .with_partitions(partitions)
}

/// A single node is always alive, so no replica is offline or filtered out;
/// there is no ELR (KIP-966's eligible leader replicas need
/// `min.insync.replicas` across several replicas), so both lists are empty,
/// as Kafka reports a partition without one.
fn partition(p: &gregor_metadata::PartitionImage) -> DescribeTopicPartitionsResponsePartition {
    let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
    DescribeTopicPartitionsResponsePartition::default()
        .with_partition_index(p.partition)
        .with_leader_id(BrokerId(p.leader))
        .with_leader_epoch(p.leader_epoch)
        .with_replica_nodes(ids(&p.replicas))
        .with_isr_nodes(ids(&p.isr))
        .with_eligible_leader_replicas(Some(Vec::new()))
        .with_last_known_elr(Some(Vec::new()))
        .with_offline_replicas(Vec::new())
}

fn unknown_topic(name: &str) -> DescribeTopicPartitionsResponseTopic {
    let code = match validate_topic_name(name) {
        Ok(()) => ResponseError::UnknownTopicOrPartition,
        Err(_) => ResponseError::InvalidTopicException,
    };
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(code.code())
        .with_name(Some(topic_name(name)))
        .with_topic_id(Uuid::nil())
        .with_is_internal(name == "__consumer_offsets" || name == "__transaction_state")
}

fn cursor(name: &str, partition_index: i32) -> Cursor {
    Cursor::default()
        .with_topic_name(topic_name(name))
        .with_partition_index(partition_index)
}

/// Kafka's answer to a cursor that is not among the named topics or names
/// a negative partition: INVALID_REQUEST for every requested topic.
fn invalid_request(req: &DescribeTopicPartitionsRequest) -> DescribeTopicPartitionsResponse {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(t.name.0.clone())))
                .with_error_code(ResponseError::InvalidRequest.code())
        })
        .collect();
    DescribeTopicPartitionsResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::test_support::{create_topic, ctx, encodes, open_broker};
    use gregor_protocol::kafka_protocol::messages::describe_topic_partitions_request::{
        Cursor as RequestCursor, TopicRequest,
    };

    fn broker_with(topics: &[(&str, i32)]) -> (tempfile::TempDir, Arc<Broker>) {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &[]);
        for &(name, partitions) in topics {
            create_topic(&broker, name, partitions);
        }
        (dir, broker)
    }

    fn request(
        names: &[&str],
        limit: i32,
        cursor: Option<(&str, i32)>,
    ) -> DescribeTopicPartitionsRequest {
        DescribeTopicPartitionsRequest::default()
            .with_topics(
                names
                    .iter()
                    .map(|n| TopicRequest::default().with_name(topic_name(n)))
                    .collect(),
            )
            .with_response_partition_limit(limit)
            .with_cursor(cursor.map(|(t, p)| {
                RequestCursor::default()
                    .with_topic_name(topic_name(t))
                    .with_partition_index(p)
            }))
    }

    /// (topic, error, partition indexes) per topic, and the next cursor.
    type Page = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

    fn summary(resp: &DescribeTopicPartitionsResponse) -> Page {
        let topics = resp
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.as_ref().unwrap().to_string(),
                    t.error_code,
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                )
            })
            .collect();
        let next = resp
            .next_cursor
            .as_ref()
            .map(|c| (c.topic_name.to_string(), c.partition_index));
        (topics, next)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn all_topics_page_by_the_partition_limit() {
        let (_dir, broker) = broker_with(&[("a", 3), ("b", 2), ("c", 1)]);
        let image = broker.metadata.image();
        let first = handle(&broker, &ctx(0), request(&[], 4, None));
        encodes(&first, 0);
        assert_eq!(
            summary(&first),
            (
                vec![("a".into(), 0, vec![0, 1, 2]), ("b".into(), 0, vec![0])],
                Some(("b".into(), 1))
            )
        );
        let second = handle(&broker, &ctx(0), request(&[], 4, Some(("b", 1))));
        assert_eq!(
            summary(&second),
            (
                vec![("b".into(), 0, vec![1]), ("c".into(), 0, vec![0])],
                None
            )
        );
        // A limit that ends exactly at a topic's end points at the next topic.
        let exact = handle(&broker, &ctx(0), request(&[], 3, None));
        assert_eq!(
            summary(&exact),
            (vec![("a".into(), 0, vec![0, 1, 2])], Some(("b".into(), 0)))
        );
        let t = &first.topics[0];
        assert_eq!(t.topic_authorized_operations, TOPIC_OPERATIONS_ALL);
        let p = &t.partitions[0];
        assert_eq!(p.leader_id, BrokerId(broker.node_id()));
        assert_eq!(p.replica_nodes, vec![BrokerId(broker.node_id())]);
        assert_eq!(p.isr_nodes, vec![BrokerId(broker.node_id())]);
        assert_eq!(p.eligible_leader_replicas, Some(vec![]));
        assert_eq!(t.topic_id, image.topic("a").unwrap().topic_id);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn named_topics_report_unknown_and_invalid_names() {
        let (_dir, broker) = broker_with(&[("known", 2)]);
        let resp = handle(
            &broker,
            &ctx(0),
            request(&["nope", "known", "bad/name"], 2000, None),
        );
        let (topics, next) = summary(&resp);
        assert_eq!(next, None);
        assert_eq!(
            topics,
            vec![
                (
                    "bad/name".into(),
                    ResponseError::InvalidTopicException.code(),
                    vec![]
                ),
                ("known".into(), 0, vec![0, 1]),
                (
                    "nope".into(),
                    ResponseError::UnknownTopicOrPartition.code(),
                    vec![]
                ),
            ]
        );
        assert_eq!(resp.topics[2].topic_id, Uuid::nil());
        // Listing everything never invents unknown topics.
        assert_eq!(
            summary(&handle(&broker, &ctx(0), request(&[], 10, None)))
                .0
                .len(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_cursor_outside_the_request_is_invalid() {
        let (_dir, broker) = broker_with(&[("a", 1), ("b", 1)]);
        let resp = handle(&broker, &ctx(0), request(&["a"], 10, Some(("b", 0))));
        assert_eq!(
            summary(&resp).0,
            vec![("a".into(), ResponseError::InvalidRequest.code(), vec![])]
        );
        let negative = handle(&broker, &ctx(0), request(&["a"], 10, Some(("a", -1))));
        assert_eq!(
            negative.topics[0].error_code,
            ResponseError::InvalidRequest.code()
        );
        // Topics before the cursor are skipped.
        let resp = handle(&broker, &ctx(0), request(&["a", "b"], 10, Some(("b", 0))));
        assert_eq!(summary(&resp).0, vec![("b".into(), 0, vec![0])]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn topics_the_principal_may_not_describe_are_hidden_or_refused() {
        let (_dir, broker) = broker_with(&[("a", 1), ("b", 1)]);
        let image = broker.metadata.image();
        let not_b = |n: &str| n != "b";
        let listed = describe(&image, request(&[], 10, None), &not_b);
        assert_eq!(summary(&listed).0, vec![("a".into(), 0, vec![0])]);
        let named = describe(&image, request(&["b", "a", "nope"], 10, None), &not_b);
        let refused = ResponseError::TopicAuthorizationFailed.code();
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(
            summary(&named).0,
            vec![
                ("a".into(), 0, vec![0]),
                ("nope".into(), unknown, vec![]),
                ("b".into(), refused, vec![]),
            ]
        );
        assert_eq!(named.topics[2].topic_id, Uuid::nil());
        encodes(&named, 0);
    }
}
