//! The ACL checks of the APIs whose handlers take no other part in
//! authorization, against a real broker state with the StandardAuthorizer:
//! with DENY ACLs on the cluster, a group and a topic, each answers Kafka's
//! error code for the refused resource and serves the others.

use gregor_metadata::acl::{
    AclBinding, AclOperation, AclPermission, PatternType, ResourceType, CLUSTER_NAME,
};
use gregor_protocol::kafka_protocol::messages::alter_client_quotas_request::{
    EntityData as AlterEntity, EntryData as AlterEntry, OpData,
};
use gregor_protocol::kafka_protocol::messages::describe_producers_request::TopicRequest as ProducersTopic;
use gregor_protocol::kafka_protocol::messages::describe_topic_partitions_request::TopicRequest as PartitionsTopic;
use gregor_protocol::kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use gregor_protocol::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use gregor_protocol::kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use gregor_protocol::kafka_protocol::messages::{
    AlterClientQuotasRequest, ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest,
    DescribeClientQuotasRequest, DescribeLogDirsRequest, DescribeProducersRequest,
    DescribeTopicPartitionsRequest, ElectLeadersRequest, GroupId, ListConfigResourcesRequest,
    ListGroupsRequest, OffsetCommitRequest, OffsetDeleteRequest, OffsetForLeaderEpochRequest,
    TopicName,
};
use gregor_protocol::kafka_protocol::ResponseError;

use crate::broker::Broker;
use crate::handlers::test_support::{add_acls, ctx, deny_anonymous, encodes, open_broker, s};
use crate::handlers::{
    alter_client_quotas, consumer_group_describe, consumer_group_heartbeat, describe_client_quotas,
    describe_log_dirs, describe_producers, describe_topic_partitions, elect_leaders,
    find_coordinator, list_config_resources, list_groups, metadata, offset_commit, offset_delete,
    offset_for_leader_epoch,
};

const CLUSTER_DENIED: i16 = ResponseError::ClusterAuthorizationFailed.code();
const GROUP_DENIED: i16 = ResponseError::GroupAuthorizationFailed.code();
const TOPIC_DENIED: i16 = ResponseError::TopicAuthorizationFailed.code();

/// A broker where everything without an ACL is allowed, with topics "t"
/// and "secret", offsets committed by groups "g" and "closed", and then
/// DENY ACLs on the cluster (every operation), group "closed" and topic
/// "secret".
fn secured(dir: &std::path::Path) -> std::sync::Arc<Broker> {
    let broker = open_broker(
        dir,
        &[
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=true",
            "offsets.topic.num.partitions=2",
        ],
    );
    metadata::auto_create_topic(&broker, "t").expect("topic t");
    metadata::auto_create_topic(&broker, "secret").expect("topic secret");
    find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");
    for group in ["g", "closed"] {
        let topics = ["t", "secret"]
            .iter()
            .map(|t| {
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(t)))
                    .with_partitions(vec![OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1)])
            })
            .collect();
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(topics);
        let resp = offset_commit::handle(&broker, &ctx(8), req);
        assert!(resp
            .topics
            .iter()
            .all(|t| t.partitions.iter().all(|p| p.error_code == 0)));
    }
    let denials = [
        deny_anonymous(ResourceType::Cluster, CLUSTER_NAME, AclOperation::All),
        deny_anonymous(ResourceType::Group, "closed", AclOperation::All),
        deny_anonymous(ResourceType::Topic, "secret", AclOperation::All),
    ];
    add_acls(&broker, &denials);
    broker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_apis_refuse_denied_groups_and_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured(dir.path());

    // ListGroups: without DESCRIBE on the cluster, only describable groups.
    let listed = list_groups::handle(&broker, &ctx(5), ListGroupsRequest::default());
    let ids: Vec<&str> = listed.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(ids, vec!["g"]);

    // OffsetDelete: DELETE on the group, then READ on each topic.
    let delete = |group: &str| {
        let topics = ["t", "secret"]
            .iter()
            .map(|t| {
                OffsetDeleteRequestTopic::default()
                    .with_name(TopicName(s(t)))
                    .with_partitions(vec![
                        OffsetDeleteRequestPartition::default().with_partition_index(0)
                    ])
            })
            .collect();
        let req = OffsetDeleteRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(topics);
        offset_delete::handle(&broker, &ctx(0), req)
    };
    assert_eq!(delete("closed").error_code, GROUP_DENIED);
    let deleted = delete("g");
    encodes(&deleted, 0);
    let codes: Vec<(&str, i16)> = deleted
        .topics
        .iter()
        .map(|t| (t.name.as_str(), t.partitions[0].error_code))
        .collect();
    assert_eq!(codes, vec![("t", 0), ("secret", TOPIC_DENIED)]);

    // ConsumerGroupHeartbeat: READ on the group, DESCRIBE on every
    // subscribed topic.
    let join = |group: &str, topics: &[&str]| {
        let req = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s("m"))
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(topics.iter().map(|t| TopicName(s(t))).collect()))
            .with_topic_partitions(Some(Vec::new()));
        consumer_group_heartbeat::handle(&broker, &ctx(1), req)
    };
    assert_eq!(join("closed", &["t"]).error_code, GROUP_DENIED);
    assert_eq!(join("h", &["t", "secret"]).error_code, TOPIC_DENIED);
    let joined = join("h", &["t"]);
    assert_eq!(joined.error_code, 0, "{:?}", joined.error_message);
    assert_eq!(joined.member_epoch, 1);

    // ConsumerGroupDescribe: refused once a member's topic is hidden.
    let describe = || {
        let req = ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s("h"))]);
        let resp = consumer_group_describe::handle(&broker, &ctx(0), req);
        encodes(&resp, 0);
        resp.groups.into_iter().next().expect("one group")
    };
    let seen = describe();
    assert_eq!((seen.error_code, seen.members.len()), (0, 1));
    add_acls(
        &broker,
        &[deny_anonymous(
            ResourceType::Topic,
            "t",
            AclOperation::Describe,
        )],
    );
    let hidden = describe();
    assert_eq!(hidden.error_code, TOPIC_DENIED);
    assert!(hidden.members.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_apis_need_their_cluster_operation() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured(dir.path());

    // DescribeLogDirs: no directories; the error code exists from v3 on.
    for v in describe_log_dirs::SUPPORT.min..=describe_log_dirs::SUPPORT.max {
        let resp = describe_log_dirs::handle(&broker, &ctx(v), DescribeLogDirsRequest::default());
        encodes(&resp, v);
        assert!(resp.results.is_empty());
        assert_eq!(resp.error_code, if v >= 3 { CLUSTER_DENIED } else { 0 });
    }

    let elect =
        ElectLeadersRequest::default()
            .with_topic_partitions(Some(vec![TopicPartitions::default()
                .with_topic(TopicName(s("t")))
                .with_partitions(vec![0])]));
    let elected = elect_leaders::handle(&broker, &ctx(2), elect);
    encodes(&elected, 2);
    assert_eq!(elected.error_code, CLUSTER_DENIED);
    let result = &elected.replica_election_results[0].partition_result[0];
    assert_eq!(result.error_code, CLUSTER_DENIED);

    let listed =
        list_config_resources::handle(&broker, &ctx(1), ListConfigResourcesRequest::default());
    assert_eq!(listed.error_code, CLUSTER_DENIED);
    assert!(listed.config_resources.is_empty());

    let described =
        describe_client_quotas::handle(&broker, &ctx(1), DescribeClientQuotasRequest::default());
    encodes(&described, 1);
    assert_eq!(described.error_code, CLUSTER_DENIED);
    assert_eq!(described.entries, None);

    let entry = AlterEntry::default()
        .with_entity(vec![AlterEntity::default()
            .with_entity_type(s("client-id"))
            .with_entity_name(Some(s("app")))])
        .with_ops(vec![OpData::default()
            .with_key(s("producer_byte_rate"))
            .with_value(1024.0)]);
    let altered = alter_client_quotas::handle(
        &broker,
        &ctx(1),
        AlterClientQuotasRequest::default().with_entries(vec![entry]),
    )
    .await;
    encodes(&altered, 1);
    assert_eq!(altered.entries[0].error_code, CLUSTER_DENIED);
    assert!(broker.metadata.image().client_quotas.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_apis_refuse_denied_topics_only() {
    let dir = tempfile::tempdir().unwrap();
    let broker = secured(dir.path());

    let producers = DescribeProducersRequest::default().with_topics(
        ["t", "secret"]
            .iter()
            .map(|t| {
                ProducersTopic::default()
                    .with_name(TopicName(s(t)))
                    .with_partition_indexes(vec![0])
            })
            .collect(),
    );
    let described = describe_producers::handle(&broker, &ctx(0), producers);
    encodes(&described, 0);
    let codes: Vec<(String, i16)> = described
        .topics
        .iter()
        .map(|t| (t.name.to_string(), t.partitions[0].error_code))
        .collect();
    assert_eq!(
        codes,
        vec![("t".into(), 0), ("secret".into(), TOPIC_DENIED)]
    );

    // OffsetForLeaderEpoch: without CLUSTER_ACTION, DESCRIBE per topic.
    let epochs = OffsetForLeaderEpochRequest::default().with_topics(
        ["t", "secret"]
            .iter()
            .map(|t| {
                OffsetForLeaderTopic::default()
                    .with_topic(TopicName(s(t)))
                    .with_partitions(vec![OffsetForLeaderPartition::default()
                        .with_partition(0)
                        .with_current_leader_epoch(-1)
                        .with_leader_epoch(0)])
            })
            .collect(),
    );
    let ends = offset_for_leader_epoch::handle(&broker, &ctx(4), epochs);
    encodes(&ends, 4);
    let codes: Vec<(String, i16)> = ends
        .topics
        .iter()
        .map(|t| (t.topic.to_string(), t.partitions[0].error_code))
        .collect();
    assert_eq!(
        codes,
        vec![("t".into(), 0), ("secret".into(), TOPIC_DENIED)]
    );

    let named = DescribeTopicPartitionsRequest::default()
        .with_topics(
            ["secret", "t"]
                .iter()
                .map(|t| PartitionsTopic::default().with_name(TopicName(s(t))))
                .collect(),
        )
        .with_response_partition_limit(100);
    let partitions = describe_topic_partitions::handle(&broker, &ctx(0), named);
    encodes(&partitions, 0);
    let seen: Vec<(String, i16, i32)> = partitions
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            (name, t.error_code, t.topic_authorized_operations)
        })
        .collect();
    // "t": every topic operation is allowed (no ACL names it).
    let all_ops = crate::handlers::metadata::TOPIC_OPERATIONS_ALL;
    assert_eq!(
        seen,
        vec![
            ("t".into(), 0, all_ops),
            ("secret".into(), TOPIC_DENIED, i32::MIN)
        ]
    );
    let everything = describe_topic_partitions::handle(
        &broker,
        &ctx(0),
        DescribeTopicPartitionsRequest::default().with_response_partition_limit(2000),
    );
    assert!(everything
        .topics
        .iter()
        .all(|t| t.name.as_ref().is_some_and(|n| n.as_str() != "secret")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producers_need_idempotent_write_or_write_on_some_topic() {
    use gregor_protocol::kafka_protocol::messages::InitProducerIdRequest;
    let dir = tempfile::tempdir().unwrap();
    let broker = open_broker(
        dir.path(),
        &["authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"],
    );
    let init = || {
        let req = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000);
        let resp = crate::handlers::init_producer_id::handle(&broker, &ctx(4), req);
        encodes(&resp, 4);
        resp.error_code
    };
    let add = |acl: AclBinding| add_acls(&broker, &[acl]);
    let allow = |rtype, name: &str, pattern, op| AclBinding {
        permission: AclPermission::Allow,
        pattern_type: pattern,
        ..deny_anonymous(rtype, name, op)
    };
    // No ACLs, and allow.everyone.if.no.acl.found is off.
    assert_eq!(init(), CLUSTER_DENIED);
    // WRITE on one topic is enough...
    add(allow(
        ResourceType::Topic,
        "orders",
        PatternType::Literal,
        AclOperation::Write,
    ));
    assert_eq!(init(), 0);
    // ...unless a DENY covers it.
    add(AclBinding {
        pattern_type: PatternType::Prefixed,
        ..deny_anonymous(ResourceType::Topic, "ord", AclOperation::Write)
    });
    assert_eq!(init(), CLUSTER_DENIED);
    // IDEMPOTENT_WRITE on the cluster grants it on its own.
    add(allow(
        ResourceType::Cluster,
        CLUSTER_NAME,
        PatternType::Literal,
        AclOperation::IdempotentWrite,
    ));
    assert_eq!(init(), 0);
}
