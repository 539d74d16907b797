//! ConsumerGroupDescribe (KIP-848): state, epochs, assignor and members
//! (with current and target assignments) of consumer groups.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::consumer_group_heartbeat::topics_snapshot;
use super::metadata::{AUTHORIZED_OPERATIONS_OMITTED, GROUP_OPERATIONS_ALL};
use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ConsumerGroupDescribe, 0, 1);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let topics = topics_snapshot(broker);
    let groups = req
        .group_ids
        .iter()
        .map(|id| {
            let id = id.as_str();
            if !broker.authorize(ctx, AclOperation::Describe, ResourceType::Group, id) {
                return DescribedGroup::default()
                    .with_group_id(GroupId(super::text(id)))
                    .with_error_code(ResponseError::GroupAuthorizationFailed.code())
                    .with_authorized_operations(AUTHORIZED_OPERATIONS_OMITTED);
            }
            let described = tokio::task::block_in_place(|| {
                broker.group_read(id, |shard| shard.consumer_group_describe([id], &topics))
            });
            let mut group = match described {
                Ok(mut groups) => groups.pop().unwrap_or_default(),
                Err(e) => DescribedGroup::default()
                    .with_group_id(GroupId(super::text(id)))
                    .with_error_code(group_op_error_code(id, &e).code()),
            };
            if group.error_code == 0 && !topics_describable(broker, ctx, &group) {
                // As Kafka (KAFKA-18813): a client may not learn of topics
                // it cannot describe through a group's members.
                let refused = ResponseError::TopicAuthorizationFailed;
                group = DescribedGroup::default()
                    .with_group_id(GroupId(super::text(id)))
                    .with_error_code(refused.code())
                    .with_error_message(Some(super::text(TOPIC_AUTHORIZATION_FAILED)));
            }
            group.authorized_operations = if req.include_authorized_operations {
                broker.authorized_operations(ctx, ResourceType::Group, id, GROUP_OPERATIONS_ALL)
            } else {
                AUTHORIZED_OPERATIONS_OMITTED
            };
            group
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

/// Kafka's message for TOPIC_AUTHORIZATION_FAILED.
const TOPIC_AUTHORIZATION_FAILED: &str = "Topic authorization failed.";

/// Whether the principal may DESCRIBE every topic the group's members
/// subscribe to, own or are to own.
fn topics_describable(broker: &Broker, ctx: &RequestContext, group: &DescribedGroup) -> bool {
    let mut names = std::collections::BTreeSet::new();
    for m in &group.members {
        names.extend(m.subscribed_topic_names.iter().map(|t| t.as_str()));
        for a in [&m.assignment, &m.target_assignment] {
            names.extend(a.topic_partitions.iter().map(|t| t.topic_name.as_str()));
        }
    }
    names
        .into_iter()
        .all(|n| broker.authorize(ctx, AclOperation::Describe, ResourceType::Topic, n))
}
