//! One member of a classic group.

use bytes::Bytes;

use super::Waiter;

/// One protocol a member supports, with the metadata it carries for it (for
/// consumers: the subscription, encoded by the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A member of a classic group (Kafka's `ClassicGroupMember`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicMember {
    pub member_id: String,
    /// Static membership (KIP-345): `group.instance.id`.
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// In the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// What the leader assigned in the last completed generation.
    pub assignment: Bytes,
    /// A JoinGroup of this member parked until the join phase completes.
    pub(super) join_waiter: Option<Waiter>,
    /// A SyncGroup of this member parked until the leader's assignment.
    pub(super) sync_waiter: Option<Waiter>,
    /// Joined and not yet part of a completed join phase.
    pub(super) is_new: bool,
    /// When the member is removed unless it heartbeats (or is waiting on a
    /// rebalance); `None`: no timer runs.
    pub(super) heartbeat_deadline_ms: Option<i64>,
}

impl ClassicMember {
    /// A member as a JoinGroup request describes it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        member_id: String,
        group_instance_id: Option<String>,
        client_id: String,
        client_host: String,
        rebalance_timeout_ms: i32,
        session_timeout_ms: i32,
        protocol_type: String,
        protocols: Vec<Protocol>,
    ) -> ClassicMember {
        ClassicMember {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            protocol_type,
            protocols,
            assignment: Bytes::new(),
            join_waiter: None,
            sync_waiter: None,
            is_new: false,
            heartbeat_deadline_ms: None,
        }
    }

    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    pub fn is_awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }

    pub fn is_awaiting_sync(&self) -> bool {
        self.sync_waiter.is_some()
    }

    /// Kafka's rule: a member waiting on a rebalance needs no heartbeat,
    /// unless it is new (a new member that went away must not hold the
    /// rebalance up).
    pub(super) fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.is_awaiting_join() || self.is_awaiting_sync())
    }

    /// Whether the member supports `protocol`.
    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// The member's metadata for `protocol`, empty if it does not support it.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    /// The member's most preferred protocol among `candidates`.
    pub(super) fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|p| p.name.as_str())
            .find(|name| candidates.contains(name))
    }
}
