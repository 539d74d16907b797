//! JoinGroup: a member (re)joins a classic group. The answer waits until
//! the group's join phase completes (every member rejoined, the rebalance
//! timeout passed, or for a new group the initial rebalance delay).

use std::sync::Arc;

use gregor_coordinator::classic::{ClientInfo, Waiter};
use gregor_metadata::acl::{AclOperation, ResourceType};
use gregor_protocol::kafka_protocol::messages::{ApiKey, JoinGroupRequest, JoinGroupResponse};
use gregor_protocol::kafka_protocol::ResponseError;
use uuid::Uuid;

use super::{ApiSupport, RequestContext};
use crate::broker::Broker;
use crate::group_membership::group_op_error_code;
use crate::time::now_ms;

pub const SUPPORT: ApiSupport = ApiSupport::all(ApiKey::JoinGroup, 0, 9);

/// Before v7 the protocol name is not nullable.
const NULLABLE_PROTOCOL_NAME_MIN_VERSION: i16 = 7;

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let version = ctx.api_version;
    if !broker.authorize(
        ctx,
        AclOperation::Read,
        ResourceType::Group,
        req.group_id.as_str(),
    ) {
        return failed(ResponseError::GroupAuthorizationFailed, &req, version);
    }
    let (id, answer) = broker.group_waiters.park_join();
    let waiter = Waiter {
        id,
        api_version: version,
    };
    let client = client_info(ctx);
    let fresh_id = Uuid::new_v4().to_string();
    let group_id = req.group_id.to_string();
    let ran = tokio::task::block_in_place(|| {
        broker.membership_event(&group_id, |shard| {
            (
                (),
                shard.join_group(&req, &client, waiter, &fresh_id, now_ms()),
            )
        })
    });
    if let Err(e) = ran {
        broker.group_waiters.cancel(id);
        return failed(group_op_error_code(&group_id, &e), &req, version);
    }
    // The sender is dropped only if the broker goes away first.
    answer
        .await
        .unwrap_or_else(|_| failed(ResponseError::CoordinatorNotAvailable, &req, version))
}

fn failed(code: ResponseError, req: &JoinGroupRequest, version: i16) -> JoinGroupResponse {
    let protocol_name = (version < NULLABLE_PROTOCOL_NAME_MIN_VERSION).then(Default::default);
    JoinGroupResponse::default()
        .with_error_code(code.code())
        .with_member_id(req.member_id.clone())
        .with_protocol_name(protocol_name)
}

/// The client as the group coordinator records it; the host as Kafka
/// shows it (`InetAddress.toString()`: a slash, then the address).
pub fn client_info(ctx: &RequestContext) -> ClientInfo {
    ClientInfo {
        client_id: ctx.client_id.clone(),
        client_host: format!("/{}", ctx.peer.ip()),
    }
}

#[cfg(test)]
mod tests {
    //! The six membership APIs through their handlers against a real broker
    //! state in a temporary directory, with the coordinator's timers driven
    //! by a background thread as the maintenance loop drives them. Every
    //! response is encoded at its request's version.

    use std::sync::atomic::{AtomicBool, Ordering};

    use gregor_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use gregor_protocol::kafka_protocol::messages::leave_group_request::MemberIdentity;
    use gregor_protocol::kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
    use gregor_protocol::kafka_protocol::messages::{
        DescribeGroupsRequest, GroupId, HeartbeatRequest, LeaveGroupRequest, ListGroupsRequest,
        SyncGroupRequest,
    };

    use super::*;
    use crate::handlers::test_support::*;

    use crate::handlers::{
        describe_groups, find_coordinator, heartbeat, leave_group, list_groups, sync_group,
    };

    /// Ticks the group coordinator every 10 ms until dropped.
    struct Ticker(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>);

    impl Ticker {
        fn start(broker: &Arc<Broker>) -> Ticker {
            let stop = Arc::new(AtomicBool::new(false));
            let (b, s) = (broker.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    b.tick_groups();
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            });
            Ticker(stop, Some(thread))
        }
    }

    impl Drop for Ticker {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
            if let Some(t) = self.1.take() {
                let _ = t.join();
            }
        }
    }

    fn join_req(group: &str, member_id: &str) -> JoinGroupRequest {
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(s(member_id))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(bytes::Bytes::from_static(b"sub"))])
    }

    /// Joins `group` as a new member at `version`: returns the answer.
    async fn join(broker: &Arc<Broker>, group: &str, version: i16) -> JoinGroupResponse {
        let first = handle(broker, &ctx(version), join_req(group, "")).await;
        encodes(&first, version);
        if version < 4 {
            return first;
        }
        assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
        assert!(first.member_id.starts_with("test-"));
        let second = handle(broker, &ctx(version), join_req(group, &first.member_id)).await;
        encodes(&second, version);
        second
    }

    fn sync_req(group: &str, member: &str, version: i16) -> SyncGroupRequest {
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(1)
            .with_member_id(s(member))
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(s(member))
                .with_assignment(bytes::Bytes::from_static(b"mine"))]);
        if version >= 5 {
            req.with_protocol_type(Some(s("consumer")))
                .with_protocol_name(Some(s("range")))
        } else {
            req
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_version_of_the_membership_apis_answers_and_encodes() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &[
                "offsets.topic.num.partitions=3",
                "group.initial.rebalance.delay.ms=0",
            ],
        );
        let no_topic = handle(&broker, &ctx(5), join_req("g", "")).await;
        assert_eq!(no_topic.error_code, ResponseError::NotCoordinator.code());
        find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");
        let ticker = Ticker::start(&broker);

        for v in SUPPORT.min..=SUPPORT.max {
            let r = join(&broker, &format!("join-v{v}"), v).await;
            assert_eq!((r.error_code, r.generation_id), (0, 1), "JoinGroup v{v}");
            assert_eq!(r.leader, r.member_id);
            assert_eq!(r.members.len(), 1);
        }
        let mut members = Vec::new();
        for v in sync_group::SUPPORT.min..=sync_group::SUPPORT.max {
            let group = format!("sync-v{v}");
            let member = join(&broker, &group, 5).await.member_id.to_string();
            let r = sync_group::handle(&broker, &ctx(v), sync_req(&group, &member, v)).await;
            encodes(&r, v);
            assert_eq!(
                (r.error_code, r.assignment.as_ref()),
                (0, &b"mine"[..]),
                "SyncGroup v{v}"
            );
            members.push((group, member));
        }
        let (group, member) = members[0].clone();
        for v in heartbeat::SUPPORT.min..=heartbeat::SUPPORT.max {
            let req = HeartbeatRequest::default()
                .with_group_id(GroupId(s(&group)))
                .with_generation_id(1)
                .with_member_id(s(&member));
            let r = heartbeat::handle(&broker, &ctx(v), req);
            encodes(&r, v);
            assert_eq!(r.error_code, 0, "Heartbeat v{v}");
        }
        for v in describe_groups::SUPPORT.min..=describe_groups::SUPPORT.max {
            let req = DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(s(&group)), GroupId(s("missing"))])
                .with_include_authorized_operations(v >= 3);
            let r = describe_groups::handle(&broker, &ctx(v), req);
            encodes(&r, v);
            let g = &r.groups[0];
            assert_eq!(
                (g.group_state.as_str(), g.protocol_data.as_str()),
                ("Stable", "range")
            );
            assert_eq!(g.members[0].client_host.as_str(), "/127.0.0.1");
            assert_eq!(g.members[0].member_assignment.as_ref(), b"mine");
            assert_eq!(r.groups[1].group_state.as_str(), "Dead");
        }
        for v in list_groups::SUPPORT.min..=list_groups::SUPPORT.max {
            let mut req = ListGroupsRequest::default();
            if v >= 4 {
                req.states_filter = vec![s("Stable")];
            }
            if v >= 5 {
                req.types_filter = vec![s("classic")];
            }
            let r = list_groups::handle(&broker, &ctx(v), req);
            encodes(&r, v);
            assert!(
                r.groups.iter().any(|g| g.group_id.as_str() == group),
                "ListGroups v{v}"
            );
        }
        for v in leave_group::SUPPORT.min..=leave_group::SUPPORT.max {
            let (group, member) = &members[v as usize];
            let mut req = LeaveGroupRequest::default().with_group_id(GroupId(s(group)));
            if v >= 3 {
                req.members = vec![MemberIdentity::default().with_member_id(s(member))];
            } else {
                req.member_id = s(member);
            }
            let r = leave_group::handle(&broker, &ctx(v), req);
            encodes(&r, v);
            assert_eq!(r.error_code, 0, "LeaveGroup v{v}");
            assert!(r.members.iter().all(|m| m.error_code == 0));
        }
        drop(ticker);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stable_group_is_restored_when_the_broker_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let broker = open_broker(
            dir.path(),
            &[
                "offsets.topic.num.partitions=3",
                "group.initial.rebalance.delay.ms=0",
            ],
        );
        find_coordinator::ensure_offsets_topic(&broker).expect("offsets topic");
        let ticker = Ticker::start(&broker);
        let member = join(&broker, "kept", 5).await.member_id.to_string();
        let r = sync_group::handle(&broker, &ctx(3), sync_req("kept", &member, 3)).await;
        assert_eq!(r.error_code, 0);
        drop(ticker);
        broker.close().expect("close");
        drop(broker);

        let broker = open_broker(
            dir.path(),
            &[
                "offsets.topic.num.partitions=3",
                "group.initial.rebalance.delay.ms=0",
            ],
        );
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(s("kept")))
            .with_generation_id(1)
            .with_member_id(s(&member));
        assert_eq!(heartbeat::handle(&broker, &ctx(3), req).error_code, 0);
        let r = sync_group::handle(&broker, &ctx(3), sync_req("kept", &member, 3)).await;
        assert_eq!(r.assignment.as_ref(), b"mine");
    }
}
