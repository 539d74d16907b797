//! The records the group coordinator keeps in `__consumer_offsets`, encoded
//! byte for byte as Kafka encodes them, so a log written by either can be
//! read by the other and Kafka's tools (`kafka-console-consumer --formatter
//! OffsetsMessageFormatter`) understand ours.
//!
//! A key starts with an `int16` that names the record type (Kafka's
//! `CoordinatorRecordType`, which for these old types doubles as the key
//! schema version): 0 and 1 are `OffsetCommitKey {group, topic, partition}`,
//! 2 is `GroupMetadataKey {group}`. A value starts with an `int16` schema
//! version. A null value is a tombstone: the key's state is deleted.
//!
//! Kafka writes key type 1 and `OffsetCommitValue` version 3 (version 1 when
//! the commit carries its own expiry, the only version with
//! `expireTimestamp`); all value versions 0-4 are read.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::CoordinatorError;
use crate::reader::Reader;

/// Key type of an offset commit written before Kafka 0.10.1; same layout as 1.
pub const OFFSET_COMMIT_KEY_V0: i16 = 0;
/// Key type Kafka writes for an offset commit.
pub const OFFSET_COMMIT_KEY: i16 = 1;
/// Key type of a classic group's metadata (members, generation, assignment).
pub const GROUP_METADATA_KEY: i16 = 2;
/// `OffsetCommitValue` version written for a commit without its own expiry.
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// `OffsetCommitValue` version written for a commit with an expire timestamp.
pub const OFFSET_COMMIT_VALUE_VERSION_EXPIRING: i16 = 1;
/// The newest `OffsetCommitValue` version this crate reads (the first flexible one).
const OFFSET_COMMIT_VALUE_VERSION_MAX: i16 = 4;
/// Kafka's non-compact `string` carries an `int16` length.
pub(crate) const STRING_BYTES_MAX: usize = i16::MAX as usize;
/// Kafka's sentinel for "no leader epoch".
pub const NO_LEADER_EPOCH: i32 = -1;

/// One record to append to (or read from) a `__consumer_offsets` partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorRecord {
    pub key: Bytes,
    /// `None` is a tombstone.
    pub value: Option<Bytes>,
}

/// A decoded record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKey {
    OffsetCommit {
        group: String,
        topic: String,
        partition: i32,
    },
    GroupMetadata {
        group: String,
    },
    /// A record type this version does not handle (Kafka ignores these too:
    /// they may be left over from a newer version or an aborted upgrade).
    Unknown(i16),
}

impl RecordKey {
    /// Encodes the key as Kafka does. Strings over 32767 bytes cannot be
    /// encoded in Kafka's format.
    pub fn encode(&self) -> Result<Bytes, CoordinatorError> {
        let mut buf = BytesMut::new();
        match self {
            RecordKey::OffsetCommit {
                group,
                topic,
                partition,
            } => {
                buf.put_i16(OFFSET_COMMIT_KEY);
                put_string(&mut buf, group)?;
                put_string(&mut buf, topic)?;
                buf.put_i32(*partition);
            }
            RecordKey::GroupMetadata { group } => {
                buf.put_i16(GROUP_METADATA_KEY);
                put_string(&mut buf, group)?;
            }
            RecordKey::Unknown(t) => {
                return Err(CoordinatorError::BadRecord(format!(
                    "cannot encode a key of unknown type {t}"
                )))
            }
        }
        Ok(buf.freeze())
    }

    pub fn decode(bytes: &[u8]) -> Result<RecordKey, CoordinatorError> {
        let mut r = Reader::new(bytes, "key");
        let key = match r.i16()? {
            OFFSET_COMMIT_KEY_V0 | OFFSET_COMMIT_KEY => RecordKey::OffsetCommit {
                group: r.string()?,
                topic: r.string()?,
                partition: r.i32()?,
            },
            GROUP_METADATA_KEY => RecordKey::GroupMetadata { group: r.string()? },
            other => return Ok(RecordKey::Unknown(other)),
        };
        r.finish()?;
        Ok(key)
    }
}

/// A committed offset as stored: Kafka's `OffsetCommitValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    pub offset: i64,
    /// `NO_LEADER_EPOCH` when the client sent none.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Set only by OffsetCommit v2-v4 requests that carry `retention_time_ms`.
    pub expire_timestamp_ms: Option<i64>,
}

impl OffsetCommitValue {
    /// What an OffsetCommit or TxnOffsetCommit partition commits at
    /// `now_ms` (absent metadata is stored as empty, as in Kafka).
    pub fn committed(
        offset: i64,
        leader_epoch: i32,
        metadata: Option<&str>,
        now_ms: i64,
        expire_timestamp_ms: Option<i64>,
    ) -> OffsetCommitValue {
        OffsetCommitValue {
            offset,
            leader_epoch,
            metadata: metadata.unwrap_or_default().to_string(),
            commit_timestamp_ms: now_ms,
            expire_timestamp_ms,
        }
    }

    /// The schema version Kafka writes for this value.
    pub fn version(&self) -> i16 {
        if self.expire_timestamp_ms.is_some() {
            OFFSET_COMMIT_VALUE_VERSION_EXPIRING
        } else {
            OFFSET_COMMIT_VALUE_VERSION
        }
    }

    /// Encodes at [`Self::version`]. Version 1 has no leader epoch, so an
    /// expiring commit loses it, as in Kafka.
    pub fn encode(&self) -> Result<Bytes, CoordinatorError> {
        let mut buf = BytesMut::new();
        let version = self.version();
        buf.put_i16(version);
        buf.put_i64(self.offset);
        if version >= 3 {
            buf.put_i32(self.leader_epoch);
        }
        put_string(&mut buf, &self.metadata)?;
        buf.put_i64(self.commit_timestamp_ms);
        if let Some(expire) = self.expire_timestamp_ms {
            buf.put_i64(expire);
        }
        Ok(buf.freeze())
    }

    /// Decodes any version Kafka has written (0-4).
    pub fn decode(bytes: &[u8]) -> Result<OffsetCommitValue, CoordinatorError> {
        let mut r = Reader::new(bytes, "offset commit value");
        let version = r.i16()?;
        if !(0..=OFFSET_COMMIT_VALUE_VERSION_MAX).contains(&version) {
            return Err(CoordinatorError::BadRecord(format!(
                "unknown offset commit value version {version}"
            )));
        }
        let flexible = version >= 4;
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 {
            r.i32()?
        } else {
            NO_LEADER_EPOCH
        };
        let metadata = if flexible { r.compact()? } else { r.string()? };
        let commit_timestamp_ms = r.i64()?;
        let expire_timestamp_ms = if version == 1 {
            Some(r.i64()?).filter(|t| *t != -1)
        } else {
            None
        };
        if flexible {
            r.skip_tagged_fields()?;
        }
        r.finish()?;
        Ok(OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp_ms,
            expire_timestamp_ms,
        })
    }
}

/// The record Kafka writes for one committed offset.
pub fn offset_commit_record(
    group: &str,
    topic: &str,
    partition: i32,
    value: &OffsetCommitValue,
) -> Result<CoordinatorRecord, CoordinatorError> {
    let key = RecordKey::OffsetCommit {
        group: group.to_string(),
        topic: topic.to_string(),
        partition,
    };
    Ok(CoordinatorRecord {
        key: key.encode()?,
        value: Some(value.encode()?),
    })
}

/// The tombstone that deletes one committed offset.
pub fn offset_commit_tombstone(
    group: &str,
    topic: &str,
    partition: i32,
) -> Result<CoordinatorRecord, CoordinatorError> {
    let key = RecordKey::OffsetCommit {
        group: group.to_string(),
        topic: topic.to_string(),
        partition,
    };
    Ok(CoordinatorRecord {
        key: key.encode()?,
        value: None,
    })
}

/// The tombstone that deletes a group.
pub fn group_metadata_tombstone(group: &str) -> Result<CoordinatorRecord, CoordinatorError> {
    let key = RecordKey::GroupMetadata {
        group: group.to_string(),
    };
    Ok(CoordinatorRecord {
        key: key.encode()?,
        value: None,
    })
}

/// A non-compact string: int16 length, then the bytes.
pub(crate) fn put_string(buf: &mut BytesMut, s: &str) -> Result<(), CoordinatorError> {
    if s.len() > STRING_BYTES_MAX {
        return Err(CoordinatorError::StringTooLong(s.len()));
    }
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(expire: Option<i64>) -> OffsetCommitValue {
        OffsetCommitValue {
            offset: 537,
            leader_epoch: 15,
            metadata: "md".into(),
            commit_timestamp_ms: 0x0102_0304_0506,
            expire_timestamp_ms: expire,
        }
    }

    #[test]
    fn offset_commit_key_bytes_are_pinned() {
        let key = RecordKey::OffsetCommit {
            group: "g".into(),
            topic: "t".into(),
            partition: 7,
        };
        let bytes = key.encode().unwrap();
        assert_eq!(
            bytes.as_ref(),
            &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 7][..]
        );
        assert_eq!(RecordKey::decode(&bytes).unwrap(), key);
    }

    #[test]
    fn group_metadata_key_bytes_are_pinned() {
        let key = RecordKey::GroupMetadata { group: "ab".into() };
        let bytes = key.encode().unwrap();
        assert_eq!(bytes.as_ref(), &[0, 2, 0, 2, b'a', b'b'][..]);
        assert_eq!(RecordKey::decode(&bytes).unwrap(), key);
    }

    #[test]
    fn key_version_0_reads_as_offset_commit() {
        let bytes = [0, 0, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 2];
        assert_eq!(
            RecordKey::decode(&bytes).unwrap(),
            RecordKey::OffsetCommit {
                group: "g".into(),
                topic: "t".into(),
                partition: 2
            }
        );
    }

    #[test]
    fn unknown_key_types_are_reported_not_rejected() {
        assert_eq!(
            RecordKey::decode(&[0, 9, 1, 2, 3]).unwrap(),
            RecordKey::Unknown(9)
        );
    }

    #[test]
    fn value_version_3_bytes_are_pinned() {
        let v = value(None);
        let bytes = v.encode().unwrap();
        let mut want = vec![0, 3];
        want.extend_from_slice(&537i64.to_be_bytes());
        want.extend_from_slice(&15i32.to_be_bytes());
        want.extend_from_slice(&[0, 2, b'm', b'd']);
        want.extend_from_slice(&0x0102_0304_0506i64.to_be_bytes());
        assert_eq!(bytes.as_ref(), &want[..]);
        assert_eq!(OffsetCommitValue::decode(&bytes).unwrap(), v);
    }

    #[test]
    fn expiring_commits_are_written_as_version_1_without_epoch() {
        let v = value(Some(99));
        let bytes = v.encode().unwrap();
        let mut want = vec![0, 1];
        want.extend_from_slice(&537i64.to_be_bytes());
        want.extend_from_slice(&[0, 2, b'm', b'd']);
        want.extend_from_slice(&0x0102_0304_0506i64.to_be_bytes());
        want.extend_from_slice(&99i64.to_be_bytes());
        assert_eq!(bytes.as_ref(), &want[..]);
        let back = OffsetCommitValue::decode(&bytes).unwrap();
        assert_eq!(back.leader_epoch, NO_LEADER_EPOCH);
        assert_eq!(back.expire_timestamp_ms, Some(99));
    }

    #[test]
    fn versions_0_2_and_4_decode() {
        let mut v0 = vec![0, 0];
        v0.extend_from_slice(&5i64.to_be_bytes());
        v0.extend_from_slice(&[0, 0]);
        v0.extend_from_slice(&6i64.to_be_bytes());
        let d = OffsetCommitValue::decode(&v0).unwrap();
        assert_eq!(
            (d.offset, d.commit_timestamp_ms, d.leader_epoch),
            (5, 6, -1)
        );
        let mut v2 = v0.clone();
        v2[1] = 2;
        assert_eq!(OffsetCommitValue::decode(&v2).unwrap(), d);

        let mut v4 = vec![0, 4];
        v4.extend_from_slice(&5i64.to_be_bytes());
        v4.extend_from_slice(&3i32.to_be_bytes());
        v4.extend_from_slice(&[3, b'h', b'i']); // compact string "hi"
        v4.extend_from_slice(&6i64.to_be_bytes());
        v4.extend_from_slice(&[1, 0, 2, 0xaa, 0xbb]); // one unknown tagged field
        let d4 = OffsetCommitValue::decode(&v4).unwrap();
        assert_eq!(
            (d4.offset, d4.leader_epoch, d4.metadata.as_str()),
            (5, 3, "hi")
        );
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let good = value(None).encode().unwrap();
        for cut in 0..good.len() {
            assert!(
                OffsetCommitValue::decode(&good[..cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut long = good.to_vec();
        long.push(0);
        assert!(OffsetCommitValue::decode(&long).is_err());
        assert!(OffsetCommitValue::decode(&[0, 5]).is_err());
        assert!(RecordKey::decode(&[0, 1, 0xff, 0xff]).is_err());
    }

    #[test]
    fn strings_longer_than_kafka_can_store_are_refused() {
        let key = RecordKey::GroupMetadata {
            group: "x".repeat(STRING_BYTES_MAX + 1),
        };
        assert!(matches!(
            key.encode(),
            Err(CoordinatorError::StringTooLong(_))
        ));
    }
}
