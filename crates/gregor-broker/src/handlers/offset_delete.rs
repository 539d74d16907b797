//! OffsetDelete: remove some committed offsets of a group (DELETE on the
//! group, READ on each topic, as Kafka authorizes it). As in Kafka,
//! partitions of topics this cluster does not have are answered
//! UNKNOWN_TOPIC_OR_PARTITION here; the coordinator decides the rest and
//! the answer leaves once its tombstones are written.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::offset_delete_request::OffsetDeleteRequestTopic;
use gregor_protocol::kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, OffsetDeleteRequest, OffsetDeleteResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::OffsetDelete, 0, 0);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group_id = req.group_id.to_string();
    if !broker.authorize(ctx, AclOperation::Delete, ResourceType::Group, &group_id) {
        return OffsetDeleteResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let image = broker.metadata.image();
    // As Kafka: READ on the topic first, then whether it exists.
    let (authorized, refused): (Vec<_>, Vec<_>) = req
        .topics
        .iter()
        .cloned()
        .partition(|t| broker.authorize(ctx, AclOperation::Read, ResourceType::Topic, &t.name));
    let (known, unknown): (Vec<_>, Vec<_>) = authorized
        .into_iter()
        .partition(|t| image.topic(&t.name).is_some());
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
    let answered = |topics: Vec<OffsetDeleteRequestTopic>, code: i16| {
        topics.into_iter().map(move |t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
    };
    resp.topics.extend(answered(
        refused,
        ResponseError::TopicAuthorizationFailed.code(),
    ));
    resp.topics.extend(answered(
        unknown,
        ResponseError::UnknownTopicOrPartition.code(),
    ));
    resp
}

#[cfg(test)]
mod tests {
    //! OffsetDelete and DeleteGroups against a real broker state in a
    //! temporary directory: tombstones are written, applied, and survive a
    //! restart; every response encodes at its versions.
    use gregor_protocol::kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use gregor_protocol::kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    use gregor_protocol::kafka_protocol::messages::{
        DeleteGroupsRequest, GroupId, OffsetCommitRequest, TopicName,
    };

    use super::*;
    use crate::handlers::test_support::*;

    use crate::handlers::{delete_groups, find_coordinator, metadata, offset_commit};

    fn commit(broker: &Arc<Broker>, group: &str, partitions: &[i32]) {
        let topic = OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(
                partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(7)
                    })
                    .collect(),
            );
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(vec![topic]);
        let resp = offset_commit::handle(broker, &crate::handlers::test_support::ctx(8), req);
        assert!(resp.topics[0].partitions.iter().all(|p| p.error_code == 0));
    }

    fn committed(broker: &Broker, group: &str) -> Vec<i32> {
        broker
            .group_read(group, |shard| {
                shard
                    .group(group)
                    .map_or_else(Vec::new, |g| g.all_offsets().map(|(_, p, _)| p).collect())
            })
            .expect("coordinator")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offsets_and_groups_are_deleted_and_stay_deleted_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &["offsets.topic.num.partitions=3", "num.partitions=2"],
        );
        metadata::auto_create_topic(&broker, "t").expect("topic t");
        find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");
        commit(&broker, "g", &[0, 1]);
        commit(&broker, "h", &[0]);

        let part = |p| OffsetDeleteRequestPartition::default().with_partition_index(p);
        let req = OffsetDeleteRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_topics(vec![
                OffsetDeleteRequestTopic::default()
                    .with_name(TopicName(s("t")))
                    .with_partitions(vec![part(0)]),
                OffsetDeleteRequestTopic::default()
                    .with_name(TopicName(s("nope")))
                    .with_partitions(vec![part(0)]),
            ]);
        let resp = handle(&broker, &crate::handlers::test_support::ctx(0), req);
        encodes(&resp, 0);
        let codes: Vec<(String, i16)> = resp
            .topics
            .iter()
            .map(|t| (t.name.to_string(), t.partitions[0].error_code))
            .collect();
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(codes, vec![("t".into(), 0), ("nope".into(), unknown)]);
        assert_eq!(committed(&broker, "g"), vec![1]);

        let missing = OffsetDeleteRequest::default().with_group_id(GroupId(s("none")));
        let resp = handle(&broker, &crate::handlers::test_support::ctx(0), missing);
        assert_eq!(resp.error_code, ResponseError::GroupIdNotFound.code());

        let del = DeleteGroupsRequest::default()
            .with_groups_names(vec![GroupId(s("g")), GroupId(s("none"))]);
        let resp = delete_groups::handle(&broker, &crate::handlers::test_support::ctx(2), del);
        for v in delete_groups::SUPPORT.min..=delete_groups::SUPPORT.max {
            encodes(&resp, v);
        }
        let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![0, ResponseError::GroupIdNotFound.code()]);
        assert!(committed(&broker, "g").is_empty());

        drop(broker);
        let reopened = open_broker(
            dir.path(),
            &["offsets.topic.num.partitions=3", "num.partitions=2"],
        );
        assert!(reopened
            .group_read("g", |shard| shard.group("g").is_none())
            .expect("coordinator"));
        assert_eq!(committed(&reopened, "h"), vec![0]);
    }
}
