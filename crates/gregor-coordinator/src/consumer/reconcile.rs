//! Moves a member one step toward its target assignment, as Kafka's
//! `CurrentAssignmentBuilder` does: revoke first, then assign what others
//! have released.

use std::collections::BTreeSet;

use super::member::{ConsumerMember, MemberState};
use super::{intersect, minus, union_into, Assignment};

/// What the other members of the group own or are still revoking.
pub type Owners = BTreeSet<(String, i32)>;

/// One reconciliation step of `member` toward `target` (of `target_epoch`).
/// `reported` is what the member says it owns (the heartbeat's
/// `topic_partitions`, when sent); `owned_by_others` what other members
/// hold.
pub fn reconcile(
    member: &mut ConsumerMember,
    target: &Assignment,
    target_epoch: i32,
    owned_by_others: &Owners,
    reported: Option<&Assignment>,
    now_ms: i64,
) {
    if member.state == MemberState::UnrevokedPartitions {
        // The member confirms a revocation by reporting an owned set
        // without the revoked partitions.
        let done = reported.is_some_and(|r| intersect(r, &member.revoking).is_empty());
        if !done {
            return;
        }
        member.revoking.clear();
        member.revocation_deadline_ms = None;
        member.state = MemberState::Stable;
    }
    if member.state == MemberState::Stable && member.member_epoch == target_epoch {
        return;
    }
    let keep = intersect(&member.assigned, target);
    let revoke = minus(&member.assigned, target);
    if !revoke.is_empty() {
        member.assigned = keep;
        member.revoking = revoke;
        member.state = MemberState::UnrevokedPartitions;
        member.revocation_deadline_ms =
            Some(now_ms.saturating_add(i64::from(member.rebalance_timeout_ms)));
        return;
    }
    let mut free = Assignment::new();
    let mut unreleased = false;
    for (t, ps) in minus(target, &member.assigned) {
        for p in ps {
            if owned_by_others.contains(&(t.clone(), p)) {
                unreleased = true;
            } else {
                free.entry(t.clone()).or_default().insert(p);
            }
        }
    }
    let mut assigned = keep;
    union_into(&mut assigned, &free);
    member.assigned = assigned;
    if member.member_epoch != target_epoch {
        member.previous_member_epoch = member.member_epoch;
        member.member_epoch = target_epoch;
    }
    member.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
}
