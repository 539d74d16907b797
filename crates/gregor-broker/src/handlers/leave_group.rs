//! LeaveGroup: members leave a classic group (v3+ several at once, also by
//! `group.instance.id` alone); the rest rebalance.

use std::sync::Arc;

use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{ApiKey, LeaveGroupRequest, LeaveGroupResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::LeaveGroup, 0, 5);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let version = ctx.api_version;
    let group_id = req.group_id.to_string();
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &group_id) {
        return LeaveGroupResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let ran = tokio::task::block_in_place(|| {
        broker.membership_event(&group_id, |shard| {
            shard.leave_group(&req, version, now_ms())
        })
    });
    ran.unwrap_or_else(|e| {
        LeaveGroupResponse::default().with_error_code(group_op_error_code(&group_id, &e).code())
    })
}
