//! One consumer group: its epochs, members and target assignment.

use std::collections::BTreeMap;

use gregor_protocol::kafka_protocol::ResponseError;
use tracing::info;

use super::assignor::{assign, Assignor, Subscriptions};
use super::member::{ConsumerMember, MemberState};
use super::reconcile::Owners;
use super::{Assignment, TopicInfo, Topics};

/// A consumer group's state as ConsumerGroupDescribe and ListGroups show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    Assigning,
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// A KIP-848 consumer group. Owned by its [`crate::Group`] in the shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub group_epoch: i32,
    /// The group epoch the target assignment was computed for.
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// Member id → target assignment.
    pub target: BTreeMap<String, Assignment>,
    /// The assignor of the last target assignment.
    pub assignor: Option<Assignor>,
    /// The subscribed topics as of the last epoch bump; a change (a topic
    /// created, deleted or grown) bumps the epoch again.
    pub subscribed_topics: BTreeMap<String, TopicInfo>,
}

impl ConsumerGroup {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.assignment_epoch < self.group_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The assignor the members ask for most (ties: the first by name),
    /// else the default.
    pub fn preferred_assignor(&self) -> Assignor {
        let mut votes: BTreeMap<Assignor, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.server_assignor.as_deref().and_then(Assignor::from_name) {
                *votes.entry(a).or_default() += 1;
            }
        }
        votes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(Assignor::DEFAULT, |(a, _)| a)
    }

    /// Records the subscribed topics; true if they changed since the last
    /// call (a topic matching a regex was created, for instance).
    pub fn refresh_topics(&mut self, topics: &Topics) -> bool {
        let now: BTreeMap<String, TopicInfo> = self
            .members
            .values()
            .flat_map(|m| m.resolved_topics(topics))
            .filter_map(|t| topics.get(&t).map(|i| (t, *i)))
            .collect();
        if now == self.subscribed_topics {
            return false;
        }
        self.subscribed_topics = now;
        true
    }

    /// Bumps the group epoch once if `changed` (members or subscriptions)
    /// or the subscribed topics changed, and recomputes the target
    /// assignment if the group epoch moved past it.
    pub fn update_target(&mut self, group_id: &str, topics: &Topics, changed: bool) {
        if self.refresh_topics(topics) || changed {
            self.group_epoch += 1;
        }
        if self.assignment_epoch >= self.group_epoch {
            return;
        }
        let subs: Subscriptions = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.resolved_topics(topics)))
            .collect();
        let assignor = self.preferred_assignor();
        self.target = assign(assignor, &subs, topics, &self.target);
        self.assignor = Some(assignor);
        self.assignment_epoch = self.group_epoch;
        info!(
            group = group_id,
            epoch = self.group_epoch,
            assignor = assignor.name(),
            "computed consumer group target assignment"
        );
    }

    /// What every member but `member_id` owns or is still revoking.
    pub fn owned_by_others(&self, member_id: &str) -> Owners {
        self.members
            .values()
            .filter(|m| m.member_id != member_id)
            .flat_map(|m| m.owned().map(|(t, p)| (t.to_string(), p)))
            .collect()
    }

    /// Removes a member (it left or was fenced); the caller then bumps the
    /// epoch through [`Self::update_target`].
    pub fn remove_member(&mut self, member_id: &str) -> Option<ConsumerMember> {
        let removed = self.members.remove(member_id)?;
        self.target.remove(member_id);
        Some(removed)
    }

    /// OffsetCommit by a member (`member_epoch` < 0: an admin or manual
    /// commit, accepted only while the group has no members).
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
    ) -> Result<(), ResponseError> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let member = self
            .members
            .get(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        if member_epoch != member.member_epoch {
            return Err(ResponseError::StaleMemberEpoch);
        }
        Ok(())
    }

    /// OffsetFetch by a member: `member_id` must exist; a newer epoch than
    /// the member's is STALE_MEMBER_EPOCH (a lagging one is fine for reads).
    pub fn validate_offset_fetch(
        &self,
        member_id: &str,
        member_epoch: i32,
    ) -> Result<(), ResponseError> {
        let member = self
            .members
            .get(member_id)
            .ok_or(ResponseError::UnknownMemberId)?;
        if member_epoch > member.member_epoch {
            return Err(ResponseError::StaleMemberEpoch);
        }
        Ok(())
    }

    /// The earliest session or revocation deadline.
    pub fn next_deadline_ms(&self) -> Option<i64> {
        self.members
            .values()
            .flat_map(|m| [Some(m.session_deadline_ms), m.revocation_deadline_ms])
            .flatten()
            .min()
    }

    /// Fences members whose session or revocation time ran out and
    /// reassigns their partitions (over the topics known at the last epoch
    /// bump); returns their ids.
    pub fn expire(&mut self, group_id: &str, now_ms: i64) -> Vec<String> {
        let due: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.session_deadline_ms <= now_ms
                    || m.revocation_deadline_ms.is_some_and(|d| d <= now_ms)
            })
            .map(|m| m.member_id.clone())
            .collect();
        for id in &due {
            info!(group = group_id, member = %id, "consumer group member fenced: session or revocation timeout");
            self.remove_member(id);
        }
        if !due.is_empty() {
            let topics: Topics = self.subscribed_topics.clone();
            self.update_target(group_id, &topics, true);
        }
        due
    }
}
