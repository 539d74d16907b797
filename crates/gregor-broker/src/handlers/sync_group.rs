//! SyncGroup: the leader hands out the assignment; every member receives
//! its part. A follower's answer waits for the leader's SyncGroup.

use std::sync::Arc;

use gregor_coordinator::classic::Waiter;
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{ApiKey, SyncGroupRequest, SyncGroupResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::SyncGroup, 0, 5);

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let version = ctx.api_version;
    if !broker.authorize(ctx, AclOperation::Read, ResourceType::Group, &req.group_id) {
        return failed(ResponseError::GroupAuthorizationFailed);
    }
    let (id, answer) = broker.group_waiters.park_sync();
    let waiter = Waiter {
        id,
        api_version: version,
    };
    let group_id = req.group_id.to_string();
    let ran = tokio::task::block_in_place(|| {
        broker.membership_event(&group_id, |shard| {
            ((), shard.sync_group(&req, waiter, now_ms()))
        })
    });
    if let Err(e) = ran {
        broker.group_waiters.cancel(id);
        return failed(group_op_error_code(&group_id, &e));
    }
    // The sender is dropped only if the broker goes away first.
    answer
        .await
        .unwrap_or_else(|_| failed(ResponseError::CoordinatorNotAvailable))
}

fn failed(code: ResponseError) -> SyncGroupResponse {
    SyncGroupResponse::default().with_error_code(code.code())
}
