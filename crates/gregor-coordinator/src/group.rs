//! One group's state: its committed offsets and (once group membership is
//! built) its members and generation.
//!
//! Today every group is what Kafka calls a *simple* group: an empty classic
//! group without a protocol type, created by the first offset commit of a
//! consumer that manages its own assignment. The membership fields exist so
//! that commit validation already has Kafka's shape; JoinGroup/SyncGroup will
//! fill them.

use std::collections::BTreeMap;

use gregor_protocol::kafka_protocol::ResponseError;

use crate::records::OffsetCommitValue;

/// The first OffsetCommit version that answers GROUP_ID_NOT_FOUND (instead of
/// ILLEGAL_GENERATION) for a member commit to a group that does not exist.
const GROUP_ID_NOT_FOUND_MIN_VERSION: i16 = 9;

/// A committed offset, as the coordinator keeps and returns it.
pub type OffsetAndMetadata = OffsetCommitValue;

/// A member of a group. Empty until JoinGroup exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    /// Static membership (KIP-345).
    pub group_instance_id: Option<String>,
}

/// One group. Owned by the shard of its `__consumer_offsets` partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// The generation the members agreed on; 0 for a simple group.
    pub generation_id: i32,
    pub members: BTreeMap<String, Member>,
    /// topic → partition → committed offset.
    pub offsets: BTreeMap<String, BTreeMap<i32, OffsetAndMetadata>>,
}

impl Group {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn offset(&self, topic: &str, partition: i32) -> Option<&OffsetAndMetadata> {
        self.offsets.get(topic)?.get(&partition)
    }

    /// Every committed (topic, partition, offset).
    pub fn all_offsets(&self) -> impl Iterator<Item = (&str, i32, &OffsetAndMetadata)> {
        self.offsets
            .iter()
            .flat_map(|(topic, parts)| parts.iter().map(move |(p, o)| (topic.as_str(), *p, o)))
    }

    pub fn offset_count(&self) -> usize {
        self.offsets.values().map(BTreeMap::len).sum()
    }

    /// Kafka's classic-group member check: a static member must exist and
    /// hold `member_id`; a dynamic one must exist.
    fn validate_member(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(instance) = group_instance_id {
            let holder = self
                .members
                .values()
                .find(|m| m.group_instance_id.as_deref() == Some(instance));
            return match holder {
                None => Err(ResponseError::UnknownMemberId),
                Some(m) if m.member_id != member_id => Err(ResponseError::FencedInstanceId),
                Some(_) => Ok(()),
            };
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(ResponseError::UnknownMemberId)
        }
    }
}

/// Who is committing: the request's group-membership fields.
#[derive(Debug, Clone, Copy)]
pub struct Committer<'a> {
    pub member_id: &'a str,
    pub group_instance_id: Option<&'a str>,
    /// `generation_id_or_member_epoch`; -1 for a commit outside group management.
    pub generation_id: i32,
    pub api_version: i16,
}

/// Decides whether `who` may commit offsets for `group` (`None`: no such
/// group), as Kafka's OffsetMetadataManager and ClassicGroup do.
///
/// A commit with generation -1 comes from the admin client or a consumer
/// that assigns partitions itself; it is accepted while the group has no
/// members, and creates the group if needed. A commit that names a member
/// or a generation must come from a current member of that generation.
pub fn validate_offset_commit(
    group: Option<&Group>,
    who: Committer<'_>,
) -> Result<(), ResponseError> {
    let Some(group) = group else {
        return if who.generation_id < 0 {
            Ok(())
        } else if who.api_version >= GROUP_ID_NOT_FOUND_MIN_VERSION {
            Err(ResponseError::GroupIdNotFound)
        } else {
            Err(ResponseError::IllegalGeneration)
        };
    };
    if who.generation_id < 0 && group.is_empty() {
        return Ok(());
    }
    if who.generation_id >= 0 || !who.member_id.is_empty() || who.group_instance_id.is_some() {
        group.validate_member(who.member_id, who.group_instance_id)?;
        if who.generation_id != group.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    } else if !group.is_empty() {
        // No member id and no generation: only an empty group accepts it.
        Err(ResponseError::UnknownMemberId)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(member_id: &str, generation_id: i32, api_version: i16) -> Committer<'_> {
        Committer {
            member_id,
            group_instance_id: None,
            generation_id,
            api_version,
        }
    }

    #[test]
    fn simple_commits_are_accepted_with_or_without_a_group() {
        assert_eq!(validate_offset_commit(None, who("", -1, 8)), Ok(()));
        let g = Group::default();
        assert_eq!(validate_offset_commit(Some(&g), who("", -1, 8)), Ok(()));
        // A member id with generation -1 is still a simple commit to an empty group.
        assert_eq!(validate_offset_commit(Some(&g), who("m", -1, 8)), Ok(()));
    }

    #[test]
    fn member_commits_to_a_missing_group_depend_on_the_version() {
        assert_eq!(
            validate_offset_commit(None, who("m", 3, 8)),
            Err(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            validate_offset_commit(None, who("m", 3, 9)),
            Err(ResponseError::GroupIdNotFound)
        );
    }

    #[test]
    fn member_commits_to_a_group_without_that_member_are_refused() {
        let g = Group::default();
        assert_eq!(
            validate_offset_commit(Some(&g), who("m", 1, 8)),
            Err(ResponseError::UnknownMemberId)
        );
        assert_eq!(
            validate_offset_commit(Some(&g), who("", 0, 8)),
            Err(ResponseError::UnknownMemberId)
        );
        let static_member = Committer {
            group_instance_id: Some("i"),
            ..who("m", -1, 8)
        };
        let mut with_member = Group::default();
        with_member.members.insert(
            "m".into(),
            Member {
                member_id: "m".into(),
                group_instance_id: None,
            },
        );
        assert_eq!(
            validate_offset_commit(Some(&with_member), static_member),
            Err(ResponseError::UnknownMemberId)
        );
    }

    #[test]
    fn members_must_name_the_current_generation() {
        let mut g = Group {
            generation_id: 4,
            ..Group::default()
        };
        g.members.insert(
            "m".into(),
            Member {
                member_id: "m".into(),
                group_instance_id: Some("i".into()),
            },
        );
        assert_eq!(validate_offset_commit(Some(&g), who("m", 4, 8)), Ok(()));
        assert_eq!(
            validate_offset_commit(Some(&g), who("m", 3, 8)),
            Err(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            validate_offset_commit(Some(&g), who("", -1, 8)),
            Err(ResponseError::UnknownMemberId)
        );
        let fenced = Committer {
            group_instance_id: Some("i"),
            ..who("other", 4, 8)
        };
        assert_eq!(
            validate_offset_commit(Some(&g), fenced),
            Err(ResponseError::FencedInstanceId)
        );
    }
}
