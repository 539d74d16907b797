//! The join phase: JoinGroup, rebalances, and the completion of a join
//! phase into a new generation (Kafka's `classicGroupJoin*`,
//! `prepareRebalance`, `completeClassicGroupJoin`).

use bytes::Bytes;
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::{debug, info, warn};

use super::group::{
    answer_join, complete_join, complete_sync, join_error, sync_error, ClassicGroup, Event,
    JoinTimer, SyncTimer,
};
use super::member::{ClassicMember, Protocol};
use super::record::{group_metadata_record, GroupMetadataValue};
use super::state::GroupState;
use super::{ClientInfo, Waiter, NEW_MEMBER_JOIN_TIMEOUT_MS};

/// JoinGroup v4+ makes a new dynamic member ask for its member id first.
const MEMBER_ID_REQUIRED_MIN_VERSION: i16 = 4;
/// JoinGroup v9+ lets a rejoining static leader skip the assignment.
const SKIP_ASSIGNMENT_MIN_VERSION: i16 = 9;

/// A JoinGroup request, as the state machine needs it.
#[derive(Debug, Clone)]
pub(super) struct JoinRequest<'a> {
    pub member_id: &'a str,
    pub group_instance_id: Option<&'a str>,
    pub protocol_type: &'a str,
    pub protocols: Vec<Protocol>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub client: &'a ClientInfo,
    pub waiter: Waiter,
    /// A fresh unique suffix for a member id this join may hand out.
    pub fresh_id: &'a str,
}

impl JoinRequest<'_> {
    fn protocol_names(&self) -> Vec<&str> {
        self.protocols.iter().map(|p| p.name.as_str()).collect()
    }
}

impl ClassicGroup {
    /// Kafka's `acceptJoiningMember`: `group.max.size` counts members that
    /// are (re)joining while a rebalance is prepared, all members otherwise.
    pub(super) fn accepts_joining_member(&self, member_id: &str, max_size: i32) -> bool {
        let max = usize::try_from(max_size).unwrap_or(0);
        match self.state() {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.member(member_id).is_some_and(|m| m.is_awaiting_join())
                    || self.num_awaiting_join() < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.member(member_id).is_some() || self.num_members() < max
            }
        }
    }

    /// A JoinGroup for this (possibly just created) group.
    pub(super) fn join(&mut self, req: &JoinRequest<'_>, ev: &mut Event<'_>) {
        if !self.accepts_joining_member(req.member_id, ev.config.max_size) {
            self.remove(req.member_id, ev.out);
            answer_join(
                req.waiter,
                join_error(ResponseError::GroupMaxSizeReached, ""),
                ev.out,
            );
        } else if req.member_id.is_empty() {
            self.join_new_member(req, ev);
        } else {
            self.join_existing_member(req, ev);
        }
    }

    fn join_new_member(&mut self, req: &JoinRequest<'_>, ev: &mut Event<'_>) {
        if !self.supports_protocols(req.protocol_type, &req.protocol_names()) {
            let e = join_error(ResponseError::InconsistentGroupProtocol, "");
            answer_join(req.waiter, e, ev.out);
            return;
        }
        let prefix = req.group_instance_id.unwrap_or(&req.client.client_id);
        let new_member_id = format!("{prefix}-{}", req.fresh_id);
        match req.group_instance_id {
            Some(instance) => match self.static_member_id(instance).map(str::to_string) {
                Some(old) => {
                    info!(group = ev.group_id, instance, old_member = %old, new_member = %new_member_id, "static member rejoined with a new member id");
                    self.update_static_member(req, &old, &new_member_id, ev);
                }
                None => self.add_member_then_rebalance(req, &new_member_id, ev),
            },
            None if req.waiter.api_version >= MEMBER_ID_REQUIRED_MIN_VERSION => {
                // The member must come back with this id: only then is it
                // known to be able to receive a response.
                let deadline = ev.now_ms + i64::from(req.session_timeout_ms);
                self.pending_join_members
                    .insert(new_member_id.clone(), deadline);
                let e = join_error(ResponseError::MemberIdRequired, &new_member_id);
                answer_join(req.waiter, e, ev.out);
            }
            None => self.add_member_then_rebalance(req, &new_member_id, ev),
        }
    }

    fn join_existing_member(&mut self, req: &JoinRequest<'_>, ev: &mut Event<'_>) {
        let member_id = req.member_id;
        if !self.supports_protocols(req.protocol_type, &req.protocol_names()) {
            let e = join_error(ResponseError::InconsistentGroupProtocol, member_id);
            answer_join(req.waiter, e, ev.out);
            return;
        }
        if self.is_pending_member(member_id) {
            if req.group_instance_id.is_some() {
                // Pending ids are only handed to dynamic members; Kafka
                // treats this as an internal error.
                let e = join_error(ResponseError::UnknownServerError, member_id);
                answer_join(req.waiter, e, ev.out);
            } else {
                self.add_member_then_rebalance(req, member_id, ev);
            }
            return;
        }
        if let Err(code) = self.validate_member(member_id, req.group_instance_id) {
            answer_join(req.waiter, join_error(code, member_id), ev.out);
            return;
        }
        let unchanged = self.members[member_id].protocols == req.protocols;
        match self.state() {
            GroupState::PreparingRebalance => self.update_member_then_rebalance(req, ev),
            GroupState::CompletingRebalance if unchanged => {
                // It missed its JoinGroup answer: send this generation's again.
                answer_join(req.waiter, self.join_response(member_id, true), ev.out);
            }
            GroupState::CompletingRebalance => self.update_member_then_rebalance(req, ev),
            GroupState::Stable if self.is_leader(member_id) || !unchanged => {
                // A leader's JoinGroup always rebalances: it is how a leader
                // reacts to changes the members' metadata does not show
                // (new partitions of subscribed topics, for consumers).
                self.update_member_then_rebalance(req, ev);
            }
            GroupState::Stable => {
                answer_join(req.waiter, self.join_response(member_id, false), ev.out);
            }
            GroupState::Empty | GroupState::Dead => {
                warn!(group = ev.group_id, member_id, state = %self.state(), "rejoin of a member in an unexpected group state");
                let e = join_error(ResponseError::UnknownMemberId, member_id);
                answer_join(req.waiter, e, ev.out);
            }
        }
    }

    fn add_member_then_rebalance(
        &mut self,
        req: &JoinRequest<'_>,
        member_id: &str,
        ev: &mut Event<'_>,
    ) {
        let mut member = ClassicMember::new(
            member_id.to_string(),
            req.group_instance_id.map(str::to_string),
            req.client.client_id.clone(),
            req.client.client_host.clone(),
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            req.protocol_type.to_string(),
            req.protocols.clone(),
        );
        member.is_new = true;
        // A member without a member id cannot heartbeat, and a parked join
        // hides a disconnect; Kafka bounds the wait with a fixed timeout.
        member.heartbeat_deadline_ms = Some(ev.now_ms + NEW_MEMBER_JOIN_TIMEOUT_MS);
        if self.state() == GroupState::PreparingRebalance
            && self.previous_state() == GroupState::Empty
        {
            self.new_member_added = true;
        }
        self.add(member, Some(req.waiter));
        debug!(group = ev.group_id, member_id, "member added");
        self.maybe_prepare_rebalance_or_complete_join(ev, "a new member joined");
    }

    fn update_member_then_rebalance(&mut self, req: &JoinRequest<'_>, ev: &mut Event<'_>) {
        let member = self
            .members
            .get_mut(req.member_id)
            .expect("validated member");
        apply_join_request(member, req, ev);
        self.maybe_prepare_rebalance_or_complete_join(ev, "a member rejoined");
    }

    /// A known static member rejoined without its member id.
    fn update_static_member(
        &mut self,
        req: &JoinRequest<'_>,
        old_id: &str,
        new_id: &str,
        ev: &mut Event<'_>,
    ) {
        let instance = req.group_instance_id.expect("static member");
        let current_leader = self.leader_id().unwrap_or_default().to_string();
        self.replace_static_member(instance, old_id, new_id, ev.out);
        let member = self.members.get_mut(new_id).expect("replaced member");
        member.heartbeat_deadline_ms = Some(ev.now_ms + i64::from(member.session_timeout_ms));
        apply_join_request(member, req, ev);
        match self.state() {
            GroupState::Stable => {
                if self.select_protocol().as_deref() == self.protocol_name() {
                    // Same protocol: no rebalance. Persist the new member id
                    // and hand back the current generation.
                    info!(
                        group = ev.group_id,
                        "static member replaced without a rebalance"
                    );
                    self.persist(ev);
                    let member = self.members.get_mut(new_id).expect("replaced member");
                    let waiter = member.join_waiter.take().expect("just parked");
                    let response = if waiter.api_version >= SKIP_ASSIGNMENT_MIN_VERSION {
                        let leader = self.is_leader(new_id);
                        self.join_response(new_id, true)
                            .with_skip_assignment(leader)
                    } else {
                        // Older clients must not run the assignor: tell them
                        // the old leader, so they act as a follower.
                        self.join_response(new_id, false)
                            .with_leader(super::group::text(&current_leader))
                    };
                    answer_join(waiter, response, ev.out);
                } else {
                    self.maybe_prepare_rebalance_or_complete_join(
                        ev,
                        "a static member changed its protocols",
                    );
                }
            }
            GroupState::CompletingRebalance => {
                // The leader may be assigning to the old member id.
                self.prepare_rebalance(ev, "a static member rejoined during CompletingRebalance");
            }
            GroupState::PreparingRebalance => self.maybe_complete_join_phase(ev),
            GroupState::Empty | GroupState::Dead => {
                unreachable!("a group with a static member is not {}", self.state())
            }
        }
    }

    pub(super) fn maybe_prepare_rebalance_or_complete_join(
        &mut self,
        ev: &mut Event<'_>,
        reason: &str,
    ) {
        if self.can_rebalance() {
            self.prepare_rebalance(ev, reason);
        } else {
            self.maybe_complete_join_phase(ev);
        }
    }

    /// Starts a rebalance: members awaiting their assignment are told to
    /// rejoin, and the join phase is timed.
    pub(super) fn prepare_rebalance(&mut self, ev: &mut Event<'_>, reason: &str) {
        if self.state() == GroupState::CompletingRebalance {
            self.reset_and_propagate_assignment_error(ev, ResponseError::RebalanceInProgress);
        }
        self.clear_pending_sync();
        let initial = self.state() == GroupState::Empty;
        if initial {
            // A new group: give more members time to arrive.
            let delay_ms = ev.config.initial_rebalance_delay_ms;
            self.join_timer = Some(JoinTimer::Initial {
                deadline_ms: ev.now_ms + i64::from(delay_ms),
                delay_ms,
                remaining_ms: (self.rebalance_timeout_ms() - delay_ms).max(0),
            });
        }
        self.transition_to(GroupState::PreparingRebalance, ev.now_ms);
        info!(
            group = ev.group_id,
            generation = self.generation_id(),
            reason,
            "preparing to rebalance"
        );
        if !initial {
            self.maybe_complete_join_else_schedule(ev);
        }
    }

    fn maybe_complete_join_else_schedule(&mut self, ev: &mut Event<'_>) {
        if self.all_members_joined() {
            self.complete_join_phase(ev);
        } else {
            self.join_timer = Some(JoinTimer::Rebalance {
                deadline_ms: ev.now_ms + i64::from(self.rebalance_timeout_ms()),
            });
        }
    }

    /// Completes the join phase once every member rejoined, except during
    /// the initial delay of a new group, which only its timer ends.
    pub(super) fn maybe_complete_join_phase(&mut self, ev: &mut Event<'_>) {
        if self.state() == GroupState::PreparingRebalance
            && self.previous_state() != GroupState::Empty
            && self.all_members_joined()
        {
            self.complete_join_phase(ev);
        }
    }

    /// Ends the join phase: dynamic members that did not rejoin are
    /// removed, and the next generation starts (or the group becomes Empty).
    pub(super) fn complete_join_phase(&mut self, ev: &mut Event<'_>) {
        self.join_timer = None;
        let gone: Vec<String> = self
            .members()
            .filter(|m| !m.is_awaiting_join() && !m.is_static())
            .map(|m| m.member_id.clone())
            .collect();
        for id in &gone {
            self.remove(id, ev.out);
        }
        if !gone.is_empty() {
            info!(group = ev.group_id, removed = ?gone, "removed members that did not rejoin");
        }
        if !self.maybe_elect_new_joined_leader() && self.num_members() > 0 {
            // Only static members that did not rejoin remain: wait until
            // they rejoin or their sessions expire.
            warn!(
                group = ev.group_id,
                "no member rejoined; extending the rebalance"
            );
            self.join_timer = Some(JoinTimer::Rebalance {
                deadline_ms: ev.now_ms + i64::from(self.rebalance_timeout_ms()),
            });
            return;
        }
        self.init_next_generation(ev.now_ms);
        if self.is_empty() {
            info!(
                group = ev.group_id,
                generation = self.generation_id(),
                "group is now empty"
            );
            self.persist(ev);
            return;
        }
        info!(group = ev.group_id, generation = self.generation_id(), members = self.num_members(), protocol = ?self.protocol_name(), "new generation");
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let response = self.join_response(&id, true);
            let member = self.members.get_mut(&id).expect("listed member");
            complete_join(member, response, ev.out);
            member.heartbeat_deadline_ms = Some(ev.now_ms + i64::from(member.session_timeout_ms));
            member.is_new = false;
            self.add_pending_sync_member(&id);
        }
        self.sync_timer = Some(SyncTimer {
            deadline_ms: ev.now_ms + i64::from(self.rebalance_timeout_ms()),
            generation_id: self.generation_id(),
        });
    }

    /// Clears every assignment and answers parked SyncGroups with `code`.
    fn reset_and_propagate_assignment_error(&mut self, ev: &mut Event<'_>, code: ResponseError) {
        assert_eq!(self.state(), GroupState::CompletingRebalance);
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
            if complete_sync(m, sync_error(code), ev.out) {
                m.heartbeat_deadline_ms = Some(ev.now_ms + i64::from(m.session_timeout_ms));
            }
        }
    }

    /// Writes the group's metadata record (members, generation, assignments).
    pub(super) fn persist(&self, ev: &mut Event<'_>) {
        write_record(&GroupMetadataValue::of(self), ev);
    }

    /// Writes the record of a group a JoinGroup just created, so that the
    /// group survives a restart (as an Empty group, as in Kafka).
    pub(super) fn persist_created(&self, ev: &mut Event<'_>) {
        write_record(&GroupMetadataValue::created(self), ev);
    }
}

fn write_record(value: &GroupMetadataValue, ev: &mut Event<'_>) {
    match group_metadata_record(ev.group_id, value) {
        Ok(r) => ev.out.records.push(r),
        // Only ids longer than Kafka's record format allows get here; the
        // group then lives in memory only, until a restart.
        Err(e) => warn!(group = ev.group_id, error = %e, "group metadata cannot be stored"),
    }
}

/// Updates a member from its JoinGroup and parks the request. A JoinGroup
/// already parked for the member (a duplicate from another connection) is
/// answered with REBALANCE_IN_PROGRESS rather than left hanging.
fn apply_join_request(member: &mut ClassicMember, req: &JoinRequest<'_>, ev: &mut Event<'_>) {
    member.protocols = req.protocols.clone();
    member.rebalance_timeout_ms = req.rebalance_timeout_ms;
    member.session_timeout_ms = req.session_timeout_ms;
    let superseded = join_error(ResponseError::RebalanceInProgress, &member.member_id);
    complete_join(member, superseded, ev.out);
    member.join_waiter = Some(req.waiter);
}
