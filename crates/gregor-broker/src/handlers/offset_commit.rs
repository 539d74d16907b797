//! OffsetCommit: store a group's consumed positions in `__consumer_offsets`.
//!
//! As in Kafka, partitions of topics this cluster does not have are
//! answered here; the rest go to the group coordinator, and the response
//! leaves only after its records are in the log.

use std::collections::HashMap;
use std::sync::Arc;

use gregor_log::AppendError;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, OffsetCommitRequest, OffsetCommitResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::warn;

use super::{ApiSupport, RequestContext};
use crate::broker::{Broker, GroupOpError};
use crate::partition::PartitionError;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::OffsetCommit, 2, 9);

/// (topic, partition) → error code.
type Codes = HashMap<(String, i32), i16>;

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let version = ctx.api_version;
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &req.group_id) {
        let denied = ResponseError::GroupAuthorizationFailed.code();
        let codes = req
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| ((t.name.to_string(), p.partition_index), denied))
            })
            .collect();
        return response(&req, &codes);
    }
    let readable =
        |topic: &str| broker.authorize(ctx, AclOperation::Read, ResourceType::Topic, topic);
    let (known, mut codes) = split_unknown(broker, &req, readable);
    if !known.topics.is_empty() {
        let group_id = known.group_id.to_string();
        let result = tokio::task::block_in_place(|| {
            broker.group_write(&group_id, |shard| {
                shard.commit_offsets(&known, version, now_ms())
            })
        });
        match result {
            Ok(resp) => {
                for t in &resp.topics {
                    for p in &t.partitions {
                        codes.insert((t.name.to_string(), p.partition_index), p.error_code);
                    }
                }
            }
            Err(e) => {
                let code = error_code(&group_id, &e).code();
                for t in &known.topics {
                    for p in &t.partitions {
                        codes.insert((t.name.to_string(), p.partition_index), code);
                    }
                }
            }
        }
    }
    response(&req, &codes)
}

/// The request without partitions of unknown or unreadable topics, and
/// those partitions' UNKNOWN_TOPIC_OR_PARTITION / TOPIC_AUTHORIZATION_FAILED
/// answers.
fn split_unknown(
    broker: &Broker,
    req: &OffsetCommitRequest,
    readable: impl Fn(&str) -> bool,
) -> (OffsetCommitRequest, Codes) {
    let image = broker.metadata.image();
    let mut codes = Codes::new();
    let mut known = req.clone();
    known.topics.clear();
    for topic in &req.topics {
        if !readable(&topic.name) {
            for p in &topic.partitions {
                codes.insert(
                    (topic.name.to_string(), p.partition_index),
                    ResponseError::TopicAuthorizationFailed.code(),
                );
            }
            continue;
        }
        let exists = |p: i32| {
            image
                .topic(&topic.name)
                .is_some_and(|t| t.partitions.contains_key(&p))
        };
        let mut kept = topic.clone();
        kept.partitions.retain(|p| exists(p.partition_index));
        for p in topic
            .partitions
            .iter()
            .filter(|p| !exists(p.partition_index))
        {
            codes.insert(
                (topic.name.to_string(), p.partition_index),
                ResponseError::UnknownTopicOrPartition.code(),
            );
        }
        if !kept.partitions.is_empty() {
            known.topics.push(kept);
        }
    }
    (known, codes)
}

/// One entry per requested partition, in request order.
fn response(req: &OffsetCommitRequest, codes: &Codes) -> OffsetCommitResponse {
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
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Kafka's mapping of a failed coordinator write to the client's error:
/// a missing or unwritable offsets partition sends the client to find the
/// coordinator again, an oversized write is the server's fault.
fn error_code(group_id: &str, e: &GroupOpError) -> ResponseError {
    match e {
        GroupOpError::NotCoordinator => ResponseError::NotCoordinator,
        GroupOpError::Write(w) => {
            warn!(group = group_id, error = ?w, "offset commit not written");
            match w {
                PartitionError::Gone => ResponseError::CoordinatorNotAvailable,
                PartitionError::Append(AppendError::Io(_))
                | PartitionError::Log(_)
                | PartitionError::Read(_) => ResponseError::NotCoordinator,
                _ => ResponseError::UnknownServerError,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! FindCoordinator, OffsetCommit and OffsetFetch against a real broker
    //! state in a temporary directory, each response encoded at its version.

    use gregor_coordinator::OFFSETS_TOPIC;
    use gregor_protocol::kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use gregor_protocol::kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };
    use gregor_protocol::kafka_protocol::messages::{
        FindCoordinatorRequest, GroupId, OffsetFetchRequest, TopicName,
    };

    use super::*;
    use crate::handlers::test_support::*;

    use crate::handlers::{find_coordinator, metadata, offset_fetch};

    fn commit(group: &str, parts: &[(&str, i32, i64)]) -> OffsetCommitRequest {
        let topics = parts
            .iter()
            .map(|(t, p, o)| {
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(t)))
                    .with_partitions(vec![OffsetCommitRequestPartition::default()
                        .with_partition_index(*p)
                        .with_committed_offset(*o)
                        .with_committed_metadata(Some(s("md")))])
            })
            .collect();
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(topics)
    }

    fn codes(resp: &OffsetCommitResponse) -> Vec<(String, i32, i16)> {
        resp.topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_index, p.error_code))
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn find_coordinator_creates_the_offsets_topic_and_answers_each_version() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &["offsets.topic.num.partitions=3", "num.partitions=2"],
        );
        let before = handle(&broker, &ctx(8), commit("g", &[]));
        assert!(before.topics.is_empty());
        metadata::auto_create_topic(&broker, "t").expect("topic t");
        let early = handle(&broker, &ctx(8), commit("g", &[("t", 0, 1)]));
        assert_eq!(
            codes(&early),
            vec![("t".into(), 0, ResponseError::NotCoordinator.code())],
            "no coordinator before the offsets topic exists"
        );

        let v3 = FindCoordinatorRequest::default().with_key(s("g"));
        let found = find_coordinator::handle(&broker, &ctx(3), v3);
        assert_eq!((found.error_code, found.node_id.0), (0, 1));
        assert_eq!(found.error_message.as_deref(), Some("NONE"));
        encodes(&found, 3);
        let v0 = find_coordinator::handle(
            &broker,
            &ctx(0),
            FindCoordinatorRequest::default().with_key(s("g")),
        );
        encodes(&v0, 0);
        let image = broker.metadata.image();
        let topic = image.topic(OFFSETS_TOPIC).expect("offsets topic created");
        assert_eq!(topic.partitions.len(), 3);
        assert_eq!(
            topic.configs.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );

        let batched = FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g"), s("h")]);
        let found = find_coordinator::handle(&broker, &ctx(4), batched.clone());
        let keys: Vec<(String, i16, i32)> = found
            .coordinators
            .iter()
            .map(|c| (c.key.to_string(), c.error_code, c.node_id.0))
            .collect();
        assert_eq!(keys, vec![("g".into(), 0, 1), ("h".into(), 0, 1)]);
        encodes(&found, 6);
        // Transactional ids: __transaction_state is created the same way.
        let txn = find_coordinator::handle(&broker, &ctx(4), batched.clone().with_key_type(1));
        assert!(txn
            .coordinators
            .iter()
            .all(|c| c.error_code == 0 && c.node_id.0 == 1));
        let image = broker.metadata.image();
        let state = image
            .topic(gregor_coordinator::txn::TRANSACTION_STATE_TOPIC)
            .expect("__transaction_state created");
        assert_eq!(
            state.configs.get("cleanup.policy").map(String::as_str),
            Some("compact")
        );
        let other = find_coordinator::handle(&broker, &ctx(4), batched.clone().with_key_type(7));
        assert!(other.coordinators.iter().all(|c| {
            c.error_code == ResponseError::InvalidRequest.code() && c.node_id.0 == -1
        }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_answer_per_partition_and_are_loaded_again_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &["offsets.topic.num.partitions=3", "num.partitions=2"],
        );
        metadata::auto_create_topic(&broker, "t").expect("topic t");
        find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");
        let req = commit(
            "g",
            &[("t", 0, 5), ("t", 1, 6), ("t", 9, 1), ("nope", 0, 1)],
        );
        let resp = handle(&broker, &ctx(8), req.clone());
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(
            codes(&resp),
            vec![
                ("t".into(), 0, 0),
                ("t".into(), 1, 0),
                ("t".into(), 9, unknown),
                ("nope".into(), 0, unknown)
            ]
        );
        for v in SUPPORT.min..=SUPPORT.max {
            encodes(&resp, v);
        }
        let member = req.clone().with_generation_id_or_member_epoch(3);
        let refused = handle(&broker, &ctx(9), member);
        assert_eq!(codes(&refused)[0].2, ResponseError::UnknownMemberId.code());

        // Two groups in one v8 request: one with every offset, one with none.
        let fetch = OffsetFetchRequest::default().with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s("g")))
                .with_topics(None),
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s("other")))
                .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                    .with_name(TopicName(s("t")))
                    .with_partition_indexes(vec![0])])),
        ]);
        let got = offset_fetch::handle(&broker, &ctx(8), fetch);
        encodes(&got, 8);
        let rows: Vec<(String, i32, i64)> = got
            .groups
            .iter()
            .flat_map(|g| {
                g.topics.iter().flat_map(move |t| {
                    t.partitions.iter().map(move |p| {
                        (
                            g.group_id.to_string(),
                            p.partition_index,
                            p.committed_offset,
                        )
                    })
                })
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("g".into(), 0, 5),
                ("g".into(), 1, 6),
                ("other".into(), 0, -1)
            ]
        );

        drop(broker);
        let reopened = open_broker(
            dir.path(),
            &["offsets.topic.num.partitions=3", "num.partitions=2"],
        );
        let v7 = OffsetFetchRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(s("t")))
                .with_partition_indexes(vec![0, 1])]));
        let got = offset_fetch::handle(&reopened, &ctx(7), v7);
        encodes(&got, 7);
        let loaded: Vec<(i32, i64, Option<String>)> = got.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    p.metadata.as_ref().map(|m| m.to_string()),
                )
            })
            .collect();
        assert_eq!(
            loaded,
            vec![(0, 5, Some("md".into())), (1, 6, Some("md".into()))]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_and_topic_acls_decide_commits_and_fetches() {
        use crate::handlers::test_support::{add_acls, deny_anonymous};
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &[
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=true",
            ],
        );
        metadata::auto_create_topic(&broker, "t").expect("topic t");
        metadata::auto_create_topic(&broker, "secret").expect("topic secret");
        let denials = [
            deny_anonymous(ResourceType::Group, "closed", AclOperation::All),
            deny_anonymous(ResourceType::Topic, "secret", AclOperation::Read),
        ];
        // Before the ACLs exist: the coordinator and an offset for "secret".
        let open = find_coordinator::handle(
            &broker,
            &ctx(3),
            FindCoordinatorRequest::default().with_key(s("g")),
        );
        assert_eq!(open.error_code, 0);
        let before = handle(&broker, &ctx(8), commit("g", &[("secret", 0, 7)]));
        assert_eq!(codes(&before), vec![("secret".into(), 0, 0)]);
        add_acls(&broker, &denials);
        let found = find_coordinator::handle(
            &broker,
            &ctx(3),
            FindCoordinatorRequest::default().with_key(s("closed")),
        );
        assert_eq!(
            found.error_code,
            ResponseError::GroupAuthorizationFailed.code()
        );

        let refused = handle(&broker, &ctx(8), commit("closed", &[("t", 0, 1)]));
        let group_denied = ResponseError::GroupAuthorizationFailed.code();
        assert_eq!(codes(&refused), vec![("t".into(), 0, group_denied)]);
        let mixed = handle(
            &broker,
            &ctx(8),
            commit("g", &[("t", 0, 1), ("secret", 0, 1)]),
        );
        assert_eq!(
            codes(&mixed),
            vec![
                ("t".into(), 0, 0),
                (
                    "secret".into(),
                    0,
                    ResponseError::TopicAuthorizationFailed.code()
                ),
            ]
        );

        let fetch = |group: &str| {
            OffsetFetchRequest::default()
                .with_group_id(GroupId(s(group)))
                .with_topics(None)
        };
        let closed = offset_fetch::handle(&broker, &ctx(7), fetch("closed"));
        assert_eq!(closed.error_code, group_denied);
        let all = offset_fetch::handle(&broker, &ctx(7), fetch("g"));
        assert_eq!(all.error_code, 0);
        use gregor_protocol::kafka_protocol::messages::{DeleteGroupsRequest, HeartbeatRequest};
        let hb = HeartbeatRequest::default().with_group_id(GroupId(s("closed")));
        let hb = crate::handlers::heartbeat::handle(&broker, &ctx(4), hb);
        assert_eq!(hb.error_code, group_denied);
        let del = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("closed"))]);
        let del = crate::handlers::delete_groups::handle(&broker, &ctx(2), del);
        assert_eq!(del.results[0].error_code, group_denied);
        // "secret" has a committed offset but may not be described: hidden.
        let names: Vec<&str> = all.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["t"]);
    }
}
