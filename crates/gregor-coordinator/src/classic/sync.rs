//! SyncGroup, Heartbeat and LeaveGroup on one classic group (Kafka's
//! `classicGroupSyncToClassicGroup`, `classicGroupHeartbeatToClassicGroup`,
//! `classicGroupLeaveToClassicGroup`).

use bytes::Bytes;
use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::group::{answer_sync, complete_sync, sync_error, ClassicGroup, Event};
use super::state::GroupState;
use super::Waiter;

/// A SyncGroup request, as the state machine needs it.
#[derive(Debug, Clone)]
pub(super) struct SyncRequest<'a> {
    pub member_id: &'a str,
    pub group_instance_id: Option<&'a str>,
    pub generation_id: i32,
    /// v5+: the client's idea of the group's protocol type and name.
    pub protocol_type: Option<&'a str>,
    pub protocol_name: Option<&'a str>,
    /// The leader's assignment: member id → assignment.
    pub assignments: Vec<(String, Bytes)>,
    pub waiter: Waiter,
}

/// One member named by a LeaveGroup request.
#[derive(Debug, Clone)]
pub(super) struct Leaver<'a> {
    pub member_id: &'a str,
    pub group_instance_id: Option<&'a str>,
}

impl ClassicGroup {
    pub(super) fn sync(&mut self, req: &SyncRequest<'_>, ev: &mut Event<'_>) {
        if let Err(code) = self.check_sync(req) {
            answer_sync(req.waiter, sync_error(code), ev.out);
            return;
        }
        match self.state() {
            GroupState::PreparingRebalance => {
                answer_sync(
                    req.waiter,
                    sync_error(ResponseError::RebalanceInProgress),
                    ev.out,
                );
            }
            GroupState::CompletingRebalance => {
                let member = self
                    .members
                    .get_mut(req.member_id)
                    .expect("validated member");
                // A SyncGroup already parked for this member (sent again
                // from another connection) is superseded.
                complete_sync(
                    member,
                    sync_error(ResponseError::RebalanceInProgress),
                    ev.out,
                );
                member.sync_waiter = Some(req.waiter);
                self.remove_pending_sync_member(req.member_id);
                if self.is_leader(req.member_id) {
                    self.complete_sync_phase(req, ev);
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync_member(req.member_id);
                let assignment = self.members[req.member_id].assignment.clone();
                answer_sync(req.waiter, self.sync_response(assignment), ev.out);
            }
            GroupState::Empty | GroupState::Dead => {
                unreachable!("SyncGroup of a member of a group in {}", self.state())
            }
        }
    }

    fn check_sync(&self, req: &SyncRequest<'_>) -> Result<(), ResponseError> {
        self.validate_member(req.member_id, req.group_instance_id)?;
        if req.generation_id != self.generation_id() {
            return Err(ResponseError::IllegalGeneration);
        }
        if inconsistent(req.protocol_type, self.protocol_type())
            || inconsistent(req.protocol_name, self.protocol_name())
        {
            return Err(ResponseError::InconsistentGroupProtocol);
        }
        Ok(())
    }

    /// The leader's assignment arrived: store it (members it left out get
    /// an empty one), write the group, hand every parked member its part
    /// and become Stable.
    fn complete_sync_phase(&mut self, req: &SyncRequest<'_>, ev: &mut Event<'_>) {
        info!(
            group = ev.group_id,
            generation = self.generation_id(),
            members = self.num_members(),
            "assignment received from the leader"
        );
        for m in self.members.values_mut() {
            m.assignment = req
                .assignments
                .iter()
                .find(|(id, _)| *id == m.member_id)
                .map(|(_, a)| a.clone())
                .unwrap_or_default();
        }
        self.persist(ev);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let response = self.sync_response(self.members[&id].assignment.clone());
            let m = self.members.get_mut(&id).expect("listed member");
            if complete_sync(m, response, ev.out) {
                m.heartbeat_deadline_ms = Some(ev.now_ms + i64::from(m.session_timeout_ms));
            }
        }
        self.transition_to(GroupState::Stable, ev.now_ms);
    }

    /// Heartbeat: keeps the member's session alive and tells it whether
    /// it must rejoin.
    pub(super) fn heartbeat(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        now_ms: i64,
    ) -> Result<(), ResponseError> {
        self.validate_member(member_id, group_instance_id)?;
        if generation_id != self.generation_id() {
            return Err(ResponseError::IllegalGeneration);
        }
        let rebalancing = match self.state() {
            GroupState::Empty | GroupState::Dead => return Err(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => true,
            // Members heartbeat from their JoinGroup answer on, before
            // their SyncGroup: that is an ordinary heartbeat.
            GroupState::CompletingRebalance | GroupState::Stable => false,
        };
        let m = self.members.get_mut(member_id).expect("validated member");
        m.heartbeat_deadline_ms = Some(now_ms + i64::from(m.session_timeout_ms));
        if rebalancing {
            Err(ResponseError::RebalanceInProgress)
        } else {
            Ok(())
        }
    }

    /// LeaveGroup: removes each named member (by member id, or by
    /// `group.instance.id` alone for an administrative removal) and
    /// rebalances the rest. Returns each leaver's error.
    pub(super) fn leave(
        &mut self,
        leavers: &[Leaver<'_>],
        ev: &mut Event<'_>,
    ) -> Vec<Result<(), ResponseError>> {
        let mut results = Vec::with_capacity(leavers.len());
        for l in leavers {
            let result = if l.member_id.is_empty() {
                match l.group_instance_id.and_then(|i| self.static_member_id(i)) {
                    Some(id) => {
                        let id = id.to_string();
                        self.remove(&id, ev.out);
                        Ok(())
                    }
                    None => Err(ResponseError::UnknownMemberId),
                }
            } else if self.is_pending_member(l.member_id) {
                self.remove(l.member_id, ev.out);
                Ok(())
            } else {
                self.validate_member(l.member_id, l.group_instance_id)
                    .map(|()| self.remove(l.member_id, ev.out))
            };
            if result.is_ok() {
                info!(group = ev.group_id, member = l.member_id, instance = ?l.group_instance_id, "member left the group");
            }
            results.push(result);
        }
        if results.iter().any(Result::is_ok) {
            match self.state() {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(ev, "members left");
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(ev),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        results
    }
}

/// Kafka's `isProtocolInconsistent`: both known and different.
fn inconsistent(from_request: Option<&str>, of_group: Option<&str>) -> bool {
    matches!((from_request, of_group), (Some(a), Some(b)) if a != b)
}
