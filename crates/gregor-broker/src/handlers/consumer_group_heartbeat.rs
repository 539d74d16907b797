//! ConsumerGroupHeartbeat (KIP-848): a consumer joins, heartbeats in, or
//! leaves a consumer group; the answer carries its member epoch and, when
//! it changed, its assignment. Decisions are the coordinator's
//! (`gregor_coordinator::consumer`); this file takes the topic snapshot and
//! maps failures to error codes.

use std::sync::Arc;

use gregor_coordinator::consumer::{HeartbeatContext, TopicInfo, Topics};
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ConsumerGroupHeartbeat, 0, 1);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let group_id = req.group_id.to_string();
    if let Some(code) = refused(broker, ctx, &req) {
        return ConsumerGroupHeartbeatResponse::default().with_error_code(code.code());
    }
    let image = broker.metadata.image();
    let topics = image_topics(&image);
    // The group's own configs (IncrementalAlterConfigs on the GROUP
    // resource) win over the broker's group.consumer.* settings.
    let group_config = |key: &str| {
        image
            .group_configs(&group_id)
            .and_then(|c| c.get(key))
            .and_then(|v| v.trim().parse::<i32>().ok())
    };
    let client_host = format!("/{}", ctx.peer.ip());
    let fresh_member_id = Uuid::new_v4().to_string();
    let cx = HeartbeatContext {
        api_version: ctx.api_version,
        client_id: &ctx.client_id,
        client_host: &client_host,
        fresh_member_id: &fresh_member_id,
        topics: &topics,
        now_ms: now_ms(),
        session_timeout_ms: group_config("consumer.session.timeout.ms"),
        heartbeat_interval_ms: group_config("consumer.heartbeat.interval.ms"),
    };
    let ran = tokio::task::block_in_place(|| {
        broker.consumer_group_event(&group_id, |shard| {
            shard.consumer_group_heartbeat_event(&req, &cx)
        })
    });
    ran.unwrap_or_else(|e| {
        ConsumerGroupHeartbeatResponse::default()
            .with_error_code(group_op_error_code(&group_id, &e).code())
    })
}

/// Kafka's checks before the coordinator sees the heartbeat: READ on the
/// group, and DESCRIBE on every topic named in the subscription (a client
/// may not learn of topics it cannot describe by subscribing to them).
fn refused(
    broker: &Broker,
    ctx: &RequestContext,
    req: &ConsumerGroupHeartbeatRequest,
) -> Option<ResponseError> {
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &req.group_id) {
        return Some(ResponseError::GroupAuthorizationFailed);
    }
    let names = req.subscribed_topic_names.as_deref().unwrap_or_default();
    names
        .iter()
        .any(|n| !broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, n))
        .then_some(ResponseError::TopicAuthorizationFailed)
}

/// The cluster's non-internal topics as consumer groups see them.
pub fn topics_snapshot(broker: &Broker) -> Topics {
    image_topics(&broker.metadata.image())
}

/// The non-internal topics of a metadata image, by name.
pub fn image_topics(image: &gregor_metadata::MetadataImage) -> Topics {
    image
        .topics()
        .filter(|t| !t.is_internal())
        .map(|t| {
            let info = TopicInfo {
                id: t.topic_id,
                partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
            };
            (t.name.clone(), info)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Join, describe and leave through the handlers against a real broker
    //! state, each response encoded at every version served.

    use gregor_protocol::kafka_protocol::messages::{
        ConsumerGroupDescribeRequest, GroupId, TopicName,
    };
    use gregor_protocol::kafka_protocol::protocol::StrBytes;
    use gregor_protocol::kafka_protocol::ResponseError;

    use super::*;
    use crate::handlers::test_support::*;

    use crate::handlers::{consumer_group_describe, find_coordinator, metadata, text};

    fn join(member_id: &str) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(text("g")))
            .with_member_id(StrBytes::from_string(member_id.to_string()))
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![TopicName(text("t"))]))
            .with_topic_partitions(Some(Vec::new()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_join_are_described_and_leave() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &["offsets.topic.num.partitions=2", "num.partitions=3"],
        );
        metadata::auto_create_topic(&broker, "t").expect("topic t");
        find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");

        // v0: the broker names the member.
        let v0 = handle(&broker, &ctx(0), join(""));
        assert_eq!(v0.error_code, 0, "{:?}", v0.error_message);
        let id = v0.member_id.clone().expect("member id").to_string();
        assert!(!id.is_empty());
        assert_eq!(v0.member_epoch, 1);
        let parts: usize = v0
            .assignment
            .as_ref()
            .expect("assignment")
            .topic_partitions
            .iter()
            .map(|t| t.partitions.len())
            .sum();
        assert_eq!(parts, 3);
        encodes(&v0, 0);
        // v1: the client names itself and must.
        let v1 = handle(&broker, &ctx(1), join("client-chosen-id"));
        assert_eq!(v1.member_id.as_deref(), Some("client-chosen-id"));
        encodes(&v1, 1);
        let nameless = handle(&broker, &ctx(1), join(""));
        assert_eq!(nameless.error_code, ResponseError::InvalidRequest.code());

        let req = ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(text("g")), GroupId(text("nope"))]);
        let described = consumer_group_describe::handle(&broker, &ctx(1), req);
        for v in consumer_group_describe::SUPPORT.min..=consumer_group_describe::SUPPORT.max {
            encodes(&described, v);
        }
        let g = &described.groups[0];
        assert_eq!((g.error_code, g.group_epoch, g.members.len()), (0, 2, 2));
        assert_eq!(g.group_state.as_str(), "Reconciling");
        assert_eq!(g.assignor_name.as_str(), "uniform");
        assert_eq!(
            described.groups[1].error_code,
            ResponseError::GroupIdNotFound.code()
        );

        let leave = join(&id).with_member_epoch(-1);
        let left = handle(&broker, &ctx(0), leave);
        assert_eq!((left.error_code, left.member_epoch), (0, -1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_groups_heartbeat_interval_config_is_what_members_get() {
        use gregor_metadata::{ConfigResource, MetadataRecord};
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(dir.path(), &["offsets.topic.num.partitions=2"]);
        metadata::auto_create_topic(&broker, "t").expect("topic t");
        find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");
        let before = handle(&broker, &ctx(1), join("m1"));
        assert_eq!(before.heartbeat_interval_ms, 5_000);
        let record = MetadataRecord::Config {
            resource: ConfigResource::Group,
            resource_name: "g".into(),
            name: "consumer.heartbeat.interval.ms".into(),
            value: Some("6000".into()),
        };
        broker
            .commit_metadata(|_| Ok::<_, std::convert::Infallible>((vec![record], ())))
            .unwrap()
            .unwrap();
        let after = handle(&broker, &ctx(1), join("m2"));
        assert_eq!(after.error_code, 0, "{:?}", after.error_message);
        assert_eq!(after.heartbeat_interval_ms, 6_000);
    }
}
