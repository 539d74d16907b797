//! Kafka's `GroupMetadataValue`: a classic group's generation, protocol,
//! leader and members with their subscriptions and assignments, stored
//! under `GroupMetadataKey {group}` (key type 2) in `__consumer_offsets`.
//!
//! Kafka writes value version 3 (the newest non-flexible one); versions 0-4
//! are read. Layout (v0-3, big-endian, `int16`-length strings, `-1` for
//! null, `int32`-length bytes and arrays): protocolType, generation,
//! protocol?, leader?, currentStateTimestamp (v2+), members[] of memberId,
//! groupInstanceId? (v3+), clientId, clientHost, rebalanceTimeout (v1+),
//! sessionTimeout, subscription, assignment. Version 4 is the same with
//! compact (varint) lengths and tagged-field sections.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::group::ClassicGroup;
use super::member::{ClassicMember, Protocol};
use crate::error::CoordinatorError;
use crate::records::{CoordinatorRecord, RecordKey};

/// The `GroupMetadataValue` version Kafka writes.
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;
/// The newest version read (the first flexible one).
const VERSION_MAX: i16 = 4;
const FLEXIBLE_MIN_VERSION: i16 = 4;

/// A decoded `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Empty for a group that never had members.
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// -1 when unknown (records older than v2).
    pub current_state_timestamp_ms: i64,
    pub members: Vec<GroupMetadataMember>,
}

/// One member in a `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// -1 when unknown (v0 records).
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    /// The member's metadata for the group's protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

impl GroupMetadataValue {
    /// The value as `group` stands now.
    pub fn of(group: &ClassicGroup) -> GroupMetadataValue {
        let protocol = group.protocol_name().unwrap_or_default();
        GroupMetadataValue {
            protocol_type: group.protocol_type().unwrap_or_default().to_string(),
            generation: group.generation_id(),
            protocol: group.protocol_name().map(str::to_string),
            leader: group.leader_id().map(str::to_string),
            current_state_timestamp_ms: group.state_timestamp_ms().unwrap_or(-1),
            members: group
                .members()
                .map(|m| GroupMetadataMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(protocol),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    /// What Kafka writes for a group a JoinGroup just created, before any
    /// generation: no type, no protocol, no members.
    pub fn created(group: &ClassicGroup) -> GroupMetadataValue {
        GroupMetadataValue {
            protocol_type: String::new(),
            generation: 0,
            protocol: None,
            leader: None,
            current_state_timestamp_ms: group.state_timestamp_ms().unwrap_or(-1),
            members: Vec::new(),
        }
    }

    /// The group this value describes, as Kafka loads it: Stable with its
    /// members (each supporting just the group's protocol), or Empty.
    pub fn into_group(self) -> ClassicGroup {
        let protocol = self.protocol.clone().unwrap_or_default();
        let protocol_type = self.protocol_type;
        let members = self
            .members
            .into_iter()
            .map(|m| {
                let rebalance_timeout_ms = if m.rebalance_timeout_ms == -1 {
                    m.session_timeout_ms
                } else {
                    m.rebalance_timeout_ms
                };
                let mut member = ClassicMember::new(
                    m.member_id,
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    rebalance_timeout_ms,
                    m.session_timeout_ms,
                    protocol_type.clone(),
                    vec![Protocol {
                        name: protocol.clone(),
                        metadata: m.subscription,
                    }],
                );
                member.assignment = m.assignment;
                member
            })
            .collect();
        ClassicGroup::loaded(
            self.generation,
            Some(protocol_type).filter(|t| !t.is_empty()),
            self.protocol,
            self.leader,
            Some(self.current_state_timestamp_ms).filter(|t| *t != -1),
            members,
        )
    }

    /// Encodes at [`GROUP_METADATA_VALUE_VERSION`].
    pub fn encode(&self) -> Result<Bytes, CoordinatorError> {
        let mut buf = BytesMut::new();
        buf.put_i16(GROUP_METADATA_VALUE_VERSION);
        put_string(&mut buf, Some(&self.protocol_type))?;
        buf.put_i32(self.generation);
        put_string(&mut buf, self.protocol.as_deref())?;
        put_string(&mut buf, self.leader.as_deref())?;
        buf.put_i64(self.current_state_timestamp_ms);
        buf.put_i32(self.members.len() as i32);
        for m in &self.members {
            put_string(&mut buf, Some(&m.member_id))?;
            put_string(&mut buf, m.group_instance_id.as_deref())?;
            put_string(&mut buf, Some(&m.client_id))?;
            put_string(&mut buf, Some(&m.client_host))?;
            buf.put_i32(m.rebalance_timeout_ms);
            buf.put_i32(m.session_timeout_ms);
            put_bytes(&mut buf, &m.subscription);
            put_bytes(&mut buf, &m.assignment);
        }
        Ok(buf.freeze())
    }

    /// Decodes any version Kafka has written (0-4).
    pub fn decode(bytes: &[u8]) -> Result<GroupMetadataValue, CoordinatorError> {
        let mut r = Reader {
            buf: Bytes::copy_from_slice(bytes),
            version: 0,
        };
        let version = r.i16()?;
        if !(0..=VERSION_MAX).contains(&version) {
            return Err(bad(format!(
                "unknown group metadata value version {version}"
            )));
        }
        r.version = version;
        let protocol_type = r.string()?;
        let generation = r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp_ms = if version >= 2 { r.i64()? } else { -1 };
        let count = r.array_len()?;
        let mut members = Vec::with_capacity(count.min(r.buf.remaining()));
        for _ in 0..count {
            members.push(r.member()?);
        }
        r.tagged_fields()?;
        if r.buf.has_remaining() {
            return Err(bad(format!(
                "group metadata value has {} trailing bytes",
                r.buf.remaining()
            )));
        }
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp_ms,
            members,
        })
    }
}

/// The record that stores `value` for `group_id`.
pub(super) fn group_metadata_record(
    group_id: &str,
    value: &GroupMetadataValue,
) -> Result<CoordinatorRecord, CoordinatorError> {
    let key = RecordKey::GroupMetadata {
        group: group_id.to_string(),
    };
    Ok(CoordinatorRecord {
        key: key.encode()?,
        value: Some(value.encode()?),
    })
}

fn bad(why: String) -> CoordinatorError {
    CoordinatorError::BadRecord(why)
}

fn put_string(buf: &mut BytesMut, s: Option<&str>) -> Result<(), CoordinatorError> {
    match s {
        None => buf.put_i16(-1),
        Some(s) => {
            let len =
                i16::try_from(s.len()).map_err(|_| CoordinatorError::StringTooLong(s.len()))?;
            buf.put_i16(len);
            buf.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

fn put_bytes(buf: &mut BytesMut, b: &Bytes) {
    // Member metadata comes from request frames, far below 2 GiB.
    let len = i32::try_from(b.len()).expect("member metadata below 2 GiB");
    buf.put_i32(len);
    buf.put_slice(b);
}

/// A bounds-checked reader of one value, with the string, bytes and array
/// encodings of its version.
struct Reader {
    buf: Bytes,
    version: i16,
}

impl Reader {
    fn flexible(&self) -> bool {
        self.version >= FLEXIBLE_MIN_VERSION
    }

    fn take(&mut self, n: usize) -> Result<Bytes, CoordinatorError> {
        if n > self.buf.remaining() {
            return Err(bad(format!(
                "group metadata value ends early: {n} bytes needed, {} left",
                self.buf.remaining()
            )));
        }
        Ok(self.buf.split_to(n))
    }

    fn i16(&mut self) -> Result<i16, CoordinatorError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, CoordinatorError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, CoordinatorError> {
        let mut b = self.take(8)?;
        Ok(b.get_i64())
    }

    fn unsigned_varint(&mut self) -> Result<u32, CoordinatorError> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            value |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(bad(
            "group metadata value holds a varint longer than 5 bytes".into(),
        ))
    }

    /// A length prefix of this version: `None` for null (-1 / varint 0).
    fn length(&mut self, int16: bool) -> Result<Option<usize>, CoordinatorError> {
        let n = if self.flexible() {
            i64::from(self.unsigned_varint()?) - 1
        } else if int16 {
            i64::from(self.i16()?)
        } else {
            i64::from(self.i32()?)
        };
        match n {
            -1 => Ok(None),
            n => usize::try_from(n)
                .map(Some)
                .map_err(|_| bad(format!("group metadata value holds a negative length {n}"))),
        }
    }

    fn nullable_string(&mut self) -> Result<Option<String>, CoordinatorError> {
        let Some(len) = self.length(true)? else {
            return Ok(None);
        };
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| bad("group metadata value holds a string that is not UTF-8".into()))
    }

    fn string(&mut self) -> Result<String, CoordinatorError> {
        self.nullable_string()?
            .ok_or_else(|| bad("group metadata value holds a null where a string belongs".into()))
    }

    fn bytes(&mut self) -> Result<Bytes, CoordinatorError> {
        match self.length(false)? {
            None => Ok(Bytes::new()),
            Some(len) => self.take(len),
        }
    }

    /// An array length; each element takes at least one byte, so a length
    /// beyond the remaining bytes is damage, not a reason to allocate.
    fn array_len(&mut self) -> Result<usize, CoordinatorError> {
        match self.length(false)? {
            Some(n) if n <= self.buf.remaining() => Ok(n),
            n => Err(bad(format!(
                "group metadata value has a bad member count {n:?}"
            ))),
        }
    }

    fn member(&mut self) -> Result<GroupMetadataMember, CoordinatorError> {
        let member_id = self.string()?;
        let group_instance_id = if self.version >= 3 {
            self.nullable_string()?
        } else {
            None
        };
        let client_id = self.string()?;
        let client_host = self.string()?;
        let rebalance_timeout_ms = if self.version >= 1 { self.i32()? } else { -1 };
        let session_timeout_ms = self.i32()?;
        let subscription = self.bytes()?;
        let assignment = self.bytes()?;
        self.tagged_fields()?;
        Ok(GroupMetadataMember {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        })
    }

    /// Skips a tagged-field section (flexible versions only); none is known.
    fn tagged_fields(&mut self) -> Result<(), CoordinatorError> {
        if !self.flexible() {
            return Ok(());
        }
        let count = self.unsigned_varint()?;
        for _ in 0..count {
            let _tag = self.unsigned_varint()?;
            let size = self.unsigned_varint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}
