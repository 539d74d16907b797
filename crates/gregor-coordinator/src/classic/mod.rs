//! Classic consumer-group membership: JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, DescribeGroups and ListGroups, as Kafka's `ClassicGroup` and
//! the classic paths of its `GroupMetadataManager` define them.
//!
//! A group moves Empty → PreparingRebalance (members join; the first
//! rebalance of an empty group waits `group.initial.rebalance.delay.ms` for
//! more) → CompletingRebalance (a new generation: every member got its
//! JoinGroup answer, the leader with all members' metadata) → Stable (the
//! leader's SyncGroup carried the assignments) and back to
//! PreparingRebalance whenever a member joins, leaves, changes its
//! protocols or misses its session timeout.
//!
//! Requests that Kafka parks (JoinGroup until the rebalance completes,
//! SyncGroup until the leader's assignment arrives) carry a [`Waiter`]; the
//! state machine answers them later as [`Completion`]s in the
//! [`ClassicOutput`] of whichever event completes them, including
//! [`GroupCoordinatorShard::tick`](crate::GroupCoordinatorShard::tick), which
//! the caller drives with the time so that session, rebalance and
//! initial-delay timers fire.
//!
//! Persistence follows Kafka: group membership is soft state that changes
//! in memory as events arrive, and a `GroupMetadataValue` record is written
//! when a generation becomes Stable (or Empty), when a static member is
//! replaced, and when a JoinGroup creates a group. These records are not
//! replayed after writing (Kafka's classic group writes them the same way);
//! they are replayed when the partition is loaded, which brings groups back
//! with their members, generation and assignments, and members' session
//! timers restart from the first tick after loading.

mod group;
mod join;
mod member;
mod ops;
mod record;
mod state;
mod sync;
mod timers;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rebalance;

pub use group::ClassicGroup;
pub use member::{ClassicMember, Protocol};
pub use record::{GroupMetadataMember, GroupMetadataValue, GROUP_METADATA_VALUE_VERSION};
pub use state::GroupState;

use gregor_protocol::kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};

use crate::records::CoordinatorRecord;

/// Kafka's fixed timeout for the JoinGroup of a member that has no member id
/// yet (`CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS`): such a member cannot
/// heartbeat, so its parked join is dropped after this long.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: i64 = 5 * 60 * 1000;

/// The broker configs of classic groups, in the units they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassicConfig {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i32,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.max.size`.
    pub max_size: i32,
}

impl Default for ClassicConfig {
    /// Kafka's defaults: 3 s, 6 s, 30 min, unbounded.
    fn default() -> Self {
        ClassicConfig {
            initial_rebalance_delay_ms: 3_000,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            max_size: i32::MAX,
        }
    }
}

/// Names a parked request. The caller picks ids (unique among the requests
/// it has parked) and keeps whatever it needs to answer them; the state
/// machine only hands the id back in a [`Completion`].
pub type WaiterId = u64;

/// A request that may be answered later: its id and the API version its
/// response will be encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    pub id: WaiterId,
    pub api_version: i16,
}

/// What the coordinator knows about the client that sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub client_id: String,
    /// As Kafka shows it: `/` and the IP address.
    pub client_host: String,
}

/// The answer to a parked request.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    Join {
        waiter: WaiterId,
        response: JoinGroupResponse,
    },
    Sync {
        waiter: WaiterId,
        response: SyncGroupResponse,
    },
}

impl Completion {
    pub fn waiter(&self) -> WaiterId {
        match self {
            Completion::Join { waiter, .. } | Completion::Sync { waiter, .. } => *waiter,
        }
    }
}

/// What a membership event produced.
///
/// `records` go to the shard's `__consumer_offsets` partition. The change
/// they describe is already in memory, so they are written but not
/// [`apply`](crate::GroupCoordinatorShard::apply)ed. `completions` answer
/// parked requests; send them once `records` are written. If the write
/// fails, answer them with COORDINATOR_NOT_AVAILABLE instead (see
/// [`Completion::failed`]): the members then find the coordinator again and
/// rejoin, as Kafka's clients do after a failed group write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassicOutput {
    pub records: Vec<CoordinatorRecord>,
    pub completions: Vec<Completion>,
}

impl ClassicOutput {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.completions.is_empty()
    }

    /// Adds another event's output after this one's.
    pub fn extend(&mut self, other: ClassicOutput) {
        self.records.extend(other.records);
        self.completions.extend(other.completions);
    }
}

impl Completion {
    /// The same completion answered with `code` instead, for when the
    /// records it depended on could not be written.
    pub fn failed(self, code: i16) -> Completion {
        match self {
            Completion::Join { waiter, response } => Completion::Join {
                waiter,
                response: JoinGroupResponse::default()
                    .with_member_id(response.member_id)
                    .with_error_code(code)
                    .with_protocol_name(response.protocol_name.map(|_| Default::default())),
            },
            Completion::Sync { waiter, .. } => Completion::Sync {
                waiter,
                response: SyncGroupResponse::default().with_error_code(code),
            },
        }
    }
}
