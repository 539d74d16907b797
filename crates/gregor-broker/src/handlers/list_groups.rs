//! ListGroups: every group this broker coordinates, optionally filtered by
//! state (v4+) and type (v5+). As in Kafka, a principal without DESCRIBE on
//! the cluster sees only the groups it may DESCRIBE.

use std::sync::Arc;

use gregor_coordinator::OFFSETS_TOPIC;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{ApiKey, ListGroupsRequest, ListGroupsResponse};

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::ListGroups, 0, 5);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<&str> = req.states_filter.iter().map(|s| s.as_str()).collect();
    let types: Vec<&str> = req.types_filter.iter().map(|s| s.as_str()).collect();
    let mut groups = Vec::new();
    for index in 0..broker.groups.partitions() {
        if broker.replicas.get(OFFSETS_TOPIC, index).is_some() {
            groups.extend(broker.groups.shard(index).list_groups(&states, &types));
        }
    }
    if !broker.authorize_cluster(ctx, AclOperation::Describe) {
        groups.retain(|g| {
            broker.authorize(
                ctx,
                AclOperation::Describe,
                ResourceType::Group,
                &g.group_id,
            )
        });
    }
    ListGroupsResponse::default().with_groups(groups)
}
