//! Heartbeat: keeps a member's session alive and tells it to rejoin while
//! its group rebalances (REBALANCE_IN_PROGRESS).

use std::sync::Arc;

use gregor_coordinator::classic::ClassicOutput;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{ApiKey, HeartbeatRequest, HeartbeatResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::Heartbeat, 0, 4);

pub fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let group_id = req.group_id.to_string();
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &group_id) {
        return HeartbeatResponse::default()
            .with_error_code(ResponseError::GroupAuthorizationFailed.code());
    }
    let ran = tokio::task::block_in_place(|| {
        broker.membership_event(&group_id, |shard| {
            (shard.heartbeat(&req, now_ms()), ClassicOutput::default())
        })
    });
    ran.unwrap_or_else(|e| {
        HeartbeatResponse::default().with_error_code(group_op_error_code(&group_id, &e).code())
    })
}
