//! One group's state: its committed offsets and its classic membership
//! (members, generation, protocol; see [`crate::classic`]).
//!
//! A group that only ever had offset commits is what Kafka calls a
//! *simple* group: an Empty classic group without a protocol type, created
//! by the first offset commit of a consumer that manages its own
//! assignment.

use std::collections::BTreeMap;

use gregor_protocol::kafka_protocol::ResponseError;

use crate::classic::ClassicGroup;
use crate::consumer::ConsumerGroup;
use crate::records::OffsetCommitValue;

/// The first OffsetCommit version that answers GROUP_ID_NOT_FOUND (instead of
/// ILLEGAL_GENERATION) for a member commit to a group that does not exist.
const GROUP_ID_NOT_FOUND_MIN_VERSION: i16 = 9;

/// A committed offset, as the coordinator keeps and returns it.
pub type OffsetAndMetadata = OffsetCommitValue;

/// One group. Owned by the shard of its `__consumer_offsets` partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Members, generation and state (JoinGroup/SyncGroup/Heartbeat).
    pub classic: ClassicGroup,
    /// Set when this is a KIP-848 consumer group (then `classic` is empty).
    pub consumer: Option<ConsumerGroup>,
    /// topic → partition → committed offset.
    pub offsets: BTreeMap<String, BTreeMap<i32, OffsetAndMetadata>>,
}

impl Group {
    /// In the Empty state: no members (offsets may remain).
    pub fn is_empty(&self) -> bool {
        self.classic.is_empty() && self.consumer.as_ref().is_none_or(ConsumerGroup::is_empty)
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
    match group {
        Some(Group {
            consumer: Some(consumer),
            ..
        }) => consumer.validate_offset_commit(who.member_id, who.generation_id),
        Some(group) => group.classic.validate_offset_commit(
            who.member_id,
            who.group_instance_id,
            who.generation_id,
        ),
        None if who.generation_id < 0 => Ok(()),
        None if who.api_version >= GROUP_ID_NOT_FOUND_MIN_VERSION => {
            Err(ResponseError::GroupIdNotFound)
        }
        None => Err(ResponseError::IllegalGeneration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classic::{GroupMetadataMember, GroupMetadataValue};

    /// A Stable group of `generation` with one member, as loaded from its record.
    fn stable_group(generation: i32, member_id: &str, instance: Option<&str>) -> Group {
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation,
            protocol: Some("range".into()),
            leader: Some(member_id.into()),
            current_state_timestamp_ms: 0,
            members: vec![GroupMetadataMember {
                member_id: member_id.into(),
                group_instance_id: instance.map(str::to_string),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 1000,
                session_timeout_ms: 1000,
                subscription: Default::default(),
                assignment: Default::default(),
            }],
        };
        Group {
            classic: value.into_group(),
            ..Group::default()
        }
    }

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
        let with_member = stable_group(1, "m", None);
        assert_eq!(
            validate_offset_commit(Some(&with_member), static_member),
            Err(ResponseError::UnknownMemberId)
        );
    }

    #[test]
    fn members_must_name_the_current_generation() {
        let g = stable_group(4, "m", Some("i"));
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
