//! Time-driven transitions of a classic group: session expiry of members
//! and of handed-out member ids, the end of the (initial) join phase, and
//! the deadline for SyncGroup. The caller drives them through
//! [`GroupCoordinatorShard::tick`](crate::GroupCoordinatorShard::tick).

use tracing::info;

use super::group::{ClassicGroup, Event, JoinTimer};
use super::state::GroupState;

impl ClassicGroup {
    /// The earliest time something of this group is due; `None`: nothing is.
    pub fn next_deadline_ms(&self) -> Option<i64> {
        if self.timers_pending_load {
            return Some(i64::MIN);
        }
        let members = self
            .members
            .values()
            .filter_map(|m| m.heartbeat_deadline_ms);
        let pending = self.pending_join_members.values().copied();
        let join = self.join_timer.map(|t| t.deadline_ms());
        let sync = self.sync_timer.map(|t| t.deadline_ms);
        members.chain(pending).chain(join).chain(sync).min()
    }

    /// Fires every timer due at `ev.now_ms`.
    pub(super) fn tick(&mut self, ev: &mut Event<'_>) {
        if self.timers_pending_load {
            self.start_loaded_timers(ev);
        }
        self.expire_pending_members(ev);
        self.expire_sessions(ev);
        if let Some(timer) = self.join_timer.filter(|t| t.deadline_ms() <= ev.now_ms) {
            self.join_timer = None;
            self.fire_join_timer(timer, ev);
        }
        if let Some(timer) = self.sync_timer.filter(|t| t.deadline_ms <= ev.now_ms) {
            self.sync_timer = None;
            self.expire_pending_sync(timer.generation_id, ev);
        }
    }

    /// A group loaded from the log: members get a full session from now to
    /// show up (as Kafka schedules them when the partition loads).
    fn start_loaded_timers(&mut self, ev: &mut Event<'_>) {
        self.timers_pending_load = false;
        for m in self.members.values_mut() {
            m.heartbeat_deadline_ms = Some(ev.now_ms + i64::from(m.session_timeout_ms));
        }
        let max = usize::try_from(ev.config.max_size).unwrap_or(0);
        if self.num_members() > max && self.can_rebalance() {
            self.prepare_rebalance(ev, "the loaded group is over group.max.size");
        }
    }

    fn expire_pending_members(&mut self, ev: &mut Event<'_>) {
        let expired: Vec<String> = self
            .pending_join_members
            .iter()
            .filter(|(_, deadline)| **deadline <= ev.now_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            info!(group = ev.group_id, member = %id, "pending member id expired");
            self.remove(&id, ev.out);
            if self.state() == GroupState::PreparingRebalance && self.all_members_joined() {
                self.complete_join_phase(ev);
            }
        }
    }

    fn expire_sessions(&mut self, ev: &mut Event<'_>) {
        let due: Vec<String> = self
            .members
            .values()
            .filter(|m| m.heartbeat_deadline_ms.is_some_and(|d| d <= ev.now_ms))
            .map(|m| m.member_id.clone())
            .collect();
        for id in due {
            // An earlier removal in this loop may have completed a join
            // phase and rescheduled everyone.
            let Some(m) = self.members.get_mut(&id) else {
                continue;
            };
            if m.heartbeat_deadline_ms.is_none_or(|d| d > ev.now_ms) {
                continue;
            }
            if m.has_satisfied_heartbeat() {
                // Waiting on a rebalance counts as alive; the timer starts
                // again when the rebalance answers the member.
                m.heartbeat_deadline_ms = None;
                continue;
            }
            info!(group = ev.group_id, member = %id, "member session expired; removing it");
            self.remove(&id, ev.out);
            match self.state() {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(ev, "a member's session expired");
                }
                GroupState::PreparingRebalance if self.all_members_joined() => {
                    self.complete_join_phase(ev);
                }
                _ => {}
            }
        }
    }

    fn fire_join_timer(&mut self, timer: JoinTimer, ev: &mut Event<'_>) {
        if self.state() != GroupState::PreparingRebalance {
            return;
        }
        match timer {
            JoinTimer::Initial {
                delay_ms,
                remaining_ms,
                ..
            } if self.new_member_added && remaining_ms != 0 => {
                // Members are still arriving: wait another delay, within
                // the rebalance timeout.
                self.new_member_added = false;
                let next_delay_ms = ev.config.initial_rebalance_delay_ms.min(remaining_ms);
                self.join_timer = Some(JoinTimer::Initial {
                    deadline_ms: ev.now_ms + i64::from(next_delay_ms),
                    delay_ms: next_delay_ms,
                    remaining_ms: (remaining_ms - delay_ms).max(0),
                });
            }
            JoinTimer::Initial { .. } | JoinTimer::Rebalance { .. } => self.complete_join_phase(ev),
        }
    }

    /// Members that never sent SyncGroup for `generation_id` are removed
    /// and the group rebalances without them.
    fn expire_pending_sync(&mut self, generation_id: i32, ev: &mut Event<'_>) {
        if generation_id != self.generation_id()
            || !matches!(
                self.state(),
                GroupState::CompletingRebalance | GroupState::Stable
            )
        {
            return;
        }
        let missing = self.pending_sync_members();
        if missing.is_empty() {
            return;
        }
        info!(group = ev.group_id, members = ?missing, "removing members that did not send SyncGroup in time");
        for id in &missing {
            self.remove(id, ev.out);
        }
        self.prepare_rebalance(ev, "members did not sync in time");
    }
}
