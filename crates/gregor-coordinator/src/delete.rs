//! DeleteGroups and OffsetDelete: the admin requests that remove a group,
//! or some of its committed offsets, as Kafka's `GroupCoordinatorShard`
//! (`deleteGroups`) and `OffsetMetadataManager` (`deleteOffsets`) do.
//!
//! Both only build tombstones; the group or offsets disappear when the
//! caller applies them after the write, like every other offset change.
//! Deleting a group writes a tombstone for each committed offset, then one
//! for the group's metadata. Offsets of a topic that a live member of a
//! `consumer` group (classic protocol type `consumer`, or a KIP-848 group)
//! is subscribed to are kept (GROUP_SUBSCRIBED_TO_TOPIC), since the member
//! would commit them again.

use std::collections::BTreeSet;

use bytes::Buf;
use gregor_protocol::kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use gregor_protocol::kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use gregor_protocol::kafka_protocol::ResponseError;

use crate::classic::{ClassicGroup, GroupState};
use crate::group::Group;
use crate::records::{group_metadata_tombstone, offset_commit_tombstone, CoordinatorRecord};
use crate::shard::{CoordinatorResult, GroupCoordinatorShard};

/// The protocol type of groups whose member metadata is Kafka's
/// `ConsumerProtocolSubscription`.
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

impl GroupCoordinatorShard {
    /// DeleteGroups for one group of this shard: the response's error
    /// (`None` when deleted) and, on success, the tombstones to write.
    pub fn delete_group(&self, group_id: &str) -> CoordinatorResult<Option<ResponseError>> {
        let refused = |code| CoordinatorResult {
            records: Vec::new(),
            response: Some(code),
        };
        if group_id.is_empty() {
            return refused(ResponseError::InvalidGroupId);
        }
        let Some(group) = self.groups.get(group_id) else {
            return refused(ResponseError::GroupIdNotFound);
        };
        match group.classic.state() {
            GroupState::Empty => {}
            GroupState::Dead => return refused(ResponseError::GroupIdNotFound),
            _ => return refused(ResponseError::NonEmptyGroup),
        }
        if group.consumer.as_ref().is_some_and(|c| !c.is_empty()) {
            return refused(ResponseError::NonEmptyGroup);
        }
        let mut records = Vec::with_capacity(group.offset_count() + 1);
        for (topic, partition, _) in group.all_offsets() {
            match offset_commit_tombstone(group_id, topic, partition) {
                Ok(r) => records.push(r),
                // A stored key was encodable when written; one that is not
                // now is a bug, and a partial delete would hide it.
                Err(e) => panic!("stored offset key of group {group_id} does not encode: {e}"),
            }
        }
        if group.consumer.is_some() {
            // A KIP-848 group is deleted by its own records' tombstones.
            records.extend(crate::consumer::record::group_tombstones(group_id));
        } else {
            match group_metadata_tombstone(group_id) {
                Ok(r) => records.push(r),
                Err(_) => return refused(ResponseError::InvalidGroupId),
            }
        }
        CoordinatorResult {
            records,
            response: None,
        }
    }

    /// OffsetDelete. The caller has already answered partitions of topics
    /// this cluster does not have and leaves them out of `req`.
    pub fn delete_offsets(
        &self,
        req: &OffsetDeleteRequest,
    ) -> CoordinatorResult<OffsetDeleteResponse> {
        let group_id = req.group_id.as_str();
        let failed = |code: ResponseError| CoordinatorResult {
            records: Vec::new(),
            response: OffsetDeleteResponse::default().with_error_code(code.code()),
        };
        if group_id.is_empty() {
            return failed(ResponseError::InvalidGroupId);
        }
        let Some(group) = self.groups.get(group_id) else {
            return failed(ResponseError::GroupIdNotFound);
        };
        if let Err(code) = validate_offset_delete(&group.classic) {
            return failed(code);
        }
        let mut subscribed = subscribed_topics(&group.classic);
        if let Some(consumer) = &group.consumer {
            // A KIP-848 group's members name their topics (Kafka's
            // `ConsumerGroup.isSubscribedToTopic`); any state may delete.
            subscribed.extend(consumer.subscribed_topics.keys().cloned());
            for m in consumer.members.values() {
                subscribed.extend(m.subscribed_topic_names.iter().cloned());
            }
        }
        let mut records: Vec<CoordinatorRecord> = Vec::new();
        let topics = req
            .topics
            .iter()
            .map(|t| {
                let is_subscribed = subscribed.contains(t.name.as_str());
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let code = if is_subscribed {
                            ResponseError::GroupSubscribedToTopic.code()
                        } else {
                            delete_one(group_id, group, &t.name, p.partition_index, &mut records)
                        };
                        OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code)
                    })
                    .collect();
                OffsetDeleteResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        CoordinatorResult {
            records,
            response: OffsetDeleteResponse::default().with_topics(topics),
        }
    }
}

/// Adds the tombstone for one committed offset, if there is one; a
/// partition without a commit is answered without error, as in Kafka.
fn delete_one(
    group_id: &str,
    group: &Group,
    topic: &str,
    partition: i32,
    records: &mut Vec<CoordinatorRecord>,
) -> i16 {
    if group.offset(topic, partition).is_none() {
        return 0;
    }
    match offset_commit_tombstone(group_id, topic, partition) {
        Ok(r) => {
            records.push(r);
            0
        }
        Err(_) => ResponseError::UnknownTopicOrPartition.code(),
    }
}

/// Kafka's `ClassicGroup.validateOffsetDelete`: a group with members may
/// have offsets deleted only if it runs the consumer protocol, whose
/// subscriptions say which topics are in use.
fn validate_offset_delete(group: &ClassicGroup) -> Result<(), ResponseError> {
    match group.state() {
        GroupState::Dead => Err(ResponseError::GroupIdNotFound),
        GroupState::Empty => Ok(()),
        _ if group.protocol_type() == Some(CONSUMER_PROTOCOL_TYPE) => Ok(()),
        _ => Err(ResponseError::NonEmptyGroup),
    }
}

/// The topics the members of a `consumer` group subscribe to, read from
/// their metadata for the group's protocol (every protocol they offered
/// while none is chosen yet). Like Kafka, a member whose metadata does not
/// decode contributes no topics.
pub fn subscribed_topics(group: &ClassicGroup) -> BTreeSet<String> {
    let mut topics = BTreeSet::new();
    if group.protocol_type() != Some(CONSUMER_PROTOCOL_TYPE) {
        return topics;
    }
    for member in group.members() {
        let metadata: Vec<&[u8]> = match group.protocol_name() {
            Some(name) => member
                .protocols
                .iter()
                .filter(|p| p.name == name)
                .map(|p| p.metadata.as_ref())
                .collect(),
            None => member
                .protocols
                .iter()
                .map(|p| p.metadata.as_ref())
                .collect(),
        };
        for m in metadata {
            if let Some(subscribed) = decode_subscription_topics(m) {
                topics.extend(subscribed);
            }
        }
    }
    topics
}

/// The topics of a `ConsumerProtocolSubscription` (any version: all start
/// with `int16 version`, then `[string] topics`). `None` if it is cut short.
pub fn decode_subscription_topics(mut buf: &[u8]) -> Option<Vec<String>> {
    if buf.remaining() < 2 + 4 {
        return None;
    }
    let _version = buf.get_i16();
    let count = buf.get_i32();
    // Each topic takes at least its two length bytes.
    let count = usize::try_from(count)
        .ok()
        .filter(|n| *n <= buf.len() / 2)?;
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        if buf.remaining() < 2 {
            return None;
        }
        let len = usize::try_from(buf.get_i16()).ok()?;
        if buf.remaining() < len {
            return None;
        }
        topics.push(String::from_utf8(buf[..len].to_vec()).ok()?);
        buf.advance(len);
    }
    Some(topics)
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, Bytes, BytesMut};
    use gregor_protocol::kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    use gregor_protocol::kafka_protocol::messages::{GroupId, TopicName};
    use gregor_protocol::kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::classic::{GroupMetadataMember, GroupMetadataValue};
    use crate::records::{offset_commit_record, OffsetCommitValue, RecordKey};
    use crate::shard::CoordinatorConfig;

    fn commit(shard: &mut GroupCoordinatorShard, group: &str, topic: &str, partition: i32) {
        let value = OffsetCommitValue {
            offset: 10,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 1,
            expire_timestamp_ms: None,
        };
        let r = offset_commit_record(group, topic, partition, &value).unwrap();
        shard.apply(&[r]);
    }

    /// A `ConsumerProtocolSubscription` v0 naming `topics`.
    fn subscription(topics: &[&str]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(0);
        b.put_i32(topics.len() as i32);
        for t in topics {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
        }
        b.put_i32(-1); // null user data
        b.freeze()
    }

    /// Loads `group` as Stable with one member of `protocol_type`.
    fn with_member(shard: &mut GroupCoordinatorShard, group: &str, protocol_type: &str) {
        let value = GroupMetadataValue {
            protocol_type: protocol_type.into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: Some("m".into()),
            current_state_timestamp_ms: 0,
            members: vec![GroupMetadataMember {
                member_id: "m".into(),
                group_instance_id: None,
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 1000,
                session_timeout_ms: 10_000,
                subscription: subscription(&["t"]),
                assignment: Bytes::new(),
            }],
        };
        let key = RecordKey::GroupMetadata {
            group: group.into(),
        };
        let v = value.encode().unwrap();
        shard.replay(&key.encode().unwrap(), Some(&v)).unwrap();
    }

    fn shard() -> GroupCoordinatorShard {
        GroupCoordinatorShard::new(0, CoordinatorConfig::default())
    }

    fn delete_request(group: &str, topics: &[(&str, &[i32])]) -> OffsetDeleteRequest {
        let s = |v: &str| StrBytes::from_string(v.to_string());
        OffsetDeleteRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(
                topics
                    .iter()
                    .map(|(t, ps)| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(TopicName(s(t)))
                            .with_partitions(
                                ps.iter()
                                    .map(|p| {
                                        OffsetDeleteRequestPartition::default()
                                            .with_partition_index(*p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn codes(resp: &OffsetDeleteResponse) -> Vec<(String, i32, i16)> {
        resp.topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_index, p.error_code))
            })
            .collect()
    }

    #[test]
    fn deleting_an_empty_group_tombstones_every_offset_then_the_group() {
        let mut shard = shard();
        commit(&mut shard, "g", "a", 0);
        commit(&mut shard, "g", "b", 1);
        let out = shard.delete_group("g");
        assert_eq!(out.response, None);
        assert_eq!(
            out.records,
            vec![
                offset_commit_tombstone("g", "a", 0).unwrap(),
                offset_commit_tombstone("g", "b", 1).unwrap(),
                group_metadata_tombstone("g").unwrap(),
            ]
        );
        shard.apply(&out.records);
        assert!(shard.group("g").is_none());
        assert_eq!(
            shard.delete_group("g").response,
            Some(ResponseError::GroupIdNotFound)
        );
    }

    #[test]
    fn groups_with_members_or_without_a_name_are_not_deleted() {
        let mut shard = shard();
        with_member(&mut shard, "g", "consumer");
        let out = shard.delete_group("g");
        assert_eq!(out.response, Some(ResponseError::NonEmptyGroup));
        assert!(out.records.is_empty());
        assert_eq!(
            shard.delete_group("").response,
            Some(ResponseError::InvalidGroupId)
        );
        assert_eq!(
            shard.delete_group("nope").response,
            Some(ResponseError::GroupIdNotFound)
        );
    }

    #[test]
    fn offset_delete_keeps_topics_a_member_subscribes_to() {
        let mut shard = shard();
        with_member(&mut shard, "g", "consumer");
        commit(&mut shard, "g", "t", 0);
        commit(&mut shard, "g", "u", 0);
        let out = shard.delete_offsets(&delete_request("g", &[("t", &[0]), ("u", &[0, 5])]));
        assert_eq!(out.response.error_code, 0);
        assert_eq!(
            codes(&out.response),
            vec![
                ("t".into(), 0, ResponseError::GroupSubscribedToTopic.code()),
                ("u".into(), 0, 0),
                ("u".into(), 5, 0),
            ]
        );
        assert_eq!(
            out.records,
            vec![offset_commit_tombstone("g", "u", 0).unwrap()]
        );
        shard.apply(&out.records);
        let g = shard.group("g").unwrap();
        assert!(g.offset("u", 0).is_none());
        assert!(g.offset("t", 0).is_some());
    }

    #[test]
    fn offset_delete_refuses_missing_and_non_consumer_active_groups() {
        let mut shard = shard();
        let missing = shard.delete_offsets(&delete_request("g", &[("t", &[0])]));
        assert_eq!(
            missing.response.error_code,
            ResponseError::GroupIdNotFound.code()
        );
        with_member(&mut shard, "c", "connect");
        commit(&mut shard, "c", "t", 0);
        let busy = shard.delete_offsets(&delete_request("c", &[("t", &[0])]));
        assert_eq!(
            busy.response.error_code,
            ResponseError::NonEmptyGroup.code()
        );
        assert!(busy.records.is_empty());
    }

    #[test]
    fn offset_delete_of_an_empty_group_tombstones_only_committed_partitions() {
        let mut shard = shard();
        commit(&mut shard, "g", "t", 0);
        commit(&mut shard, "g", "t", 1);
        let out = shard.delete_offsets(&delete_request("g", &[("t", &[1, 2])]));
        assert_eq!(
            out.records,
            vec![offset_commit_tombstone("g", "t", 1).unwrap()]
        );
        assert_eq!(
            codes(&out.response),
            vec![("t".into(), 1, 0), ("t".into(), 2, 0)]
        );
    }

    #[test]
    fn kip_848_groups_with_members_keep_their_group_and_subscribed_offsets() {
        let mut shard = shard();
        commit(&mut shard, "g", "t", 0);
        commit(&mut shard, "g", "u", 0);
        let mut member = crate::consumer::ConsumerMember::new("m".into(), 0);
        member.subscribed_topic_names = vec!["t".into()];
        let mut consumer = crate::consumer::ConsumerGroup::default();
        consumer.members.insert("m".into(), member);
        shard.groups.get_mut("g").unwrap().consumer = Some(consumer);
        assert_eq!(
            shard.delete_group("g").response,
            Some(ResponseError::NonEmptyGroup)
        );
        let out = shard.delete_offsets(&delete_request("g", &[("t", &[0]), ("u", &[0])]));
        assert_eq!(
            codes(&out.response),
            vec![
                ("t".into(), 0, ResponseError::GroupSubscribedToTopic.code()),
                ("u".into(), 0, 0)
            ]
        );
        assert_eq!(
            out.records,
            vec![offset_commit_tombstone("g", "u", 0).unwrap()]
        );
    }

    #[test]
    fn subscriptions_decode_and_damage_is_not_a_panic() {
        let bytes = subscription(&["a", "bc"]);
        assert_eq!(
            decode_subscription_topics(&bytes),
            Some(vec!["a".to_string(), "bc".to_string()])
        );
        for cut in 0..8 {
            assert_eq!(decode_subscription_topics(&bytes[..cut]), None, "cut {cut}");
        }
        assert_eq!(decode_subscription_topics(&[0, 0, 0x7f, 0, 0, 0]), None);
    }
}
