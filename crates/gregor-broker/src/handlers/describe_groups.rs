//! DescribeGroups: state, protocol and members (with their metadata and
//! assignments once Stable) of classic groups.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::describe_groups_response::DescribedGroup;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, GroupId,
};

use super::metadata::{AUTHORIZED_OPERATIONS_OMITTED, GROUP_OPERATIONS_ALL};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DescribeGroups, 0, 6);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let version = ctx.api_version;
    let groups = req
        .groups
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
                broker.group_read(id, |shard| shard.describe_groups([id], version))
            });
            let mut group = match described {
                Ok(mut groups) => groups.pop().unwrap_or_default(),
                Err(e) => DescribedGroup::default()
                    .with_group_id(GroupId(super::text(id)))
                    .with_error_code(group_op_error_code(id, &e).code()),
            };
            group.authorized_operations = if req.include_authorized_operations {
                broker.authorized_operations(ctx, ResourceType::Group, id, GROUP_OPERATIONS_ALL)
            } else {
                AUTHORIZED_OPERATIONS_OMITTED
            };
            group
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
