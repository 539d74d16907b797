//! The membership events of one shard: each request is checked as
//! Kafka's `GroupCoordinatorService` checks it, then handed to its group.

use gregor_protocol::kafka_protocol::messages::describe_groups_response::{
    DescribedGroup, DescribedGroupMember,
};
use gregor_protocol::kafka_protocol::messages::leave_group_response::MemberResponse;
use gregor_protocol::kafka_protocol::messages::list_groups_response::ListedGroup;
use gregor_protocol::kafka_protocol::messages::{
    GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest,
};
use gregor_protocol::kafka_protocol::ResponseError;

use super::group::{answer_join, answer_sync, join_error, sync_error, text, Event};
use super::join::JoinRequest;
use super::member::Protocol;
use super::state::GroupState;
use super::sync::{Leaver, SyncRequest};
use super::{ClassicOutput, ClientInfo, Waiter};
use crate::consumer::CONSUMER_GROUP_TYPE;
use crate::group::Group;
use crate::shard::GroupCoordinatorShard;

/// Kafka's non-compact strings carry an int16 length: a longer group id
/// cannot be stored in `__consumer_offsets`.
const GROUP_ID_BYTES_MAX: usize = i16::MAX as usize;
/// SyncGroup v5+ must name the protocol type and name.
const SYNC_PROTOCOL_FIELDS_MIN_VERSION: i16 = 5;
/// LeaveGroup v3+ names a batch of members; older versions one member id.
const LEAVE_BATCH_MIN_VERSION: i16 = 3;
/// DescribeGroups v6+ reports unknown groups as GROUP_ID_NOT_FOUND.
const DESCRIBE_NOT_FOUND_MIN_VERSION: i16 = 6;
/// The only group type this coordinator runs.
const CLASSIC_GROUP_TYPE: &str = "classic";

impl GroupCoordinatorShard {
    /// JoinGroup. The answer arrives as a [`super::Completion`] for
    /// `waiter`, in this output or a later one (once the join phase
    /// completes). `fresh_id` must be unique (a UUID): a member id handed
    /// out is `client_id-fresh_id` (`group_instance_id-fresh_id` for a
    /// static member), as in Kafka.
    pub fn join_group(
        &mut self,
        req: &JoinGroupRequest,
        client: &ClientInfo,
        waiter: Waiter,
        fresh_id: &str,
        now_ms: i64,
    ) -> ClassicOutput {
        let mut out = ClassicOutput::default();
        let group_id = req.group_id.as_str();
        let member_id = req.member_id.as_str();
        let config = self.config.classic;
        if group_id.is_empty() || group_id.len() > GROUP_ID_BYTES_MAX {
            answer_join(
                waiter,
                join_error(ResponseError::InvalidGroupId, member_id),
                &mut out,
            );
            return out;
        }
        if !(config.min_session_timeout_ms..=config.max_session_timeout_ms)
            .contains(&req.session_timeout_ms)
        {
            let e = join_error(ResponseError::InvalidSessionTimeout, member_id);
            answer_join(waiter, e, &mut out);
            return out;
        }
        if let Some(g) = self.groups.get_mut(group_id) {
            match &g.consumer {
                // Kafka's online downgrade of a live consumer group is not built.
                Some(c) if !c.is_empty() => {
                    let e = join_error(ResponseError::InconsistentGroupProtocol, member_id);
                    answer_join(waiter, e, &mut out);
                    return out;
                }
                // An empty consumer group becomes a classic group; its
                // records go, as in Kafka's conversion.
                Some(_) => {
                    g.consumer = None;
                    out.records
                        .extend(crate::consumer::record::group_tombstones(group_id));
                }
                None => {}
            }
        }
        let is_new_group = !self.groups.contains_key(group_id);
        if is_new_group && !member_id.is_empty() {
            answer_join(
                waiter,
                join_error(ResponseError::UnknownMemberId, member_id),
                &mut out,
            );
            return out;
        }
        let request = JoinRequest {
            member_id,
            group_instance_id: req.group_instance_id.as_ref().map(|s| s.as_str()),
            protocol_type: req.protocol_type.as_str(),
            protocols: req
                .protocols
                .iter()
                .map(|p| Protocol {
                    name: p.name.to_string(),
                    metadata: p.metadata.clone(),
                })
                .collect(),
            session_timeout_ms: req.session_timeout_ms,
            // v0 has no rebalance timeout: the session timeout serves.
            rebalance_timeout_ms: if waiter.api_version == 0 {
                req.session_timeout_ms
            } else {
                req.rebalance_timeout_ms
            },
            client,
            waiter,
            fresh_id,
        };
        let group = self.groups.entry(group_id.to_string()).or_default();
        let mut ev = Event {
            group_id,
            config: &config,
            now_ms,
            out: &mut out,
        };
        group.classic.join(&request, &mut ev);
        if is_new_group && out.records.is_empty() {
            // Kafka writes a new group at once, so that it survives a restart.
            let mut ev = Event {
                group_id,
                config: &config,
                now_ms,
                out: &mut out,
            };
            group.classic.persist_created(&mut ev);
        }
        out
    }

    /// SyncGroup. The answer arrives as a [`super::Completion`] for
    /// `waiter`: at once, or (for a follower) when the leader's assignment
    /// arrives.
    pub fn sync_group(
        &mut self,
        req: &SyncGroupRequest,
        waiter: Waiter,
        now_ms: i64,
    ) -> ClassicOutput {
        let mut out = ClassicOutput::default();
        let group_id = req.group_id.as_str();
        if group_id.is_empty() {
            answer_sync(waiter, sync_error(ResponseError::InvalidGroupId), &mut out);
            return out;
        }
        if waiter.api_version >= SYNC_PROTOCOL_FIELDS_MIN_VERSION
            && (req.protocol_type.is_none() || req.protocol_name.is_none())
        {
            answer_sync(
                waiter,
                sync_error(ResponseError::InconsistentGroupProtocol),
                &mut out,
            );
            return out;
        }
        let config = self.config.classic;
        let Some(group) = self
            .groups
            .get_mut(group_id)
            .filter(|g| !g.classic.is_empty())
        else {
            answer_sync(waiter, sync_error(ResponseError::UnknownMemberId), &mut out);
            return out;
        };
        let request = SyncRequest {
            member_id: req.member_id.as_str(),
            group_instance_id: req.group_instance_id.as_ref().map(|s| s.as_str()),
            generation_id: req.generation_id,
            protocol_type: req.protocol_type.as_ref().map(|s| s.as_str()),
            protocol_name: req.protocol_name.as_ref().map(|s| s.as_str()),
            assignments: req
                .assignments
                .iter()
                .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                .collect(),
            waiter,
        };
        let mut ev = Event {
            group_id,
            config: &config,
            now_ms,
            out: &mut out,
        };
        group.classic.sync(&request, &mut ev);
        out
    }

    /// Heartbeat: answered at once, and never writes or completes anything.
    pub fn heartbeat(&mut self, req: &HeartbeatRequest, now_ms: i64) -> HeartbeatResponse {
        let group_id = req.group_id.as_str();
        let result = if group_id.is_empty() {
            Err(ResponseError::InvalidGroupId)
        } else {
            match self.groups.get_mut(group_id) {
                None => Err(ResponseError::UnknownMemberId),
                Some(g) => g.classic.heartbeat(
                    req.member_id.as_str(),
                    req.group_instance_id.as_ref().map(|s| s.as_str()),
                    req.generation_id,
                    now_ms,
                ),
            }
        };
        HeartbeatResponse::default().with_error_code(result.err().map_or(0, |e| e.code()))
    }

    /// LeaveGroup (v0-2 name one member id, v3+ a batch of members). The
    /// response is shaped for `api_version`.
    pub fn leave_group(
        &mut self,
        req: &LeaveGroupRequest,
        api_version: i16,
        now_ms: i64,
    ) -> (LeaveGroupResponse, ClassicOutput) {
        let mut out = ClassicOutput::default();
        let leavers: Vec<Leaver<'_>> = if api_version >= LEAVE_BATCH_MIN_VERSION {
            req.members
                .iter()
                .map(|m| Leaver {
                    member_id: m.member_id.as_str(),
                    group_instance_id: m.group_instance_id.as_ref().map(|s| s.as_str()),
                })
                .collect()
        } else {
            vec![Leaver {
                member_id: req.member_id.as_str(),
                group_instance_id: None,
            }]
        };
        let group_id = req.group_id.as_str();
        let config = self.config.classic;
        let results = if group_id.is_empty() {
            return (
                LeaveGroupResponse::default().with_error_code(ResponseError::InvalidGroupId.code()),
                out,
            );
        } else if let Some(group) = self.groups.get_mut(group_id) {
            let mut ev = Event {
                group_id,
                config: &config,
                now_ms,
                out: &mut out,
            };
            group.classic.leave(&leavers, &mut ev)
        } else {
            vec![Err(ResponseError::UnknownMemberId); leavers.len()]
        };
        (leave_response(&leavers, &results, api_version), out)
    }

    /// DescribeGroups for the groups of this shard.
    pub fn describe_groups<'a>(
        &self,
        group_ids: impl IntoIterator<Item = &'a str>,
        api_version: i16,
    ) -> Vec<DescribedGroup> {
        group_ids
            .into_iter()
            .map(|id| match self.groups.get(id) {
                Some(g) => describe(id, g),
                None if api_version >= DESCRIBE_NOT_FOUND_MIN_VERSION => DescribedGroup::default()
                    .with_group_id(GroupId(text(id)))
                    .with_group_state(text(GroupState::Dead.name()))
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(text(&format!("Group {id} not found.")))),
                None => DescribedGroup::default()
                    .with_group_id(GroupId(text(id)))
                    .with_group_state(text(GroupState::Dead.name())),
            })
            .collect()
    }

    /// ListGroups for the groups of this shard. `states` (v4+) and `types`
    /// (v5+) filter case-insensitively; empty filters match everything.
    pub fn list_groups(&self, states: &[&str], types: &[&str]) -> Vec<ListedGroup> {
        let states: Vec<String> = states.iter().map(|s| s.trim().to_lowercase()).collect();
        let listed = |kind: &str| {
            types.is_empty() || types.iter().any(|t| t.trim().eq_ignore_ascii_case(kind))
        };
        self.groups
            .iter()
            .map(|(id, g)| match &g.consumer {
                Some(c) => (
                    id,
                    CONSUMER_GROUP_TYPE,
                    CONSUMER_GROUP_TYPE,
                    c.state().name(),
                ),
                None => (
                    id,
                    CLASSIC_GROUP_TYPE,
                    g.classic.protocol_type().unwrap_or_default(),
                    g.classic.state().name(),
                ),
            })
            .filter(|(_, kind, _, state)| {
                listed(kind) && (states.is_empty() || states.contains(&state.to_lowercase()))
            })
            .map(|(id, kind, protocol_type, state)| {
                ListedGroup::default()
                    .with_group_id(GroupId(text(id)))
                    .with_protocol_type(text(protocol_type))
                    .with_group_state(text(state))
                    .with_group_type(text(kind))
            })
            .collect()
    }

    /// Fires every membership timer due at `now_ms`: expired sessions,
    /// ended join phases, missed SyncGroups.
    pub fn tick(&mut self, now_ms: i64) -> ClassicOutput {
        let mut out = ClassicOutput {
            records: self.tick_consumer_groups(now_ms),
            ..ClassicOutput::default()
        };
        let config = self.config.classic;
        for (group_id, group) in &mut self.groups {
            if group
                .classic
                .next_deadline_ms()
                .is_some_and(|d| d <= now_ms)
            {
                let mut ev = Event {
                    group_id,
                    config: &config,
                    now_ms,
                    out: &mut out,
                };
                group.classic.tick(&mut ev);
            }
        }
        out
    }
}

/// One group as DescribeGroups shows it: member metadata only when Stable.
fn describe(id: &str, group: &Group) -> DescribedGroup {
    if let Some(c) = &group.consumer {
        return crate::consumer::describe_as_classic(id, c);
    }
    let g = &group.classic;
    let protocol = (g.state() == GroupState::Stable).then(|| g.protocol_name().unwrap_or_default());
    let members = g
        .members()
        .map(|m| {
            DescribedGroupMember::default()
                .with_member_id(text(&m.member_id))
                .with_group_instance_id(m.group_instance_id.as_deref().map(text))
                .with_client_id(text(&m.client_id))
                .with_client_host(text(&m.client_host))
                .with_member_metadata(protocol.map(|p| m.metadata(p)).unwrap_or_default())
                .with_member_assignment(m.assignment.clone())
        })
        .collect();
    DescribedGroup::default()
        .with_group_id(GroupId(text(id)))
        .with_group_state(text(g.state().name()))
        .with_protocol_type(text(g.protocol_type().unwrap_or_default()))
        .with_protocol_data(text(protocol.unwrap_or_default()))
        .with_members(members)
}

/// v3+: one entry per member. v0-2 have only a top-level error: the
/// member's (Kafka's `LeaveGroupResponse` for old versions).
fn leave_response(
    leavers: &[Leaver<'_>],
    results: &[Result<(), ResponseError>],
    api_version: i16,
) -> LeaveGroupResponse {
    if api_version < LEAVE_BATCH_MIN_VERSION {
        let code = results.iter().find_map(|r| r.err()).map_or(0, |e| e.code());
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let members = leavers
        .iter()
        .zip(results)
        .map(|(l, r)| {
            MemberResponse::default()
                .with_member_id(text(l.member_id))
                .with_group_instance_id(l.group_instance_id.map(text))
                .with_error_code(r.err().map_or(0, |e| e.code()))
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}
