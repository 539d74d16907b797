//! Membership events driven through a shard with a test clock: the join /
//! sync / heartbeat protocol, member ids, errors and static membership.
//! Rebalances, timeouts and persistence are in `tests_rebalance.rs`.

use bytes::Bytes;
use gregor_protocol::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use gregor_protocol::kafka_protocol::messages::leave_group_request::MemberIdentity;
use gregor_protocol::kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use gregor_protocol::kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;

use super::*;
use crate::{CoordinatorConfig, GroupCoordinatorShard};

pub(super) const T0: i64 = 1_700_000_000_000;
pub(super) const SESSION_MS: i32 = 10_000;
pub(super) const REBALANCE_MS: i32 = 30_000;
pub(super) const DELAY_MS: i32 = 3_000;
pub(super) const G: &str = "g";

pub(super) fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A shard, a clock, and the answers of parked requests as they complete.
pub(super) struct Harness {
    pub shard: GroupCoordinatorShard,
    pub now: i64,
    next_waiter: WaiterId,
    fresh: u64,
    pub joins: Vec<(WaiterId, JoinGroupResponse)>,
    pub syncs: Vec<(WaiterId, SyncGroupResponse)>,
    pub records: Vec<crate::CoordinatorRecord>,
}

/// A client's side of JoinGroup: what it sends.
#[derive(Clone)]
pub(super) struct Joiner<'a> {
    pub member_id: &'a str,
    pub instance: Option<&'a str>,
    pub protocol_type: &'a str,
    pub protocols: Vec<(&'a str, &'a [u8])>,
    pub version: i16,
    pub session_ms: i32,
}

pub(super) fn consumer(member_id: &str) -> Joiner<'_> {
    Joiner {
        member_id,
        instance: None,
        protocol_type: "consumer",
        protocols: vec![("range", b"sub-range"), ("roundrobin", b"sub-rr")],
        version: 5,
        session_ms: SESSION_MS,
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(ClassicConfig {
            initial_rebalance_delay_ms: DELAY_MS,
            ..ClassicConfig::default()
        })
    }

    pub fn with(classic: ClassicConfig) -> Harness {
        Harness {
            shard: GroupCoordinatorShard::new(
                0,
                CoordinatorConfig {
                    classic,
                    ..CoordinatorConfig::default()
                },
            ),
            now: T0,
            next_waiter: 1,
            fresh: 1,
            joins: Vec::new(),
            syncs: Vec::new(),
            records: Vec::new(),
        }
    }

    fn take(&mut self, out: ClassicOutput) {
        self.records.extend(out.records);
        for c in out.completions {
            match c {
                Completion::Join { waiter, response } => self.joins.push((waiter, response)),
                Completion::Sync { waiter, response } => self.syncs.push((waiter, response)),
            }
        }
    }

    /// Sends a JoinGroup; returns its waiter.
    pub fn join(&mut self, j: &Joiner<'_>) -> WaiterId {
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(s(G)))
            .with_session_timeout_ms(j.session_ms)
            .with_rebalance_timeout_ms(REBALANCE_MS)
            .with_member_id(s(j.member_id))
            .with_group_instance_id(j.instance.map(s))
            .with_protocol_type(s(j.protocol_type))
            .with_protocols(
                j.protocols
                    .iter()
                    .map(|(n, m)| {
                        JoinGroupRequestProtocol::default()
                            .with_name(s(n))
                            .with_metadata(Bytes::copy_from_slice(m))
                    })
                    .collect(),
            );
        let waiter = Waiter {
            id: self.next_waiter,
            api_version: j.version,
        };
        self.next_waiter += 1;
        let fresh = format!("uuid{}", self.fresh);
        self.fresh += 1;
        let client = ClientInfo {
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
        };
        let out = self
            .shard
            .join_group(&req, &client, waiter, &fresh, self.now);
        self.take(out);
        waiter.id
    }

    /// The answer to `waiter`'s JoinGroup, if it came.
    pub fn joined(&self, waiter: WaiterId) -> Option<&JoinGroupResponse> {
        self.joins
            .iter()
            .find(|(w, _)| *w == waiter)
            .map(|(_, r)| r)
    }

    pub fn join_code(&self, waiter: WaiterId) -> i16 {
        self.joined(waiter).expect("join answered").error_code
    }

    /// A dynamic member joins as a v5 client does: MEMBER_ID_REQUIRED,
    /// then again with the id. Returns (member id, waiter of the 2nd join).
    pub fn join_new(&mut self, j: &Joiner<'_>) -> (String, WaiterId) {
        let w = self.join(j);
        let r = self.joined(w).expect("answered at once");
        assert_eq!(r.error_code, ResponseError::MemberIdRequired.code());
        let id = r.member_id.to_string();
        let w2 = self.join(&Joiner {
            member_id: &id,
            ..j.clone()
        });
        (id, w2)
    }

    pub fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: &[(&str, &[u8])],
    ) -> WaiterId {
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(s(G)))
            .with_generation_id(generation)
            .with_member_id(s(member_id))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(s(m))
                            .with_assignment(Bytes::copy_from_slice(a))
                    })
                    .collect(),
            );
        let waiter = Waiter {
            id: self.next_waiter,
            api_version: 3,
        };
        self.next_waiter += 1;
        let out = self.shard.sync_group(&req, waiter, self.now);
        self.take(out);
        waiter.id
    }

    pub fn synced(&self, waiter: WaiterId) -> Option<&SyncGroupResponse> {
        self.syncs
            .iter()
            .find(|(w, _)| *w == waiter)
            .map(|(_, r)| r)
    }

    pub fn heartbeat(&mut self, member_id: &str, generation: i32) -> i16 {
        self.heartbeat_static(member_id, None, generation)
    }

    pub fn heartbeat_static(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation: i32,
    ) -> i16 {
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(s(G)))
            .with_generation_id(generation)
            .with_member_id(s(member_id))
            .with_group_instance_id(instance.map(s));
        self.shard.heartbeat(&req, self.now).error_code
    }

    pub fn leave(&mut self, members: &[(&str, Option<&str>)]) -> LeaveGroupResponse {
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(s(G)))
            .with_members(
                members
                    .iter()
                    .map(|(m, i)| {
                        MemberIdentity::default()
                            .with_member_id(s(m))
                            .with_group_instance_id(i.map(s))
                    })
                    .collect(),
            );
        let (resp, out) = self.shard.leave_group(&req, 3, self.now);
        self.take(out);
        resp
    }

    /// Moves the clock and fires what is due.
    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        let out = self.shard.tick(self.now);
        self.take(out);
    }

    /// Lets the initial rebalance delay run out (it extends while members
    /// keep arriving).
    pub fn settle(&mut self) {
        for _ in 0..(REBALANCE_MS / DELAY_MS + 1) {
            if self.group().state() != GroupState::PreparingRebalance {
                return;
            }
            self.advance(i64::from(DELAY_MS));
        }
        panic!("the join phase did not complete");
    }

    pub fn group(&self) -> &ClassicGroup {
        &self.shard.group(G).expect("group exists").classic
    }

    /// Three members through MEMBER_ID_REQUIRED, the initial delay and the
    /// leader's SyncGroup. Returns the member ids, leader first.
    pub fn stable_group_of_three(&mut self) -> Vec<String> {
        let ids: Vec<(String, WaiterId)> = (0..3).map(|_| self.join_new(&consumer(""))).collect();
        self.settle();
        let leader = self.joined(ids[0].1).expect("joined").leader.to_string();
        let mut order: Vec<String> = vec![leader.clone()];
        order.extend(
            ids.iter()
                .map(|(id, _)| id.clone())
                .filter(|id| *id != leader),
        );
        let assignments: Vec<(String, Vec<u8>)> = order
            .iter()
            .map(|id| (id.clone(), format!("a-{id}").into_bytes()))
            .collect();
        let refs: Vec<(&str, &[u8])> = assignments
            .iter()
            .map(|(m, a)| (m.as_str(), a.as_slice()))
            .collect();
        for id in order.iter().skip(1) {
            self.sync(id, 1, &[]);
        }
        self.sync(&leader, 1, &refs);
        assert_eq!(self.group().state(), GroupState::Stable);
        order
    }
}

#[test]
fn three_members_join_sync_and_heartbeat() {
    let mut h = Harness::new();
    let joined: Vec<(String, WaiterId)> = (0..3).map(|_| h.join_new(&consumer(""))).collect();
    // The first rebalance of a new group waits for the initial delay.
    assert_eq!(h.group().state(), GroupState::PreparingRebalance);
    assert!(joined.iter().all(|(_, w)| h.joined(*w).is_none()));
    // Members arrived during the delay: it is extended once more.
    h.advance(i64::from(DELAY_MS));
    assert!(h.joined(joined[0].1).is_none());
    h.advance(i64::from(DELAY_MS) - 1);
    assert!(h.joined(joined[0].1).is_none());
    h.advance(1);
    let responses: Vec<&JoinGroupResponse> =
        joined.iter().map(|(_, w)| h.joined(*w).unwrap()).collect();
    let leader = responses[0].leader.to_string();
    for (r, (id, _)) in responses.iter().zip(&joined) {
        assert_eq!(r.error_code, 0);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.member_id.as_str(), id);
        assert_eq!(r.leader.as_str(), leader);
        assert_eq!(r.protocol_name.as_ref().map(|p| p.as_str()), Some("range"));
        // Only the leader learns the members and their subscriptions.
        let expected = if *id == leader { 3 } else { 0 };
        assert_eq!(r.members.len(), expected);
    }
    let leader_view = responses
        .iter()
        .find(|r| r.member_id.as_str() == leader)
        .unwrap();
    assert!(leader_view
        .members
        .iter()
        .all(|m| m.metadata.as_ref() == b"sub-range"));
    assert_eq!(h.group().state(), GroupState::CompletingRebalance);

    // Followers' SyncGroups wait for the leader's.
    let followers: Vec<&String> = joined
        .iter()
        .map(|(id, _)| id)
        .filter(|id| **id != leader)
        .collect();
    let fw: Vec<WaiterId> = followers.iter().map(|id| h.sync(id, 1, &[])).collect();
    assert!(fw.iter().all(|w| h.synced(*w).is_none()));
    // Heartbeats during CompletingRebalance are fine.
    assert_eq!(h.heartbeat(followers[0], 1), 0);
    let assignment: Vec<(&str, &[u8])> = vec![
        (leader.as_str(), b"p0"),
        (followers[0].as_str(), b"p1"),
        (followers[1].as_str(), b"p2"),
    ];
    let records_before = h.records.len();
    let lw = h.sync(&leader, 1, &assignment);
    assert_eq!(h.synced(lw).unwrap().assignment.as_ref(), b"p0");
    assert_eq!(h.synced(fw[0]).unwrap().assignment.as_ref(), b"p1");
    assert_eq!(h.synced(fw[1]).unwrap().assignment.as_ref(), b"p2");
    assert_eq!(h.group().state(), GroupState::Stable);
    // The stable generation is written with everyone's assignment.
    assert_eq!(h.records.len(), records_before + 1);
    let stored =
        GroupMetadataValue::decode(h.records.last().unwrap().value.as_ref().unwrap()).unwrap();
    assert_eq!(stored.generation, 1);
    assert_eq!(stored.protocol.as_deref(), Some("range"));
    assert_eq!(stored.leader.as_deref(), Some(leader.as_str()));
    assert_eq!(stored.members.len(), 3);
    for id in joined.iter().map(|(id, _)| id) {
        assert_eq!(h.heartbeat(id, 1), 0);
    }
    // A late SyncGroup in Stable gets the member's assignment at once.
    let again = h.sync(followers[1], 1, &[]);
    assert_eq!(h.synced(again).unwrap().assignment.as_ref(), b"p2");
}

#[test]
fn new_members_of_v4_and_later_must_ask_for_a_member_id() {
    let mut h = Harness::new();
    let w = h.join(&consumer(""));
    let r = h.joined(w).unwrap();
    assert_eq!(r.error_code, ResponseError::MemberIdRequired.code());
    assert_eq!(r.member_id.as_str(), "client-uuid1");
    // The id is pending, not a member yet; the group exists (and was written).
    assert_eq!(h.group().num_members(), 0);
    assert_eq!(h.records.len(), 1);
    // It is forgotten after the session timeout unless the member returns.
    h.advance(i64::from(SESSION_MS));
    let late = h.join(&consumer("client-uuid1"));
    assert_eq!(h.join_code(late), ResponseError::UnknownMemberId.code());

    // A v3 client is added at once with a generated id.
    let mut h = Harness::new();
    let w = h.join(&Joiner {
        version: 3,
        ..consumer("")
    });
    assert!(h.joined(w).is_none());
    assert_eq!(h.group().num_members(), 1);
    h.advance(i64::from(DELAY_MS));
    let r = h.joined(w).unwrap();
    assert_eq!((r.error_code, r.member_id.as_str()), (0, "client-uuid1"));
}

#[test]
fn requests_are_checked_as_kafka_checks_them() {
    let mut h = Harness::new();
    // A member id for a group that does not exist.
    let w = h.join(&consumer("ghost"));
    assert_eq!(h.join_code(w), ResponseError::UnknownMemberId.code());
    assert!(h.shard.group(G).is_none());
    // Session timeouts outside group.{min,max}.session.timeout.ms.
    for session_ms in [5_999, 1_800_001] {
        let w = h.join(&Joiner {
            session_ms,
            ..consumer("")
        });
        assert_eq!(h.join_code(w), ResponseError::InvalidSessionTimeout.code());
    }
    // The first member needs a protocol type and protocols.
    let w = h.join(&Joiner {
        protocol_type: "",
        ..consumer("")
    });
    assert_eq!(
        h.join_code(w),
        ResponseError::InconsistentGroupProtocol.code()
    );
    let w = h.join(&Joiner {
        protocols: vec![],
        ..consumer("")
    });
    assert_eq!(
        h.join_code(w),
        ResponseError::InconsistentGroupProtocol.code()
    );
    // Heartbeat and SyncGroup to an unknown group.
    assert_eq!(h.heartbeat("m", 1), ResponseError::UnknownMemberId.code());
    let w = h.sync("m", 1, &[]);
    assert_eq!(
        h.synced(w).unwrap().error_code,
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn members_must_share_the_protocol_type_and_a_protocol() {
    let mut h = Harness::new();
    h.join_new(&consumer(""));
    let w = h.join(&Joiner {
        protocol_type: "connect",
        ..consumer("")
    });
    assert_eq!(
        h.join_code(w),
        ResponseError::InconsistentGroupProtocol.code()
    );
    let w = h.join(&Joiner {
        protocols: vec![("sticky", b"x")],
        ..consumer("")
    });
    assert_eq!(
        h.join_code(w),
        ResponseError::InconsistentGroupProtocol.code()
    );
    // One shared protocol is enough.
    let (_, w) = h.join_new(&Joiner {
        protocols: vec![("sticky", b"x"), ("roundrobin", b"rr")],
        ..consumer("")
    });
    h.settle();
    let r = h.joined(w).unwrap();
    assert_eq!(r.error_code, 0);
    assert_eq!(
        r.protocol_name.as_ref().map(|p| p.as_str()),
        Some("roundrobin")
    );
}

#[test]
fn the_protocol_with_most_votes_among_common_ones_wins() {
    let mut h = Harness::new();
    let prefers_rr = Joiner {
        protocols: vec![("roundrobin", b"rr"), ("range", b"r")],
        ..consumer("")
    };
    h.join_new(&consumer(""));
    h.join_new(&prefers_rr);
    let (_, w) = h.join_new(&prefers_rr);
    h.settle();
    assert_eq!(
        h.joined(w)
            .unwrap()
            .protocol_name
            .as_ref()
            .map(|p| p.as_str()),
        Some("roundrobin")
    );
}

#[test]
fn wrong_generations_and_unknown_members_are_refused() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    assert_eq!(
        h.heartbeat(&ids[1], 0),
        ResponseError::IllegalGeneration.code()
    );
    assert_eq!(
        h.heartbeat(&ids[1], 2),
        ResponseError::IllegalGeneration.code()
    );
    assert_eq!(
        h.heartbeat("nobody", 1),
        ResponseError::UnknownMemberId.code()
    );
    let w = h.sync(&ids[1], 7, &[]);
    assert_eq!(
        h.synced(w).unwrap().error_code,
        ResponseError::IllegalGeneration.code()
    );
    let g = h.group();
    assert_eq!(g.validate_offset_commit(&ids[1], None, 1), Ok(()));
    assert_eq!(
        g.validate_offset_commit(&ids[1], None, 0),
        Err(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        g.validate_offset_commit("nobody", None, 1),
        Err(ResponseError::UnknownMemberId)
    );
    // A simple commit (no member, generation -1) only goes to an empty group.
    assert_eq!(
        g.validate_offset_commit("", None, -1),
        Err(ResponseError::UnknownMemberId)
    );
}

#[test]
fn commits_while_completing_a_rebalance_are_told_to_wait() {
    let mut h = Harness::with(ClassicConfig {
        initial_rebalance_delay_ms: 0,
        ..ClassicConfig::default()
    });
    let (id, _) = h.join_new(&consumer(""));
    h.advance(1);
    assert_eq!(h.group().state(), GroupState::CompletingRebalance);
    assert_eq!(
        h.group().validate_offset_commit(&id, None, 1),
        Err(ResponseError::RebalanceInProgress)
    );
}

#[test]
fn static_member_rejoining_replaces_its_member_id_without_a_rebalance() {
    let mut h = Harness::new();
    let stat = Joiner {
        instance: Some("i1"),
        ..consumer("")
    };
    // Static members get their id at once (no MEMBER_ID_REQUIRED).
    let w = h.join(&stat);
    let (other, _) = h.join_new(&consumer(""));
    h.settle();
    let first = h.joined(w).unwrap().clone();
    assert_eq!(first.member_id.as_str(), "i1-uuid1");
    let leader = first.leader.to_string();
    h.sync(&other, 1, &[]);
    h.sync(
        &leader,
        1,
        &[("i1-uuid1", b"mine"), (other.as_str(), b"theirs")],
    );
    assert_eq!(h.group().state(), GroupState::Stable);

    // The static member restarts: it joins again without a member id.
    let records_before = h.records.len();
    let w = h.join(&stat);
    let r = h.joined(w).unwrap().clone();
    assert_eq!(r.error_code, 0);
    let new_id = r.member_id.to_string();
    assert_ne!(new_id, "i1-uuid1");
    assert_eq!(r.generation_id, 1);
    assert_eq!(h.group().state(), GroupState::Stable);
    assert_eq!(h.group().generation_id(), 1);
    assert_eq!(h.group().static_member_id("i1"), Some(new_id.as_str()));
    // The new member id is persisted, and the assignment is kept.
    assert_eq!(h.records.len(), records_before + 1);
    let s1 = h.sync(&new_id, 1, &[]);
    assert_eq!(h.synced(s1).unwrap().assignment.as_ref(), b"mine");
    // The old incarnation is fenced.
    assert_eq!(
        h.heartbeat_static("i1-uuid1", Some("i1"), 1),
        ResponseError::FencedInstanceId.code()
    );
    assert_eq!(
        h.group().validate_offset_commit("i1-uuid1", Some("i1"), 1),
        Err(ResponseError::FencedInstanceId)
    );
    assert_eq!(h.heartbeat_static(&new_id, Some("i1"), 1), 0);
    let w = h.join(&Joiner {
        member_id: "i1-uuid1",
        ..stat.clone()
    });
    assert_eq!(h.join_code(w), ResponseError::FencedInstanceId.code());
}

#[test]
fn static_member_rejoining_with_other_protocols_rebalances() {
    let mut h = Harness::new();
    let stat = Joiner {
        instance: Some("i1"),
        ..consumer("")
    };
    let w = h.join(&stat);
    h.advance(i64::from(DELAY_MS));
    let id = h.joined(w).unwrap().member_id.to_string();
    h.sync(&id, 1, &[(id.as_str(), b"a")]);
    let w = h.join(&Joiner {
        protocols: vec![("roundrobin", b"rr"), ("range", b"r")],
        ..stat.clone()
    });
    // The only member now prefers another protocol: a rebalance, completed
    // at once because everyone (one member) has rejoined.
    let r = h.joined(w).unwrap();
    assert_eq!(r.generation_id, 2);
    assert_eq!(
        r.protocol_name.as_ref().map(|p| p.as_str()),
        Some("roundrobin")
    );
}

#[test]
fn a_full_group_refuses_new_members() {
    let mut h = Harness::with(ClassicConfig {
        max_size: 2,
        initial_rebalance_delay_ms: DELAY_MS,
        ..ClassicConfig::default()
    });
    h.join_new(&consumer(""));
    h.join_new(&consumer(""));
    let w = h.join(&consumer(""));
    // The third gets an id, but cannot join with it.
    let id = h.joined(w).unwrap().member_id.to_string();
    let w = h.join(&consumer(&id));
    assert_eq!(h.join_code(w), ResponseError::GroupMaxSizeReached.code());
    assert_eq!(h.joined(w).unwrap().member_id.as_str(), "");
}

#[test]
fn leave_group_answers_each_member_and_old_versions_once() {
    let mut h = Harness::new();
    let ids = h.stable_group_of_three();
    let resp = h.leave(&[
        (ids[1].as_str(), None),
        ("nobody", None),
        ("", Some("nope")),
    ]);
    let codes: Vec<i16> = resp.members.iter().map(|m| m.error_code).collect();
    assert_eq!(
        codes,
        vec![
            0,
            ResponseError::UnknownMemberId.code(),
            ResponseError::UnknownMemberId.code()
        ]
    );
    assert_eq!(h.group().num_members(), 2);

    // LeaveGroup v1: one member id, one top-level error.
    let req = LeaveGroupRequest::default()
        .with_group_id(GroupId(s(G)))
        .with_member_id(s("nobody"));
    let (resp, _) = h.shard.leave_group(&req, 1, h.now);
    assert_eq!(resp.error_code, ResponseError::UnknownMemberId.code());
    assert!(resp.members.is_empty());
    let req = req.with_member_id(s(&ids[2]));
    let (resp, _) = h.shard.leave_group(&req, 1, h.now);
    assert_eq!(resp.error_code, 0);
    assert_eq!(h.group().num_members(), 1);
}

#[test]
fn join_responses_follow_the_wire_rules_of_their_version() {
    let mut h = Harness::new();
    // v6 and older: the protocol name is never null.
    let w = h.join(&Joiner {
        version: 6,
        protocol_type: "",
        ..consumer("")
    });
    assert_eq!(h.joined(w).unwrap().protocol_name, Some(s("")));
    // v7+: an unknown protocol name is null.
    let w = h.join(&Joiner {
        version: 7,
        protocol_type: "",
        ..consumer("")
    });
    assert_eq!(h.joined(w).unwrap().protocol_name, None);
}
