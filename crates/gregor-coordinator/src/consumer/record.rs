//! The `__consumer_offsets` records of KIP-848 consumer groups, byte for
//! byte as Kafka 4 writes them, and how a group's change becomes records.
//!
//! Keys are Kafka's non-flexible coordinator keys: an `int16` record type
//! (3-8), then `int16`-length strings. Values are version 0 of flexible
//! schemas: an `int16` version, compact strings and arrays, UUIDs as 16
//! bytes, and a trailing tagged-field section (none written, all skipped
//! on read). Partitions are stored by topic id; names are resolved through
//! the caller's topic snapshot when encoding and replaying.
//!
//! | type | key | value |
//! |---|---|---|
//! | 3 | `ConsumerGroupMetadataKey {group}` | `{epoch}` |
//! | 4 | `ConsumerGroupPartitionMetadataKey {group}` | `{epoch, topics[id, name, partitions, racks]}` |
//! | 5 | `ConsumerGroupMemberMetadataKey {group, member}` | instance, rack, client, subscription, rebalance timeout, assignor |
//! | 6 | `ConsumerGroupTargetAssignmentMetadataKey {group}` | `{assignment epoch}` |
//! | 7 | `ConsumerGroupTargetAssignmentMemberKey {group, member}` | `{topic partitions}` |
//! | 8 | `ConsumerGroupCurrentMemberAssignmentKey {group, member}` | epochs, state, assigned, pending revocation |

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};

use super::group::ConsumerGroup;
use super::member::{ConsumerMember, MemberState, SubscribedRegex};
use super::{Assignment, TopicInfo, Topics};
use crate::error::CoordinatorError;
use crate::reader::Reader;
use crate::records::CoordinatorRecord;

pub const CONSUMER_GROUP_METADATA: i16 = 3;
pub const CONSUMER_GROUP_PARTITION_METADATA: i16 = 4;
pub const CONSUMER_GROUP_MEMBER_METADATA: i16 = 5;
pub const CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA: i16 = 6;
pub const CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER: i16 = 7;
pub const CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT: i16 = 8;

/// The only value schema version of every consumer-group record.
const VALUE_VERSION: i16 = 0;
/// A member replayed from the log has not heartbeated since the load: its
/// session starts at the first tick (see `start_loaded_sessions`).
pub(crate) const SESSION_NOT_STARTED: i64 = i64::MAX;

/// A decoded consumer-group record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerKey {
    Metadata(String),
    PartitionMetadata(String),
    MemberMetadata(String, String),
    TargetAssignmentMetadata(String),
    TargetAssignmentMember(String, String),
    CurrentMemberAssignment(String, String),
}

impl ConsumerKey {
    pub fn record_type(&self) -> i16 {
        match self {
            ConsumerKey::Metadata(_) => CONSUMER_GROUP_METADATA,
            ConsumerKey::PartitionMetadata(_) => CONSUMER_GROUP_PARTITION_METADATA,
            ConsumerKey::MemberMetadata(..) => CONSUMER_GROUP_MEMBER_METADATA,
            ConsumerKey::TargetAssignmentMetadata(_) => CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA,
            ConsumerKey::TargetAssignmentMember(..) => CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER,
            ConsumerKey::CurrentMemberAssignment(..) => CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT,
        }
    }

    pub fn group(&self) -> &str {
        match self {
            ConsumerKey::Metadata(g)
            | ConsumerKey::PartitionMetadata(g)
            | ConsumerKey::TargetAssignmentMetadata(g)
            | ConsumerKey::MemberMetadata(g, _)
            | ConsumerKey::TargetAssignmentMember(g, _)
            | ConsumerKey::CurrentMemberAssignment(g, _) => g,
        }
    }

    pub fn encode(&self) -> Result<Bytes, CoordinatorError> {
        let mut buf = BytesMut::new();
        buf.put_i16(self.record_type());
        put_string(&mut buf, self.group())?;
        if let ConsumerKey::MemberMetadata(_, m)
        | ConsumerKey::TargetAssignmentMember(_, m)
        | ConsumerKey::CurrentMemberAssignment(_, m) = self
        {
            put_string(&mut buf, m)?;
        }
        Ok(buf.freeze())
    }

    /// `None` for a key of another record type.
    pub fn decode(bytes: &[u8]) -> Result<Option<ConsumerKey>, CoordinatorError> {
        let mut r = Reader::new(bytes, "consumer group key");
        let t = r.i16()?;
        if !(CONSUMER_GROUP_METADATA..=CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT).contains(&t) {
            return Ok(None);
        }
        let group = r.string()?;
        let key = match t {
            CONSUMER_GROUP_METADATA => ConsumerKey::Metadata(group),
            CONSUMER_GROUP_PARTITION_METADATA => ConsumerKey::PartitionMetadata(group),
            CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA => {
                ConsumerKey::TargetAssignmentMetadata(group)
            }
            CONSUMER_GROUP_MEMBER_METADATA => ConsumerKey::MemberMetadata(group, r.string()?),
            CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER => {
                ConsumerKey::TargetAssignmentMember(group, r.string()?)
            }
            _ => ConsumerKey::CurrentMemberAssignment(group, r.string()?),
        };
        r.finish()?;
        Ok(Some(key))
    }
}

/// The member fields `ConsumerGroupMemberMetadataValue` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
}

impl MemberMetadata {
    pub fn of(m: &ConsumerMember) -> MemberMetadata {
        MemberMetadata {
            instance_id: m.instance_id.clone(),
            rack_id: m.rack_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            subscribed_topic_names: m.subscribed_topic_names.clone(),
            subscribed_topic_regex: m.subscribed_topic_regex.as_ref().map(|r| r.pattern.clone()),
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            server_assignor: m.server_assignor.clone(),
        }
    }

    pub fn encode(&self) -> Result<Bytes, CoordinatorError> {
        let mut buf = value_header();
        put_nullable_compact(&mut buf, self.instance_id.as_deref());
        put_nullable_compact(&mut buf, self.rack_id.as_deref());
        put_compact(&mut buf, &self.client_id);
        put_compact(&mut buf, &self.client_host);
        put_len(&mut buf, self.subscribed_topic_names.len());
        for t in &self.subscribed_topic_names {
            put_compact(&mut buf, t);
        }
        put_nullable_compact(&mut buf, self.subscribed_topic_regex.as_deref());
        buf.put_i32(self.rebalance_timeout_ms);
        put_nullable_compact(&mut buf, self.server_assignor.as_deref());
        buf.put_u8(0); // no tagged fields (ClassicMemberMetadata is null)
        Ok(buf.freeze())
    }

    pub fn decode(bytes: &[u8]) -> Result<MemberMetadata, CoordinatorError> {
        let mut r = value_reader(bytes, "consumer group member metadata")?;
        let instance_id = r.nullable_compact()?;
        let rack_id = r.nullable_compact()?;
        let client_id = r.compact()?;
        let client_host = r.compact()?;
        let n = r.compact_len()?;
        let mut subscribed_topic_names = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            subscribed_topic_names.push(r.compact()?);
        }
        let subscribed_topic_regex = r.nullable_compact()?;
        let rebalance_timeout_ms = r.i32()?;
        let server_assignor = r.nullable_compact()?;
        r.end_flexible()?;
        Ok(MemberMetadata {
            instance_id,
            rack_id,
            client_id,
            client_host,
            subscribed_topic_names,
            subscribed_topic_regex,
            rebalance_timeout_ms,
            server_assignor,
        })
    }
}

/// `ConsumerGroupCurrentMemberAssignmentValue`, partitions by topic id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAssignment {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: i8,
    pub assigned: Vec<(uuid::Uuid, Vec<i32>)>,
    pub revoking: Vec<(uuid::Uuid, Vec<i32>)>,
}

impl CurrentAssignment {
    pub fn encode(&self) -> Bytes {
        let mut buf = value_header();
        buf.put_i32(self.member_epoch);
        buf.put_i32(self.previous_member_epoch);
        buf.put_i8(self.state);
        put_topic_partitions(&mut buf, &self.assigned);
        put_topic_partitions(&mut buf, &self.revoking);
        buf.put_u8(0);
        buf.freeze()
    }

    pub fn decode(bytes: &[u8]) -> Result<CurrentAssignment, CoordinatorError> {
        let mut r = value_reader(bytes, "consumer group current member assignment")?;
        let member_epoch = r.i32()?;
        let previous_member_epoch = r.i32()?;
        let state = r.i8()?;
        let assigned = topic_partitions(&mut r)?;
        let revoking = topic_partitions(&mut r)?;
        r.end_flexible()?;
        Ok(CurrentAssignment {
            member_epoch,
            previous_member_epoch,
            state,
            assigned,
            revoking,
        })
    }
}

/// Kafka's `MemberState` values.
fn state_code(s: MemberState) -> i8 {
    match s {
        MemberState::Stable => 0,
        MemberState::UnrevokedPartitions => 1,
        MemberState::UnreleasedPartitions => 2,
    }
}

fn state_of(code: i8) -> MemberState {
    match code {
        1 => MemberState::UnrevokedPartitions,
        2 => MemberState::UnreleasedPartitions,
        _ => MemberState::Stable,
    }
}

/// A value that is just an `int32` epoch (types 3 and 6).
pub fn encode_epoch(epoch: i32) -> Bytes {
    let mut buf = value_header();
    buf.put_i32(epoch);
    buf.put_u8(0);
    buf.freeze()
}

pub fn decode_epoch(bytes: &[u8]) -> Result<i32, CoordinatorError> {
    let mut r = value_reader(bytes, "consumer group epoch")?;
    let epoch = r.i32()?;
    r.end_flexible()?;
    Ok(epoch)
}

/// `ConsumerGroupTargetAssignmentMemberValue`.
pub fn encode_target(tps: &[(uuid::Uuid, Vec<i32>)]) -> Bytes {
    let mut buf = value_header();
    put_topic_partitions(&mut buf, tps);
    buf.put_u8(0);
    buf.freeze()
}

pub fn decode_target(bytes: &[u8]) -> Result<Vec<(uuid::Uuid, Vec<i32>)>, CoordinatorError> {
    let mut r = value_reader(bytes, "consumer group target assignment")?;
    let tps = topic_partitions(&mut r)?;
    r.end_flexible()?;
    Ok(tps)
}

/// `ConsumerGroupPartitionMetadataValue` (no racks: brokers have none).
pub fn encode_partition_metadata(
    epoch: i32,
    topics: &BTreeMap<String, TopicInfo>,
) -> Result<Bytes, CoordinatorError> {
    let mut buf = value_header();
    buf.put_i32(epoch);
    put_len(&mut buf, topics.len());
    for (name, info) in topics {
        buf.put_slice(info.id.as_bytes());
        put_compact(&mut buf, name);
        buf.put_i32(info.partitions);
        put_len(&mut buf, 0);
        buf.put_u8(0);
    }
    buf.put_u8(0);
    Ok(buf.freeze())
}

pub fn decode_partition_metadata(
    bytes: &[u8],
) -> Result<BTreeMap<String, TopicInfo>, CoordinatorError> {
    let mut r = value_reader(bytes, "consumer group partition metadata")?;
    let _epoch = r.i32()?;
    let mut out = BTreeMap::new();
    for _ in 0..r.compact_len()? {
        let id = r.uuid()?;
        let name = r.compact()?;
        let partitions = r.i32()?;
        for _ in 0..r.compact_len()? {
            let _partition = r.i32()?;
            for _ in 0..r.compact_len()? {
                r.compact()?;
            }
            r.skip_tagged_fields()?;
        }
        r.skip_tagged_fields()?;
        out.insert(name, TopicInfo { id, partitions });
    }
    r.end_flexible()?;
    Ok(out)
}

/// An assignment by topic id; topics missing from `topics` are left out.
pub fn by_id(a: &Assignment, topics: &Topics) -> Vec<(uuid::Uuid, Vec<i32>)> {
    a.iter()
        .filter(|(_, ps)| !ps.is_empty())
        .filter_map(|(t, ps)| topics.get(t).map(|i| (i.id, ps.iter().copied().collect())))
        .collect()
}

/// An assignment by topic name; ids of unknown (deleted) topics are dropped.
pub fn by_name(tps: &[(uuid::Uuid, Vec<i32>)], names: &BTreeMap<uuid::Uuid, String>) -> Assignment {
    let mut out = Assignment::new();
    for (id, ps) in tps {
        if let Some(name) = names.get(id) {
            out.entry(name.clone())
                .or_default()
                .extend(ps.iter().copied());
        }
    }
    out
}

fn record(key: ConsumerKey, value: Option<Bytes>) -> Option<CoordinatorRecord> {
    // Only a group or member id too long for Kafka's strings fails here,
    // and such an id never reached the group (requests carry int16 strings
    // too); leaving the record out is the only option.
    Some(CoordinatorRecord {
        key: key.encode().ok()?,
        value,
    })
}

/// The records that take the log from `before` to `after` for group
/// `group_id`, in Kafka's order: member metadata, group epoch, subscribed
/// topics, target assignment, current assignments; removed members'
/// tombstones (current, target, metadata) and, when the group is gone,
/// the group's tombstones last.
pub fn group_records(
    group_id: &str,
    before: Option<&ConsumerGroup>,
    after: Option<&ConsumerGroup>,
    topics: &Topics,
) -> Vec<CoordinatorRecord> {
    let empty = ConsumerGroup::default();
    let b = before.unwrap_or(&empty);
    let a = after.unwrap_or(&empty);
    let g = || group_id.to_string();
    let mut out = Vec::new();
    for (id, m) in &a.members {
        let meta = MemberMetadata::of(m);
        if b.members.get(id).map(MemberMetadata::of).as_ref() != Some(&meta) {
            if let Ok(v) = meta.encode() {
                out.extend(record(
                    ConsumerKey::MemberMetadata(g(), id.clone()),
                    Some(v),
                ));
            }
        }
    }
    if after.is_some() && (before.is_none() || a.group_epoch != b.group_epoch) {
        out.extend(record(
            ConsumerKey::Metadata(g()),
            Some(encode_epoch(a.group_epoch)),
        ));
    }
    if after.is_some() && a.subscribed_topics != b.subscribed_topics {
        if let Ok(v) = encode_partition_metadata(a.group_epoch, &a.subscribed_topics) {
            out.extend(record(ConsumerKey::PartitionMetadata(g()), Some(v)));
        }
    }
    for (id, t) in &a.target {
        if b.target.get(id) != Some(t) {
            let v = encode_target(&by_id(t, topics));
            out.extend(record(
                ConsumerKey::TargetAssignmentMember(g(), id.clone()),
                Some(v),
            ));
        }
    }
    if after.is_some() && (before.is_none() || a.assignment_epoch != b.assignment_epoch) {
        out.extend(record(
            ConsumerKey::TargetAssignmentMetadata(g()),
            Some(encode_epoch(a.assignment_epoch)),
        ));
    }
    for (id, m) in &a.members {
        let old = b.members.get(id);
        let same = old.is_some_and(|o| {
            (
                o.member_epoch,
                o.previous_member_epoch,
                o.state,
                &o.assigned,
                &o.revoking,
            ) == (
                m.member_epoch,
                m.previous_member_epoch,
                m.state,
                &m.assigned,
                &m.revoking,
            )
        });
        if !same {
            let v = CurrentAssignment {
                member_epoch: m.member_epoch,
                previous_member_epoch: m.previous_member_epoch,
                state: state_code(m.state),
                assigned: by_id(&m.assigned, topics),
                revoking: by_id(&m.revoking, topics),
            };
            out.extend(record(
                ConsumerKey::CurrentMemberAssignment(g(), id.clone()),
                Some(v.encode()),
            ));
        }
    }
    for id in b.members.keys().filter(|id| !a.members.contains_key(*id)) {
        out.extend(record(
            ConsumerKey::CurrentMemberAssignment(g(), id.clone()),
            None,
        ));
        out.extend(record(
            ConsumerKey::TargetAssignmentMember(g(), id.clone()),
            None,
        ));
        out.extend(record(ConsumerKey::MemberMetadata(g(), id.clone()), None));
    }
    // A target entry can go without its member (a static member replaced).
    for id in b
        .target
        .keys()
        .filter(|id| !a.target.contains_key(*id) && a.members.contains_key(*id))
    {
        out.extend(record(
            ConsumerKey::TargetAssignmentMember(g(), id.clone()),
            None,
        ));
    }
    if before.is_some() && after.is_none() {
        out.extend(group_tombstones(group_id));
    }
    out
}

/// The tombstones that delete a consumer group's own records (its members'
/// go first, see [`group_records`]).
pub fn group_tombstones(group_id: &str) -> Vec<CoordinatorRecord> {
    let g = || group_id.to_string();
    [
        ConsumerKey::TargetAssignmentMetadata(g()),
        ConsumerKey::PartitionMetadata(g()),
        ConsumerKey::Metadata(g()),
    ]
    .into_iter()
    .filter_map(|k| record(k, None))
    .collect()
}

/// Replays one consumer-group record into `groups`. `names` resolves the
/// stored topic ids. Replaying what [`group_records`] wrote rebuilds the
/// group (members' sessions start once loaded, see
/// [`SESSION_NOT_STARTED`]).
pub(crate) fn replay(
    groups: &mut BTreeMap<String, crate::Group>,
    names: &BTreeMap<uuid::Uuid, String>,
    key: ConsumerKey,
    value: Option<&[u8]>,
) -> Result<(), CoordinatorError> {
    let group_id = key.group().to_string();
    let Some(value) = value else {
        let Some(group) = groups.get_mut(&group_id) else {
            return Ok(());
        };
        let Some(c) = group.consumer.as_mut() else {
            return Ok(());
        };
        match key {
            ConsumerKey::Metadata(_) => {
                group.consumer = None;
                if group.offsets.is_empty() && group.classic.is_empty() {
                    groups.remove(&group_id);
                }
            }
            ConsumerKey::PartitionMetadata(_) => c.subscribed_topics.clear(),
            ConsumerKey::TargetAssignmentMetadata(_) => c.assignment_epoch = 0,
            ConsumerKey::MemberMetadata(_, m) => {
                c.members.remove(&m);
            }
            ConsumerKey::TargetAssignmentMember(_, m) => {
                c.target.remove(&m);
            }
            ConsumerKey::CurrentMemberAssignment(_, m) => {
                if let Some(m) = c.members.get_mut(&m) {
                    m.assigned.clear();
                    m.revoking.clear();
                }
            }
        }
        return Ok(());
    };
    let group = groups.entry(group_id).or_default();
    let c = group.consumer.get_or_insert_with(ConsumerGroup::default);
    match key {
        ConsumerKey::Metadata(_) => c.group_epoch = decode_epoch(value)?,
        ConsumerKey::PartitionMetadata(_) => {
            c.subscribed_topics = decode_partition_metadata(value)?;
        }
        ConsumerKey::TargetAssignmentMetadata(_) => {
            c.assignment_epoch = decode_epoch(value)?;
            c.assignor = Some(c.preferred_assignor());
        }
        ConsumerKey::TargetAssignmentMember(_, m) => {
            let t = by_name(&decode_target(value)?, names);
            c.target.insert(m, t);
        }
        ConsumerKey::MemberMetadata(_, id) => {
            let meta = MemberMetadata::decode(value)?;
            let regex = match meta.subscribed_topic_regex.as_deref() {
                Some(p) => Some(SubscribedRegex::compile(p).map_err(|e| {
                    CoordinatorError::BadRecord(format!("stored regex {p} does not compile: {e}"))
                })?),
                None => None,
            };
            let m = loaded_member(c, &id);
            m.instance_id = meta.instance_id;
            m.rack_id = meta.rack_id;
            m.client_id = meta.client_id;
            m.client_host = meta.client_host;
            m.subscribed_topic_names = meta.subscribed_topic_names;
            m.subscribed_topic_regex = regex;
            m.rebalance_timeout_ms = meta.rebalance_timeout_ms;
            m.server_assignor = meta.server_assignor;
        }
        ConsumerKey::CurrentMemberAssignment(_, id) => {
            let v = CurrentAssignment::decode(value)?;
            let m = loaded_member(c, &id);
            m.member_epoch = v.member_epoch;
            m.previous_member_epoch = v.previous_member_epoch;
            m.state = state_of(v.state);
            m.assigned = by_name(&v.assigned, names);
            m.revoking = by_name(&v.revoking, names);
            m.revocation_deadline_ms = None;
        }
    }
    Ok(())
}

/// The member `id`, created as replayed records first mention it.
fn loaded_member<'a>(c: &'a mut ConsumerGroup, id: &str) -> &'a mut ConsumerMember {
    c.members
        .entry(id.to_string())
        .or_insert_with(|| ConsumerMember::new(id.to_string(), SESSION_NOT_STARTED))
}

fn value_header() -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i16(VALUE_VERSION);
    buf
}

fn put_string(buf: &mut BytesMut, s: &str) -> Result<(), CoordinatorError> {
    if s.len() > i16::MAX as usize {
        return Err(CoordinatorError::StringTooLong(s.len()));
    }
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
    Ok(())
}

fn put_varint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// A compact array's or string's length (+1; 0 is null).
fn put_len(buf: &mut BytesMut, n: usize) {
    put_varint(buf, u32::try_from(n + 1).unwrap_or(u32::MAX));
}

fn put_compact(buf: &mut BytesMut, s: &str) {
    put_len(buf, s.len());
    buf.put_slice(s.as_bytes());
}

fn put_nullable_compact(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_compact(buf, s),
        None => buf.put_u8(0),
    }
}

fn put_topic_partitions(buf: &mut BytesMut, tps: &[(uuid::Uuid, Vec<i32>)]) {
    put_len(buf, tps.len());
    for (id, ps) in tps {
        buf.put_slice(id.as_bytes());
        put_len(buf, ps.len());
        for p in ps {
            buf.put_i32(*p);
        }
        buf.put_u8(0);
    }
}

/// A value reader past its version, which must be 0.
fn value_reader<'a>(bytes: &'a [u8], what: &'static str) -> Result<Reader<'a>, CoordinatorError> {
    let mut r = Reader::new(bytes, what);
    let v = r.i16()?;
    if v != VALUE_VERSION {
        return Err(r.bad(&format!("unknown version {v}")));
    }
    Ok(r)
}

/// A compact array of (topic id, compact array of partitions), each entry
/// with its own tagged fields.
fn topic_partitions(r: &mut Reader) -> Result<Vec<(uuid::Uuid, Vec<i32>)>, CoordinatorError> {
    let mut out = Vec::new();
    for _ in 0..r.compact_len()? {
        let id = r.uuid()?;
        let mut ps = Vec::new();
        for _ in 0..r.compact_len()? {
            ps.push(r.i32()?);
        }
        r.skip_tagged_fields()?;
        out.push((id, ps));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::{CoordinatorConfig, GroupCoordinatorShard};
    use crate::Replayed;

    const ID: uuid::Uuid = uuid::Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);

    fn id_bytes() -> Vec<u8> {
        (1..=16).collect()
    }

    fn topics() -> Topics {
        [(
            "t".to_string(),
            TopicInfo {
                id: ID,
                partitions: 3,
            },
        )]
        .into_iter()
        .collect()
    }

    fn shard() -> GroupCoordinatorShard {
        let mut s = GroupCoordinatorShard::new(0, CoordinatorConfig::default());
        s.set_topics(topics());
        s
    }

    fn put(shard: &mut GroupCoordinatorShard, key: ConsumerKey, value: Option<Bytes>) {
        let k = key.encode().unwrap();
        assert_eq!(
            shard.replay(&k, value.as_deref()),
            Ok(Replayed::Applied),
            "{key:?}"
        );
    }

    #[test]
    fn key_bytes_are_pinned() {
        let g = || "g".to_string();
        let m = || "m".to_string();
        let cases = [
            (ConsumerKey::Metadata(g()), vec![0, 3, 0, 1, b'g']),
            (ConsumerKey::PartitionMetadata(g()), vec![0, 4, 0, 1, b'g']),
            (
                ConsumerKey::MemberMetadata(g(), m()),
                vec![0, 5, 0, 1, b'g', 0, 1, b'm'],
            ),
            (
                ConsumerKey::TargetAssignmentMetadata(g()),
                vec![0, 6, 0, 1, b'g'],
            ),
            (
                ConsumerKey::TargetAssignmentMember(g(), m()),
                vec![0, 7, 0, 1, b'g', 0, 1, b'm'],
            ),
            (
                ConsumerKey::CurrentMemberAssignment(g(), m()),
                vec![0, 8, 0, 1, b'g', 0, 1, b'm'],
            ),
        ];
        for (key, want) in cases {
            let bytes = key.encode().unwrap();
            assert_eq!(bytes.as_ref(), &want[..], "{key:?}");
            assert_eq!(ConsumerKey::decode(&bytes).unwrap(), Some(key));
        }
        assert_eq!(ConsumerKey::decode(&[0, 2, 0, 1, b'g']).unwrap(), None);
        assert!(ConsumerKey::decode(&[0, 5, 0, 1, b'g']).is_err());
    }

    #[test]
    fn epoch_values_are_pinned_and_kafka_tagged_fields_are_skipped() {
        let bytes = encode_epoch(5);
        assert_eq!(bytes.as_ref(), &[0, 0, 0, 0, 0, 5, 0][..]);
        assert_eq!(decode_epoch(&bytes).unwrap(), 5);
        // Kafka 4.1 adds MetadataHash as tagged field 0 (int64).
        let mut tagged = vec![0, 0, 0, 0, 0, 5, 1, 0, 8];
        tagged.extend_from_slice(&7i64.to_be_bytes());
        assert_eq!(decode_epoch(&tagged).unwrap(), 5);
        assert!(decode_epoch(&[0, 1, 0, 0, 0, 5, 0]).is_err());
        assert!(decode_epoch(&[0, 0, 0, 0, 0, 5]).is_err());
    }

    #[test]
    fn partition_metadata_value_is_pinned() {
        let bytes = encode_partition_metadata(5, &topics()).unwrap();
        let mut want = vec![0, 0, 0, 0, 0, 5, 2];
        want.extend(id_bytes());
        want.extend_from_slice(&[2, b't', 0, 0, 0, 3, 1, 0, 0]);
        assert_eq!(bytes.as_ref(), &want[..]);
        assert_eq!(decode_partition_metadata(&bytes).unwrap(), topics());
    }

    #[test]
    fn member_metadata_value_is_pinned() {
        let meta = MemberMetadata {
            instance_id: None,
            rack_id: Some("r".into()),
            client_id: "c".into(),
            client_host: "h".into(),
            subscribed_topic_names: vec!["t".into()],
            subscribed_topic_regex: None,
            rebalance_timeout_ms: 30_000,
            server_assignor: Some("uniform".into()),
        };
        let bytes = meta.encode().unwrap();
        let mut want = vec![0, 0, 0, 2, b'r', 2, b'c', 2, b'h', 2, 2, b't', 0];
        want.extend_from_slice(&30_000i32.to_be_bytes());
        want.push(8);
        want.extend_from_slice(b"uniform");
        want.push(0);
        assert_eq!(bytes.as_ref(), &want[..]);
        assert_eq!(MemberMetadata::decode(&bytes).unwrap(), meta);
        for cut in 0..bytes.len() {
            assert!(MemberMetadata::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn target_and_current_assignment_values_are_pinned() {
        let bytes = encode_target(&[(ID, vec![0, 1])]);
        let mut want = vec![0, 0, 2];
        want.extend(id_bytes());
        want.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(bytes.as_ref(), &want[..]);
        assert_eq!(decode_target(&bytes).unwrap(), vec![(ID, vec![0, 1])]);

        let v = CurrentAssignment {
            member_epoch: 3,
            previous_member_epoch: 2,
            state: 1,
            assigned: vec![(ID, vec![0])],
            revoking: vec![(ID, vec![1])],
        };
        let bytes = v.encode();
        let mut want = vec![0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 1, 2];
        want.extend(id_bytes());
        want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 2]);
        want.extend(id_bytes());
        want.extend_from_slice(&[2, 0, 0, 0, 1, 0, 0]);
        assert_eq!(bytes.as_ref(), &want[..]);
        assert_eq!(CurrentAssignment::decode(&bytes).unwrap(), v);
    }

    fn member_records(shard: &mut GroupCoordinatorShard, m: &str) {
        let g = || "g".to_string();
        let meta = MemberMetadata::of(&ConsumerMember::new(m.into(), 0));
        put(
            shard,
            ConsumerKey::MemberMetadata(g(), m.into()),
            Some(meta.encode().unwrap()),
        );
        put(
            shard,
            ConsumerKey::TargetAssignmentMember(g(), m.into()),
            Some(encode_target(&[(ID, vec![0])])),
        );
        let current = CurrentAssignment {
            member_epoch: 4,
            previous_member_epoch: 3,
            state: 0,
            assigned: vec![(ID, vec![0])],
            revoking: vec![],
        };
        put(
            shard,
            ConsumerKey::CurrentMemberAssignment(g(), m.into()),
            Some(current.encode()),
        );
    }

    #[test]
    fn tombstones_remove_members_then_the_group() {
        let mut s = shard();
        let g = || "g".to_string();
        put(&mut s, ConsumerKey::Metadata(g()), Some(encode_epoch(4)));
        member_records(&mut s, "a");
        member_records(&mut s, "b");
        put(
            &mut s,
            ConsumerKey::TargetAssignmentMetadata(g()),
            Some(encode_epoch(4)),
        );
        let c = s.group("g").and_then(|g| g.consumer.clone()).unwrap();
        assert_eq!((c.group_epoch, c.assignment_epoch), (4, 4));
        assert_eq!(c.members["a"].member_epoch, 4);
        assert_eq!(c.members["a"].assigned["t"].len(), 1);

        // A member leaves: what group_records writes for it.
        let mut after = c.clone();
        after.remove_member("a");
        let records = group_records("g", Some(&c), Some(&after), &topics());
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(|r| r.value.is_none()));
        for r in &records {
            s.replay(&r.key, None).unwrap();
        }
        let c = s.group("g").and_then(|g| g.consumer.clone()).unwrap();
        assert_eq!(c, after);

        // The group goes: members' tombstones, then the group's.
        let records = group_records("g", Some(&c), None, &topics());
        assert_eq!(records.len(), 6);
        for r in &records {
            s.replay(&r.key, r.value.as_deref()).unwrap();
        }
        assert!(s.group("g").is_none());
        // Tombstones of a group not there are no-ops.
        for r in &records {
            assert_eq!(s.replay(&r.key, None), Ok(Replayed::Applied));
        }
    }

    #[test]
    fn loaded_members_are_fenced_a_session_after_the_first_tick() {
        let mut s = shard();
        put(
            &mut s,
            ConsumerKey::Metadata("g".into()),
            Some(encode_epoch(4)),
        );
        member_records(&mut s, "a");
        let session = i64::from(s.config.consumer.session_timeout_ms);
        assert!(s.tick(1_000_000).records.is_empty());
        let m = &s.group("g").unwrap().consumer.as_ref().unwrap().members["a"];
        assert_eq!(m.session_deadline_ms, 1_000_000 + session);
        let out = s.tick(1_000_000 + session);
        let c = s.group("g").unwrap().consumer.as_ref().unwrap();
        assert!(c.members.is_empty());
        assert_eq!(c.group_epoch, 5);
        // Tombstones of the fenced member, then the new epoch.
        assert!(out.records.iter().any(|r| r.value.is_none()));
        assert!(out
            .records
            .iter()
            .any(|r| r.key.as_ref() == ConsumerKey::Metadata("g".into()).encode().unwrap()));
    }

    #[test]
    fn an_expired_empty_consumer_group_goes_with_its_own_tombstones() {
        let mut s = shard();
        put(
            &mut s,
            ConsumerKey::Metadata("g".into()),
            Some(encode_epoch(4)),
        );
        let records = s.expire_offsets(0);
        assert_eq!(records, group_tombstones("g"));
        s.apply(&records);
        assert!(s.group("g").is_none());
    }

    #[test]
    fn partitions_of_topics_no_longer_known_are_dropped() {
        let names = BTreeMap::new();
        assert!(by_name(&[(ID, vec![1])], &names).is_empty());
        let mut a = Assignment::new();
        a.entry("gone".into()).or_default().insert(0);
        assert!(by_id(&a, &topics()).is_empty());
    }
}
