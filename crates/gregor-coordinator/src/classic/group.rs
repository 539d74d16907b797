//! One classic group's membership: members, generation, leader, chosen
//! protocol, state, and the timers that run against it (Kafka's
//! `ClassicGroup`). The event logic that drives it lives in `join.rs`,
//! `ops.rs` and `timers.rs`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use gregor_protocol::kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use gregor_protocol::kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use gregor_protocol::kafka_protocol::protocol::StrBytes;
use gregor_protocol::kafka_protocol::ResponseError;

use super::member::ClassicMember;
use super::state::GroupState;
use super::{ClassicConfig, ClassicOutput, Completion, Waiter};

/// The group-level timer of the join phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JoinTimer {
    /// The first rebalance of an empty group: wait `delay_ms` for more
    /// members, extending while members keep arriving until
    /// `remaining_ms` (the rebalance timeout) is used up.
    Initial {
        deadline_ms: i64,
        delay_ms: i32,
        remaining_ms: i32,
    },
    /// Complete the join phase with whoever rejoined by then.
    Rebalance { deadline_ms: i64 },
}

impl JoinTimer {
    pub(super) fn deadline_ms(&self) -> i64 {
        match self {
            JoinTimer::Initial { deadline_ms, .. } | JoinTimer::Rebalance { deadline_ms } => {
                *deadline_ms
            }
        }
    }
}

/// Members that have not sent SyncGroup by `deadline_ms` are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SyncTimer {
    pub deadline_ms: i64,
    pub generation_id: i32,
}

/// One event's view of the world: which group, the configs, the time, and
/// where its records and completions go.
pub(super) struct Event<'a> {
    pub group_id: &'a str,
    pub config: &'a ClassicConfig,
    pub now_ms: i64,
    pub out: &'a mut ClassicOutput,
}

/// A classic group's membership. Lives inside the [`crate::Group`] of its
/// shard; every change happens under that shard's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicGroup {
    state: GroupState,
    previous_state: GroupState,
    /// When the group entered its state; `None` for groups loaded from a
    /// record written before Kafka kept it.
    state_timestamp_ms: Option<i64>,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    generation_id: i32,
    leader_id: Option<String>,
    pub(super) members: BTreeMap<String, ClassicMember>,
    /// `group.instance.id` → member id.
    static_members: BTreeMap<String, String>,
    /// Members given an id by MEMBER_ID_REQUIRED that have not joined with
    /// it yet, with the time they are forgotten unless they do.
    pub(super) pending_join_members: BTreeMap<String, i64>,
    /// Members of the current generation that have not sent SyncGroup.
    pending_sync_members: BTreeSet<String>,
    /// A member joined during the initial rebalance delay (extends it).
    pub(super) new_member_added: bool,
    pub(super) join_timer: Option<JoinTimer>,
    pub(super) sync_timer: Option<SyncTimer>,
    /// Loaded from the log: members' session timers start at the next tick.
    pub(super) timers_pending_load: bool,
}

impl Default for ClassicGroup {
    fn default() -> Self {
        ClassicGroup {
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            state_timestamp_ms: None,
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: BTreeMap::new(),
            static_members: BTreeMap::new(),
            pending_join_members: BTreeMap::new(),
            pending_sync_members: BTreeSet::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            timers_pending_load: false,
        }
    }
}

impl ClassicGroup {
    /// A group as a `GroupMetadataValue` record left it: Stable with its
    /// members, or Empty.
    pub(super) fn loaded(
        generation_id: i32,
        protocol_type: Option<String>,
        protocol_name: Option<String>,
        leader_id: Option<String>,
        state_timestamp_ms: Option<i64>,
        members: Vec<ClassicMember>,
    ) -> ClassicGroup {
        let mut group = ClassicGroup {
            state: if members.is_empty() {
                GroupState::Empty
            } else {
                GroupState::Stable
            },
            state_timestamp_ms,
            protocol_type,
            protocol_name,
            generation_id,
            leader_id,
            timers_pending_load: !members.is_empty(),
            ..ClassicGroup::default()
        };
        for m in members {
            if let Some(instance) = &m.group_instance_id {
                group
                    .static_members
                    .insert(instance.clone(), m.member_id.clone());
            }
            group.members.insert(m.member_id.clone(), m);
        }
        group
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub(super) fn previous_state(&self) -> GroupState {
        self.previous_state
    }

    pub fn state_timestamp_ms(&self) -> Option<i64> {
        self.state_timestamp_ms
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    pub fn members(&self) -> impl Iterator<Item = &ClassicMember> {
        self.members.values()
    }

    pub fn member(&self, member_id: &str) -> Option<&ClassicMember> {
        self.members.get(member_id)
    }

    pub fn num_members(&self) -> usize {
        self.members.len()
    }

    /// Kafka's `isEmpty` for a classic group: in the Empty state.
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub fn static_member_id(&self, group_instance_id: &str) -> Option<&str> {
        self.static_members
            .get(group_instance_id)
            .map(String::as_str)
    }

    pub(super) fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_join_members.contains_key(member_id)
    }

    pub(super) fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.is_awaiting_join())
            .count()
    }

    /// Every member has rejoined and no member id handed out is outstanding.
    pub(super) fn all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_join_members.is_empty()
    }

    /// The longest rebalance timeout of any member.
    pub(super) fn rebalance_timeout_ms(&self) -> i32 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    pub(super) fn can_rebalance(&self) -> bool {
        GroupState::PreparingRebalance.may_follow(self.state)
    }

    pub(super) fn transition_to(&mut self, to: GroupState, now_ms: i64) {
        assert!(
            to.may_follow(self.state),
            "classic group cannot move from {} to {to}",
            self.state
        );
        self.previous_state = self.state;
        self.state = to;
        self.state_timestamp_ms = Some(now_ms);
    }

    /// Adds a member that joined, parked on `waiter` if given.
    pub(super) fn add(&mut self, mut member: ClassicMember, waiter: Option<Waiter>) {
        if let Some(instance) = &member.group_instance_id {
            let previous = self
                .static_members
                .insert(instance.clone(), member.member_id.clone());
            assert!(previous.is_none(), "static member {instance} added twice");
        }
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        assert_eq!(
            self.protocol_type.as_deref(),
            Some(member.protocol_type.as_str()),
            "a member's protocol type must be the group's"
        );
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        member.join_waiter = waiter;
        self.pending_join_members.remove(&member.member_id);
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (or a pending member id). A new leader is picked if
    /// the leader left. Parked requests of the member are answered with
    /// UNKNOWN_MEMBER_ID so that nothing stays parked for a member that no
    /// longer exists.
    pub(super) fn remove(&mut self, member_id: &str, out: &mut ClassicOutput) {
        if let Some(mut m) = self.members.remove(member_id) {
            if let Some(instance) = &m.group_instance_id {
                self.static_members.remove(instance);
            }
            complete_join(&mut m, join_error(ResponseError::UnknownMemberId, ""), out);
            complete_sync(&mut m, sync_error(ResponseError::UnknownMemberId), out);
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.pending_join_members.remove(member_id);
        self.pending_sync_members.remove(member_id);
    }

    /// Static membership: the member of `group_instance_id` rejoined with a
    /// new member id. Requests parked under the old id are fenced; the
    /// member keeps everything else (its assignment included).
    pub(super) fn replace_static_member(
        &mut self,
        group_instance_id: &str,
        old_member_id: &str,
        new_member_id: &str,
        out: &mut ClassicOutput,
    ) {
        let mut member = self
            .members
            .remove(old_member_id)
            .unwrap_or_else(|| panic!("static member {old_member_id} is not in its group"));
        complete_join(
            &mut member,
            join_error(ResponseError::FencedInstanceId, old_member_id),
            out,
        );
        complete_sync(
            &mut member,
            sync_error(ResponseError::FencedInstanceId),
            out,
        );
        member.member_id = new_member_id.to_string();
        member.is_new = false;
        if self.is_leader(old_member_id) {
            self.leader_id = Some(new_member_id.to_string());
        }
        self.static_members
            .insert(group_instance_id.to_string(), new_member_id.to_string());
        self.pending_sync_members.remove(old_member_id);
        self.members.insert(new_member_id.to_string(), member);
    }

    /// If the leader has not rejoined, makes a member that has the leader.
    /// False when nobody rejoined (or the group has no leader).
    pub(super) fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader_id.clone() else {
            return false;
        };
        if self
            .members
            .get(&leader)
            .is_some_and(|m| m.is_awaiting_join())
        {
            return true;
        }
        match self.members.values().find(|m| m.is_awaiting_join()) {
            Some(m) => {
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// The protocols every member supports.
    fn candidate_protocols(&self) -> Vec<&str> {
        let Some(first) = self.members.values().next() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect()
    }

    /// Kafka's rule for a joining member: an empty group takes any
    /// non-empty protocol type and protocol list; otherwise the type must be
    /// the group's and one of the member's protocols must be supported by
    /// every current member.
    pub(super) fn supports_protocols(&self, protocol_type: &str, protocols: &[&str]) -> bool {
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| self.members.values().all(|m| m.supports(p)))
    }

    /// The protocol of the next generation: each member votes for its most
    /// preferred protocol among those all members support; most votes wins
    /// (ties go to the name that sorts first, where Kafka's pick depends on
    /// hash order).
    pub(super) fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(p) = m.vote(&candidates) {
                *votes.entry(p).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == most)
            .map(|(p, _)| p.to_string())
    }

    /// Starts the next generation: CompletingRebalance with a chosen
    /// protocol, or Empty when no member is left.
    pub(super) fn init_next_generation(&mut self, now_ms: i64) {
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition_to(GroupState::Empty, now_ms);
        } else {
            self.protocol_name = self.select_protocol();
            self.transition_to(GroupState::CompletingRebalance, now_ms);
        }
        self.pending_sync_members.clear();
    }

    pub(super) fn add_pending_sync_member(&mut self, member_id: &str) {
        self.pending_sync_members.insert(member_id.to_string());
    }

    /// Records that `member_id` sent SyncGroup; the sync timer stops once
    /// every member did.
    pub(super) fn remove_pending_sync_member(&mut self, member_id: &str) {
        self.pending_sync_members.remove(member_id);
        if self.pending_sync_members.is_empty() {
            self.sync_timer = None;
        }
    }

    pub(super) fn pending_sync_members(&self) -> Vec<String> {
        self.pending_sync_members.iter().cloned().collect()
    }

    pub(super) fn clear_pending_sync(&mut self) {
        self.pending_sync_members.clear();
        self.sync_timer = None;
    }

    /// Kafka's `validateMember`: a static member must hold `member_id`; any
    /// member must exist.
    pub fn validate_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(instance) = group_instance_id {
            match self.static_members.get(instance) {
                None => return Err(ResponseError::UnknownMemberId),
                Some(holder) if holder != member_id => return Err(ResponseError::FencedInstanceId),
                Some(_) => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(ResponseError::UnknownMemberId)
        }
    }

    /// Kafka's `ClassicGroup.validateOffsetCommit` for a non-transactional
    /// commit: generation -1 from outside group management is accepted
    /// while the group is Empty; a member must exist and name the current
    /// generation; a member that has not synced the new generation yet is
    /// told REBALANCE_IN_PROGRESS.
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        if generation_id < 0 && self.is_empty() {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || group_instance_id.is_some() {
            self.validate_member(member_id, group_instance_id)?;
            if generation_id != self.generation_id {
                return Err(ResponseError::IllegalGeneration);
            }
        } else if !self.is_empty() {
            // No member id and no generation (OffsetCommit v0 or a simple
            // consumer): only an empty group accepts it.
            return Err(ResponseError::UnknownMemberId);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// The members as the leader's JoinGroup response lists them, each with
    /// its metadata for the chosen protocol.
    pub(super) fn join_response_members(&self) -> Vec<JoinGroupResponseMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(text(&m.member_id))
                    .with_group_instance_id(m.group_instance_id.as_deref().map(text))
                    .with_metadata(m.metadata(protocol))
            })
            .collect()
    }

    /// The JoinGroup answer for `member_id` in the current generation; the
    /// leader gets the member list when `with_members`.
    pub(super) fn join_response(&self, member_id: &str, with_members: bool) -> JoinGroupResponse {
        let members = if with_members && self.is_leader(member_id) {
            self.join_response_members()
        } else {
            Vec::new()
        };
        JoinGroupResponse::default()
            .with_generation_id(self.generation_id)
            .with_protocol_type(self.protocol_type.as_deref().map(text))
            .with_protocol_name(self.protocol_name.as_deref().map(text))
            .with_leader(text(self.leader_id.as_deref().unwrap_or_default()))
            .with_member_id(text(member_id))
            .with_members(members)
    }

    /// The SyncGroup answer carrying `assignment`.
    pub(super) fn sync_response(&self, assignment: Bytes) -> SyncGroupResponse {
        SyncGroupResponse::default()
            .with_protocol_type(self.protocol_type.as_deref().map(text))
            .with_protocol_name(self.protocol_name.as_deref().map(text))
            .with_assignment(assignment)
    }
}

/// Answers the member's parked JoinGroup, if any. True if one was parked.
pub(super) fn complete_join(
    member: &mut ClassicMember,
    response: JoinGroupResponse,
    out: &mut ClassicOutput,
) -> bool {
    let Some(waiter) = member.join_waiter.take() else {
        return false;
    };
    out.completions.push(Completion::Join {
        waiter: waiter.id,
        response: join_for_version(response, waiter.api_version),
    });
    true
}

/// Answers the member's parked SyncGroup, if any. True if one was parked.
pub(super) fn complete_sync(
    member: &mut ClassicMember,
    response: SyncGroupResponse,
    out: &mut ClassicOutput,
) -> bool {
    let Some(waiter) = member.sync_waiter.take() else {
        return false;
    };
    out.completions.push(Completion::Sync {
        waiter: waiter.id,
        response,
    });
    true
}

/// Answers a request at once (it was never parked).
pub(super) fn answer_join(waiter: Waiter, response: JoinGroupResponse, out: &mut ClassicOutput) {
    out.completions.push(Completion::Join {
        waiter: waiter.id,
        response: join_for_version(response, waiter.api_version),
    });
}

pub(super) fn answer_sync(waiter: Waiter, response: SyncGroupResponse, out: &mut ClassicOutput) {
    out.completions.push(Completion::Sync {
        waiter: waiter.id,
        response,
    });
}

/// A JoinGroup error answer.
pub(super) fn join_error(code: ResponseError, member_id: &str) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(code.code())
        .with_member_id(text(member_id))
        .with_protocol_name(None)
}

pub(super) fn sync_error(code: ResponseError) -> SyncGroupResponse {
    SyncGroupResponse::default().with_error_code(code.code())
}

/// Kafka's `JoinGroupResponse` constructor rules: before v7 the protocol
/// name is not nullable (empty instead), from v7 an empty one is null;
/// `skip_assignment` exists from v9 only.
fn join_for_version(mut r: JoinGroupResponse, version: i16) -> JoinGroupResponse {
    const NULLABLE_PROTOCOL_NAME_MIN_VERSION: i16 = 7;
    const SKIP_ASSIGNMENT_MIN_VERSION: i16 = 9;
    if version < NULLABLE_PROTOCOL_NAME_MIN_VERSION {
        r.protocol_name.get_or_insert_with(StrBytes::default);
    } else if r.protocol_name.as_ref().is_some_and(|p| p.is_empty()) {
        r.protocol_name = None;
    }
    if version < SKIP_ASSIGNMENT_MIN_VERSION {
        r.skip_assignment = false;
    }
    r
}

pub(super) fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
