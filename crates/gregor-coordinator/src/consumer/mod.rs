//! KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe),
//! as Kafka 4's `ConsumerGroup` and the consumer paths of its
//! `GroupMetadataManager` define them.
//!
//! The broker computes assignments: every change a member reports
//! (joining, leaving, a new subscription) or a change of the subscribed
//! topics bumps the *group epoch*; the group's server-side assignor then
//! computes a *target assignment* for that epoch; each member converges on
//! its target one heartbeat at a time ([`reconcile`]): it first revokes
//! what it must give up, then receives its new partitions — but only
//! partitions that no other member still owns — and takes the target's
//! epoch as its *member epoch*.
//!
//! State changes in memory as events arrive, and every event writes what
//! changed as Kafka's consumer-group records ([`record`]: group epoch,
//! subscribed topics, member metadata, target assignment, current member
//! assignment; tombstones for members that leave or are fenced). Like
//! classic groups' records they are written, not applied, while the broker
//! runs, and replayed when the partition loads: members keep their ids and
//! epochs across a restart, and one that does not heartbeat again is fenced
//! a session timeout after the first tick that follows the load. The caller
//! drives session and revocation timeouts through
//! [`GroupCoordinatorShard::tick`](crate::GroupCoordinatorShard::tick).

mod assignor;
mod group;
mod heartbeat;
mod member;
mod reconcile;
pub mod record;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

pub use assignor::{assign, Assignor};
pub use group::{ConsumerGroup, ConsumerGroupState};
pub use heartbeat::{ConsumerUndo, HeartbeatContext};
pub use member::{ConsumerMember, MemberState, SubscribedRegex};

use gregor_protocol::kafka_protocol::protocol::StrBytes;

/// A topic as the coordinator needs it: its id (for responses) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: uuid::Uuid,
    pub partitions: i32,
}

/// The cluster's topics by name, as of the event (a snapshot the caller
/// takes from its metadata image; internal topics left out).
pub type Topics = BTreeMap<String, TopicInfo>;

/// Partitions by topic name.
pub type Assignment = BTreeMap<String, BTreeSet<i32>>;

/// The broker configs of consumer groups, in the units they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `group.consumer.session.timeout.ms`.
    pub session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`.
    pub max_size: i32,
}

impl Default for ConsumerConfig {
    /// Kafka's defaults: 45 s, 5 s, unbounded.
    fn default() -> Self {
        ConsumerConfig {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            max_size: i32::MAX,
        }
    }
}

/// The group type ListGroups and DescribeGroups report.
pub const CONSUMER_GROUP_TYPE: &str = "consumer";

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Number of partitions in an assignment.
pub fn assignment_size(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

/// `a` without the partitions in `b`.
pub fn minus(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (t, ps) in a {
        let rest: BTreeSet<i32> = match b.get(t) {
            Some(bs) => ps.difference(bs).copied().collect(),
            None => ps.clone(),
        };
        if !rest.is_empty() {
            out.insert(t.clone(), rest);
        }
    }
    out
}

/// The partitions in both `a` and `b`.
pub fn intersect(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (t, ps) in a {
        if let Some(bs) = b.get(t) {
            let both: BTreeSet<i32> = ps.intersection(bs).copied().collect();
            if !both.is_empty() {
                out.insert(t.clone(), both);
            }
        }
    }
    out
}

/// Adds every partition of `b` to `a`.
pub fn union_into(a: &mut Assignment, b: &Assignment) {
    for (t, ps) in b {
        a.entry(t.clone()).or_default().extend(ps.iter().copied());
    }
}

/// A consumer group as DescribeGroups (the classic API) shows it: its
/// state, type "consumer", the assignor as protocol, and its members
/// without subscription or assignment bytes.
pub fn describe_as_classic(
    id: &str,
    group: &ConsumerGroup,
) -> gregor_protocol::kafka_protocol::messages::describe_groups_response::DescribedGroup {
    use gregor_protocol::kafka_protocol::messages::describe_groups_response::{
        DescribedGroup, DescribedGroupMember,
    };
    use gregor_protocol::kafka_protocol::messages::GroupId;
    let members = group
        .members
        .values()
        .map(|m| {
            DescribedGroupMember::default()
                .with_member_id(text(&m.member_id))
                .with_group_instance_id(m.instance_id.as_deref().map(text))
                .with_client_id(text(&m.client_id))
                .with_client_host(text(&m.client_host))
        })
        .collect();
    DescribedGroup::default()
        .with_group_id(GroupId(text(id)))
        .with_group_state(text(group.state().name()))
        .with_protocol_type(text(CONSUMER_GROUP_TYPE))
        .with_protocol_data(text(group.assignor.unwrap_or(Assignor::DEFAULT).name()))
        .with_members(members)
}
