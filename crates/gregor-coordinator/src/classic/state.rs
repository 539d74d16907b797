//! The states of a classic group and the transitions Kafka allows.

/// Kafka's `ClassicGroupState`. The names are the ones DescribeGroups and
/// ListGroups report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; committed offsets may remain. Also a group that only
    /// ever had offset commits (a "simple" group).
    Empty,
    /// A rebalance started: members are (re)joining.
    PreparingRebalance,
    /// A new generation is formed: waiting for the leader's assignment.
    CompletingRebalance,
    /// The leader's assignment was handed out.
    Stable,
    /// The group no longer exists (what DescribeGroups reports for unknown groups).
    Dead,
}

impl GroupState {
    /// The state's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// The states a group may move to `self` from.
    fn valid_previous(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }

    /// Whether a group may move from `from` to `self`.
    pub fn may_follow(self, from: GroupState) -> bool {
        self.valid_previous().contains(&from)
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
