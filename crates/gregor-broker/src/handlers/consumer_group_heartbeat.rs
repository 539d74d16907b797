//! ConsumerGroupHeartbeat (KIP-848): a consumer joins, heartbeats in, or
//! leaves a consumer group; the answer carries its member epoch and, when
//! it changed, its assignment. Decisions are the coordinator's
//! (`gregor_coordinator::consumer`); this file takes the topic snapshot and
//! maps failures to error codes.

use std::sync::Arc;

use gregor_coordinator::classic::ClassicOutput;
use gregor_coordinator::consumer::{HeartbeatContext, TopicInfo, Topics};
use gregor_protocol::kafka_protocol::messages::{
    ApiKey, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
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
    let topics = topics_snapshot(broker);
    let client_host = format!("/{}", ctx.peer.ip());
    let fresh_member_id = Uuid::new_v4().to_string();
    let cx = HeartbeatContext {
        api_version: ctx.api_version,
        client_id: &ctx.client_id,
        client_host: &client_host,
        fresh_member_id: &fresh_member_id,
        topics: &topics,
        now_ms: now_ms(),
    };
    let ran = tokio::task::block_in_place(|| {
        broker.membership_event(&group_id, |shard| {
            (
                shard.consumer_group_heartbeat(&req, &cx),
                ClassicOutput::default(),
            )
        })
    });
    ran.unwrap_or_else(|e| {
        ConsumerGroupHeartbeatResponse::default()
            .with_error_code(group_op_error_code(&group_id, &e).code())
    })
}

/// The cluster's non-internal topics as consumer groups see them.
pub fn topics_snapshot(broker: &Broker) -> Topics {
    broker
        .metadata
        .image()
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
