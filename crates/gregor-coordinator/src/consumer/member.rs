//! One member of a consumer group: what it subscribes to, what it owns,
//! and where it is in converging on its target assignment.

use std::collections::BTreeSet;

use regex_automata::meta::Regex;

use super::{Assignment, Topics};

/// Where a member is in reconciling with its target assignment (Kafka's
/// `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Owns exactly its target, at the target's epoch.
    Stable,
    /// Must first give up `revoking`; keeps its previous epoch meanwhile.
    UnrevokedPartitions,
    /// At the target epoch, but some target partitions are still owned by
    /// other members and are handed over once those revoke them.
    UnreleasedPartitions,
}

/// A subscription regex: as sent, and compiled to match whole topic names
/// (Java's `Matcher.matches`). Equal when the patterns are.
#[derive(Debug, Clone)]
pub struct SubscribedRegex {
    pub pattern: String,
    pub regex: Regex,
}

impl PartialEq for SubscribedRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for SubscribedRegex {}

impl SubscribedRegex {
    /// Compiles `pattern` (RE2/J syntax, which Rust's regex syntax covers).
    pub fn compile(pattern: &str) -> Result<SubscribedRegex, String> {
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())?;
        Ok(SubscribedRegex {
            pattern: pattern.to_string(),
            regex,
        })
    }
}

/// A consumer group member. Owned by its [`super::ConsumerGroup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<SubscribedRegex>,
    pub server_assignor: Option<String>,
    /// Partitions the member owns (what its last response told it).
    pub assigned: Assignment,
    /// Partitions it was told to give up and has not yet confirmed.
    pub revoking: Assignment,
    /// The session ends unless a heartbeat arrives before this.
    pub session_deadline_ms: i64,
    /// While revoking: the member is fenced if still revoking at this time.
    pub revocation_deadline_ms: Option<i64>,
}

impl ConsumerMember {
    pub fn new(member_id: String, now_ms: i64) -> ConsumerMember {
        ConsumerMember {
            member_id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            rebalance_timeout_ms: 0,
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            server_assignor: None,
            assigned: Assignment::new(),
            revoking: Assignment::new(),
            session_deadline_ms: now_ms,
            revocation_deadline_ms: None,
        }
    }

    /// The existing topics this member subscribes to, by name or regex.
    pub fn resolved_topics(&self, topics: &Topics) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .subscribed_topic_names
            .iter()
            .filter(|t| topics.contains_key(*t))
            .cloned()
            .collect();
        if let Some(re) = &self.subscribed_topic_regex {
            out.extend(
                topics
                    .keys()
                    .filter(|t| re.regex.is_match(t.as_str()))
                    .cloned(),
            );
        }
        out
    }

    /// The partitions it owns or is still revoking.
    pub fn owned(&self) -> impl Iterator<Item = (&str, i32)> {
        self.assigned
            .iter()
            .chain(self.revoking.iter())
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))
    }
}
