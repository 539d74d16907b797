//! The records of `__transaction_state`, byte for byte as Kafka writes them
//! (`TransactionLogKey.json`, `TransactionLogValue.json`), so either broker
//! can read a log the other wrote.
//!
//! Key: `int16` version 0, then the transactional id as a `string`. Value:
//! `int16` version, then `TransactionLogValue`. Version 1 is flexible and
//! adds three tagged fields (`PreviousProducerId` tag 0, `NextProducerId`
//! tag 1, `ClientTransactionVersion` tag 2) for KIP-890's transaction
//! version 2. Kafka writes version 0 at `transaction.version` 0 (the only
//! level of Kafka 3.x) and version 1 from `transaction.version` 1 on, with
//! the same fields until version 2 features are used. Both are read. This
//! crate writes version 0, which every Kafka reads, and version 1 only when
//! a tagged field differs from its default, so a value decoded and encoded
//! again keeps every field. A null value is the tombstone of an expired
//! transactional id.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::CoordinatorError;
use crate::reader::Reader;
use crate::records::{put_string, CoordinatorRecord, STRING_BYTES_MAX};

/// The only `TransactionLogKey` version.
pub const TXN_KEY_VERSION: i16 = 0;
/// The newest `TransactionLogValue` version, the first flexible one.
pub const TXN_VALUE_VERSION_MAX: i16 = 1;
/// Kafka's "no producer id" (`RecordBatch.NO_PRODUCER_ID`).
pub const NO_PRODUCER_ID: i64 = -1;
/// Kafka's "no producer epoch" (`RecordBatch.NO_PRODUCER_EPOCH`).
pub const NO_PRODUCER_EPOCH: i16 = -1;

const TAG_PREVIOUS_PRODUCER_ID: u32 = 0;
const TAG_NEXT_PRODUCER_ID: u32 = 1;
const TAG_CLIENT_TRANSACTION_VERSION: u32 = 2;

/// A decoded `__transaction_state` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnKey {
    Transaction {
        transactional_id: String,
    },
    /// A key version this coordinator does not know; skipped on load, as
    /// Kafka does (a leftover of an aborted upgrade).
    Unknown(i16),
}

impl TxnKey {
    pub fn decode(bytes: &[u8]) -> Result<TxnKey, CoordinatorError> {
        let mut r = Reader::new(bytes, "transaction log key");
        match r.i16()? {
            TXN_KEY_VERSION => {
                let transactional_id = r.string()?;
                r.finish()?;
                Ok(TxnKey::Transaction { transactional_id })
            }
            other => Ok(TxnKey::Unknown(other)),
        }
    }
}

/// Encodes the key of `transactional_id`.
pub fn encode_key(transactional_id: &str) -> Result<Bytes, CoordinatorError> {
    let mut buf = BytesMut::with_capacity(4 + transactional_id.len());
    buf.put_i16(TXN_KEY_VERSION);
    put_string(&mut buf, transactional_id)?;
    Ok(buf.freeze())
}

/// One topic's partitions in a transaction (`PartitionsSchema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogPartitions {
    pub topic: String,
    pub partition_ids: Vec<i32>,
}

/// `TransactionLogValue`: one transactional id's state as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionLogValue {
    pub producer_id: i64,
    /// Tagged (version 1+); [`NO_PRODUCER_ID`] when absent.
    pub previous_producer_id: i64,
    /// Tagged (version 1+); [`NO_PRODUCER_ID`] when absent.
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    pub transaction_timeout_ms: i32,
    /// The state id (`TxnState::id`).
    pub transaction_status: i8,
    /// Null for an `Empty` transaction, as Kafka writes it.
    pub transaction_partitions: Option<Vec<TxnLogPartitions>>,
    pub transaction_last_update_timestamp_ms: i64,
    pub transaction_start_timestamp_ms: i64,
    /// Tagged (version 1+); 0 when absent.
    pub client_transaction_version: i16,
}

impl TransactionLogValue {
    /// The version this value is written at: 0 unless a tagged field is set.
    pub fn version(&self) -> i16 {
        let tagged = self.previous_producer_id != NO_PRODUCER_ID
            || self.next_producer_id != NO_PRODUCER_ID
            || self.client_transaction_version != 0;
        i16::from(tagged)
    }

    /// Encodes at [`Self::version`].
    pub fn encode(&self) -> Result<Bytes, CoordinatorError> {
        self.encode_version(self.version())
    }

    /// Encodes at `version` (0 or 1). Version 0 has no tagged fields: they
    /// must hold their defaults.
    pub fn encode_version(&self, version: i16) -> Result<Bytes, CoordinatorError> {
        if version == 0 && self.version() != 0 {
            return Err(CoordinatorError::BadRecord(
                "version 0 of TransactionLogValue cannot carry tagged fields".into(),
            ));
        }
        if !(0..=TXN_VALUE_VERSION_MAX).contains(&version) {
            return Err(CoordinatorError::BadRecord(format!(
                "cannot encode TransactionLogValue version {version}"
            )));
        }
        let flexible = version >= 1;
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i16(version);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_i32(self.transaction_timeout_ms);
        buf.put_i8(self.transaction_status);
        match &self.transaction_partitions {
            None if flexible => put_uvarint(&mut buf, 0),
            None => buf.put_i32(-1),
            Some(topics) => {
                put_len(&mut buf, topics.len(), flexible);
                for t in topics {
                    if flexible {
                        put_compact_string(&mut buf, &t.topic)?;
                    } else {
                        put_string(&mut buf, &t.topic)?;
                    }
                    put_len(&mut buf, t.partition_ids.len(), flexible);
                    for p in &t.partition_ids {
                        buf.put_i32(*p);
                    }
                    if flexible {
                        put_uvarint(&mut buf, 0); // the struct's tagged fields
                    }
                }
            }
        }
        buf.put_i64(self.transaction_last_update_timestamp_ms);
        buf.put_i64(self.transaction_start_timestamp_ms);
        if flexible {
            self.put_tagged_fields(&mut buf);
        }
        Ok(buf.freeze())
    }

    /// The top-level tagged fields in tag order, each only when not default.
    fn put_tagged_fields(&self, buf: &mut BytesMut) {
        let mut fields: Vec<(u32, Vec<u8>)> = Vec::new();
        if self.previous_producer_id != NO_PRODUCER_ID {
            let bytes = self.previous_producer_id.to_be_bytes().to_vec();
            fields.push((TAG_PREVIOUS_PRODUCER_ID, bytes));
        }
        if self.next_producer_id != NO_PRODUCER_ID {
            let bytes = self.next_producer_id.to_be_bytes().to_vec();
            fields.push((TAG_NEXT_PRODUCER_ID, bytes));
        }
        if self.client_transaction_version != 0 {
            let bytes = self.client_transaction_version.to_be_bytes().to_vec();
            fields.push((TAG_CLIENT_TRANSACTION_VERSION, bytes));
        }
        put_uvarint(buf, fields.len() as u32);
        for (tag, data) in fields {
            put_uvarint(buf, tag);
            put_uvarint(buf, data.len() as u32);
            buf.put_slice(&data);
        }
    }

    /// Decodes version 0 or 1.
    pub fn decode(bytes: &[u8]) -> Result<TransactionLogValue, CoordinatorError> {
        let mut r = Reader::new(bytes, "transaction log value");
        let version = r.i16()?;
        if !(0..=TXN_VALUE_VERSION_MAX).contains(&version) {
            return Err(r.bad(&format!("has unknown version {version}")));
        }
        let flexible = version >= 1;
        let mut value = TransactionLogValue {
            producer_id: r.i64()?,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: r.i16()?,
            transaction_timeout_ms: r.i32()?,
            transaction_status: r.i8()?,
            transaction_partitions: read_partitions(&mut r, flexible)?,
            transaction_last_update_timestamp_ms: r.i64()?,
            transaction_start_timestamp_ms: r.i64()?,
            client_transaction_version: 0,
        };
        if flexible {
            value.read_tagged_fields(&mut r)?;
        }
        r.finish()?;
        Ok(value)
    }

    fn read_tagged_fields(&mut self, r: &mut Reader<'_>) -> Result<(), CoordinatorError> {
        for _ in 0..r.varint()? {
            let tag = r.varint()?;
            let size = r.varint()? as usize;
            let data = r.take(size)?;
            let mut field = Reader::new(data, "transaction log value tagged field");
            match tag {
                TAG_PREVIOUS_PRODUCER_ID => self.previous_producer_id = field.i64()?,
                TAG_NEXT_PRODUCER_ID => self.next_producer_id = field.i64()?,
                TAG_CLIENT_TRANSACTION_VERSION => self.client_transaction_version = field.i16()?,
                // Unknown tags are a newer writer's business: skip them.
                _ => continue,
            }
            field.finish()?;
        }
        Ok(())
    }
}

fn read_partitions(
    r: &mut Reader<'_>,
    flexible: bool,
) -> Result<Option<Vec<TxnLogPartitions>>, CoordinatorError> {
    let count = if flexible {
        match r.varint()? {
            0 => return Ok(None),
            n => n as usize - 1,
        }
    } else {
        match r.i32()? {
            -1 => return Ok(None),
            n if n < 0 => return Err(r.bad(&format!("has a partition count of {n}"))),
            n => n as usize,
        }
    };
    // Each entry takes at least 4 bytes: the bound keeps a bad count from
    // allocating more than the record could hold.
    let mut topics = Vec::with_capacity(count.min(r.remaining() / 4));
    for _ in 0..count {
        let topic = if flexible { r.compact()? } else { r.string()? };
        let n = if flexible {
            r.compact_len()?
        } else {
            let n = r.i32()?;
            usize::try_from(n).map_err(|_| r.bad(&format!("has a partition id count of {n}")))?
        };
        let mut partition_ids = Vec::with_capacity(n.min(r.remaining() / 4));
        for _ in 0..n {
            partition_ids.push(r.i32()?);
        }
        if flexible {
            r.skip_tagged_fields()?;
        }
        topics.push(TxnLogPartitions {
            topic,
            partition_ids,
        });
    }
    Ok(Some(topics))
}

/// The record that stores `value` under `transactional_id`.
pub fn txn_record(
    transactional_id: &str,
    value: &TransactionLogValue,
) -> Result<CoordinatorRecord, CoordinatorError> {
    Ok(CoordinatorRecord {
        key: encode_key(transactional_id)?,
        value: Some(value.encode()?),
    })
}

/// The tombstone that deletes an expired transactional id.
pub fn txn_tombstone(transactional_id: &str) -> Result<CoordinatorRecord, CoordinatorError> {
    Ok(CoordinatorRecord {
        key: encode_key(transactional_id)?,
        value: None,
    })
}

fn put_compact_string(buf: &mut BytesMut, s: &str) -> Result<(), CoordinatorError> {
    if s.len() > STRING_BYTES_MAX {
        return Err(CoordinatorError::StringTooLong(s.len()));
    }
    put_uvarint(buf, s.len() as u32 + 1);
    buf.put_slice(s.as_bytes());
    Ok(())
}

/// An array length: `int32`, or in flexible versions unsigned varint + 1.
fn put_len(buf: &mut BytesMut, len: usize, flexible: bool) {
    let len = u32::try_from(len).expect("a transaction holds fewer than 2^31 partitions");
    if flexible {
        put_uvarint(buf, len + 1);
    } else {
        buf.put_i32(len as i32);
    }
}

fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
