//! DeleteGroups: remove Empty groups with all their committed offsets.
//! Each group is decided by its coordinator shard; its tombstones are
//! written to `__consumer_offsets` before the group's answer is final.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DeleteGroupsResponse,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::DeleteGroups, 0, 2);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let results = req
        .groups_names
        .iter()
        .map(|id| {
            let group_id = id.as_str();
            if !broker.authorize(ctx, AclOperation::Delete, ResourceType::Group, group_id) {
                return DeletableGroupResult::default()
                    .with_group_id(id.clone())
                    .with_error_code(ResponseError::GroupAuthorizationFailed.code());
            }
            let outcome = tokio::task::block_in_place(|| {
                broker.group_write(group_id, |shard| shard.delete_group(group_id))
            });
            let code = match outcome {
                Ok(refused) => refused.map_or(0, |e| e.code()),
                Err(e) => group_op_error_code(group_id, &e).code(),
            };
            DeletableGroupResult::default()
                .with_group_id(id.clone())
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
