//! Zero-copy parsing and validation of magic-2 record batches.
//!
//! A record batch is the unit producers send, the log stores and consumers
//! fetch. The broker never re-encodes one: it validates the producer's bytes
//! (header, lengths, CRC32C, codec, and for uncompressed batches the record
//! framing), then patches only the fields Kafka lets a leader rewrite. Base
//! offset and partition leader epoch lie outside the CRC; log-append time
//! does not, so [`set_log_append_time`] recomputes it.
//!
//! Layout (big-endian), from Kafka's `DefaultRecordBatch`:
//!
//! ```text
//!  0 base_offset i64         8 batch_length i32      12 partition_leader_epoch i32
//! 16 magic i8               17 crc u32 (CRC32C of bytes 21..end)
//! 21 attributes i16         23 last_offset_delta i32  27 base_timestamp i64
//! 35 max_timestamp i64      43 producer_id i64        51 producer_epoch i16
//! 53 base_sequence i32      57 records_count i32      61 records...
//! ```
//!
//! Compressed batches are not decompressed here: that would cost more than
//! the rest of the produce path together. Only their codec id is checked.

use std::ops::Range;

use thiserror::Error;

pub const BASE_OFFSET_OFFSET: usize = 0;
pub const BATCH_LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORDS_COUNT_OFFSET: usize = 57;
/// Size of the fixed batch header; records start here.
pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes not counted by `batch_length`: the base offset and the length itself.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// The CRC covers everything from the attributes to the end of the batch.
pub const CRC_COVERED_FROM: usize = ATTRIBUTES_OFFSET;
/// The only record format this broker accepts.
pub const CURRENT_MAGIC: i8 = 2;
/// The smallest legal `batch_length`: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32;

pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;
pub const NO_TIMESTAMP: i64 = -1;
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
const TRANSACTIONAL_BIT: i16 = 0x10;
const CONTROL_BIT: i16 = 0x20;

/// A record body is at least attributes, timestamp delta, offset delta,
/// key length, value length and header count: one byte each.
const MIN_RECORD_BODY_BYTES: i32 = 6;
const VARINT_MAX_BYTES: usize = 5;
const VARLONG_MAX_BYTES: usize = 10;

// The layout is a wire and disk format: each field starts where the previous
// one ends, and the header size is what Kafka's RECORD_BATCH_OVERHEAD says.
const _: () = {
    assert!(BATCH_LENGTH_OFFSET == BASE_OFFSET_OFFSET + 8);
    assert!(PARTITION_LEADER_EPOCH_OFFSET == BATCH_LENGTH_OFFSET + 4);
    assert!(PARTITION_LEADER_EPOCH_OFFSET == LOG_OVERHEAD_BYTES);
    assert!(MAGIC_OFFSET == PARTITION_LEADER_EPOCH_OFFSET + 4);
    assert!(CRC_OFFSET == MAGIC_OFFSET + 1);
    assert!(ATTRIBUTES_OFFSET == CRC_OFFSET + 4);
    assert!(LAST_OFFSET_DELTA_OFFSET == ATTRIBUTES_OFFSET + 2);
    assert!(BASE_TIMESTAMP_OFFSET == LAST_OFFSET_DELTA_OFFSET + 4);
    assert!(MAX_TIMESTAMP_OFFSET == BASE_TIMESTAMP_OFFSET + 8);
    assert!(PRODUCER_ID_OFFSET == MAX_TIMESTAMP_OFFSET + 8);
    assert!(PRODUCER_EPOCH_OFFSET == PRODUCER_ID_OFFSET + 8);
    assert!(BASE_SEQUENCE_OFFSET == PRODUCER_EPOCH_OFFSET + 2);
    assert!(RECORDS_COUNT_OFFSET == BASE_SEQUENCE_OFFSET + 4);
    assert!(BATCH_HEADER_BYTES == RECORDS_COUNT_OFFSET + 4);
    assert!(BATCH_HEADER_BYTES == 61);
};

/// Why a batch was refused. The log maps these onto Kafka error codes:
/// magic onto UNSUPPORTED_FOR_MESSAGE_FORMAT, framing and CRC onto
/// CORRUPT_MESSAGE, inconsistent counts and records onto INVALID_RECORD.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchError {
    #[error("record batch magic {0} is not supported; only magic 2 is")]
    UnsupportedMagic(i8),
    #[error(
        "record batch header truncated: {available} bytes available, {BATCH_HEADER_BYTES} needed"
    )]
    TruncatedHeader { available: usize },
    #[error("record batch length {0} is below the minimum {MIN_BATCH_LENGTH}")]
    BatchLengthTooSmall(i32),
    #[error(
        "record batch truncated: it declares {declared} bytes but only {available} are available"
    )]
    TruncatedBatch { declared: usize, available: usize },
    #[error("record batch declares {declared} bytes but the buffer holds {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("record batch uses unknown compression codec {0}")]
    InvalidCompression(u8),
    #[error("record batch has negative record count {0}")]
    NegativeRecordCount(i32),
    #[error("record batch last offset delta {last_offset_delta} does not match record count {records_count}")]
    LastOffsetDeltaMismatch {
        last_offset_delta: i32,
        records_count: i32,
    },
    #[error("record batch declares {declared} records but holds {found}")]
    RecordCountMismatch { declared: i32, found: i64 },
    #[error("record {index} of the batch is malformed: {reason}")]
    MalformedRecord { index: i64, reason: &'static str },
}

/// Compression codec from attribute bits 0-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    pub fn from_id(id: u8) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Meaning of a batch's timestamps (attribute bit 3); also the topic's
/// `message.timestamp.type` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    #[default]
    CreateTime,
    LogAppendTime,
}

/// The fixed header of one batch, copied out of the buffer. Plain data:
/// only [`BatchHeader::parse`] checks anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads the header at the start of `buf`. Checks only what is needed to
    /// frame the batch: magic 2 and a plausible length. The rest of the
    /// batch need not be in `buf`.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        if buf.len() > MAGIC_OFFSET && buf[MAGIC_OFFSET] as i8 != CURRENT_MAGIC {
            return Err(BatchError::UnsupportedMagic(buf[MAGIC_OFFSET] as i8));
        }
        if buf.len() < BATCH_HEADER_BYTES {
            return Err(BatchError::TruncatedHeader {
                available: buf.len(),
            });
        }
        let header = BatchHeader {
            base_offset: read_i64(buf, BASE_OFFSET_OFFSET),
            batch_length: read_i32(buf, BATCH_LENGTH_OFFSET),
            partition_leader_epoch: read_i32(buf, PARTITION_LEADER_EPOCH_OFFSET),
            magic: buf[MAGIC_OFFSET] as i8,
            crc: read_i32(buf, CRC_OFFSET) as u32,
            attributes: read_i16(buf, ATTRIBUTES_OFFSET),
            last_offset_delta: read_i32(buf, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: read_i64(buf, BASE_TIMESTAMP_OFFSET),
            max_timestamp: read_i64(buf, MAX_TIMESTAMP_OFFSET),
            producer_id: read_i64(buf, PRODUCER_ID_OFFSET),
            producer_epoch: read_i16(buf, PRODUCER_EPOCH_OFFSET),
            base_sequence: read_i32(buf, BASE_SEQUENCE_OFFSET),
            records_count: read_i32(buf, RECORDS_COUNT_OFFSET),
        };
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::BatchLengthTooSmall(header.batch_length));
        }
        Ok(header)
    }

    /// Size of the whole batch including base offset and length fields.
    pub fn total_bytes(&self) -> usize {
        self.batch_length.max(0) as usize + LOG_OVERHEAD_BYTES
    }

    /// Offset of the last record. Wrapping so that garbage never panics;
    /// callers that care check `last_offset() >= base_offset`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    pub fn compression(&self) -> Result<Compression, BatchError> {
        let id = (self.attributes & COMPRESSION_MASK) as u8;
        Compression::from_id(id).ok_or(BatchError::InvalidCompression(id))
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    pub fn has_producer_id(&self) -> bool {
        self.producer_id > NO_PRODUCER_ID
    }

    /// Sequence of the last record, wrapping past `i32::MAX` to 0 as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 (Kafka's
/// `DefaultRecordBatch.incrementSequence`).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    let sum = i64::from(sequence) + i64::from(increment);
    if sum > i64::from(i32::MAX) {
        (sum - i64::from(i32::MAX) - 1) as i32
    } else {
        sum as i32
    }
}

/// Checks one whole batch (exactly `buf`): magic, length, CRC32C, record
/// count against the offset range, codec id, and for uncompressed batches
/// that the records' length prefixes fill the batch exactly. Allocates
/// nothing and does not decompress.
pub fn validate_batch(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    validate(buf, true)
}

/// [`validate_batch`] for batches already in a log, which compaction may
/// have thinned: records keep their offsets, so the count may be below the
/// offset range and offset deltas may skip, but they must still increase
/// and stay within `last_offset_delta` (what Kafka's recovery accepts).
pub fn validate_stored_batch(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    validate(buf, false)
}

fn validate(buf: &[u8], dense: bool) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(buf)?;
    let declared = header.total_bytes();
    if declared > buf.len() {
        return Err(BatchError::TruncatedBatch {
            declared,
            available: buf.len(),
        });
    }
    if declared != buf.len() {
        return Err(BatchError::LengthMismatch {
            declared,
            actual: buf.len(),
        });
    }
    let computed = compute_crc(buf);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    if header.records_count < 0 {
        return Err(BatchError::NegativeRecordCount(header.records_count));
    }
    let delta_ok = if header.records_count == 0 {
        // An empty batch (left behind by compaction) keeps its offset range.
        header.last_offset_delta >= 0
    } else if dense {
        header.last_offset_delta == header.records_count - 1
    } else {
        header.last_offset_delta >= header.records_count - 1
    };
    if !delta_ok {
        return Err(BatchError::LastOffsetDeltaMismatch {
            last_offset_delta: header.last_offset_delta,
            records_count: header.records_count,
        });
    }
    if header.compression()? == Compression::None {
        check_records(buf, &header, dense)?;
    }
    Ok(header)
}

fn check_records(batch: &[u8], header: &BatchHeader, dense: bool) -> Result<(), BatchError> {
    let declared = header.records_count;
    let mut found: i64 = 0;
    let mut previous: i64 = -1;
    for record in RecordIter::new(batch) {
        let record = record?;
        let delta = i64::from(record.offset_delta);
        let in_order = if dense {
            delta == found
        } else {
            delta > previous && delta <= i64::from(header.last_offset_delta)
        };
        if !in_order {
            return Err(BatchError::MalformedRecord {
                index: found,
                reason: "offset delta out of sequence",
            });
        }
        previous = delta;
        found += 1;
        if found > i64::from(declared) {
            break;
        }
    }
    if found != i64::from(declared) {
        return Err(BatchError::RecordCountMismatch { declared, found });
    }
    Ok(())
}

/// CRC32C of the CRC-covered part of one batch (attributes to the end of
/// `batch_length`, clamped to the buffer).
pub fn compute_crc(batch: &[u8]) -> u32 {
    let end = match BatchHeader::parse(batch) {
        Ok(h) => h.total_bytes().min(batch.len()),
        Err(_) => batch.len(),
    };
    if end <= CRC_COVERED_FROM {
        return crc32c::crc32c(&[]);
    }
    crc32c::crc32c(&batch[CRC_COVERED_FROM..end])
}

/// Walks a concatenation of batches (a produce request's `records` field
/// or a segment's bytes), yielding each header and its byte range. Framing
/// only: call [`validate_batch`] on a range to check its contents. Stops
/// after the first error, which for a segment marks a torn tail.
pub fn split_batches(buf: &[u8]) -> BatchIter<'_> {
    BatchIter {
        buf,
        pos: 0,
        failed: false,
    }
}

/// Iterator returned by [`split_batches`].
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl Iterator for BatchIter<'_> {
    type Item = Result<(BatchHeader, Range<usize>), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let header = match BatchHeader::parse(rest) {
            Ok(h) => h,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let total = header.total_bytes();
        if total > rest.len() {
            self.failed = true;
            return Some(Err(BatchError::TruncatedBatch {
                declared: total,
                available: rest.len(),
            }));
        }
        let range = self.pos..self.pos + total;
        self.pos += total;
        Some(Ok((header, range)))
    }
}

/// What the cheap record walk learns about one record of an uncompressed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    /// Position of the record's length prefix within the batch.
    pub position: usize,
    /// Length prefix plus body.
    pub size: usize,
    pub offset_delta: i32,
    pub timestamp_delta: i64,
    /// Key length; -1 for a null key.
    pub key_length: i32,
}

/// Walks the records of an *uncompressed* batch without decoding keys,
/// values or headers. For a compressed batch the bytes after the header are
/// codec output and this yields garbage or an error; check the codec first.
pub struct RecordIter<'a> {
    batch: &'a [u8],
    pos: usize,
    index: i64,
    failed: bool,
}

impl<'a> RecordIter<'a> {
    /// `batch` is one whole batch; records are walked up to its declared
    /// end (or the buffer's, if shorter).
    pub fn new(batch: &'a [u8]) -> RecordIter<'a> {
        let end = BatchHeader::parse(batch)
            .map(|h| h.total_bytes())
            .unwrap_or(0)
            .min(batch.len());
        RecordIter {
            batch: &batch[..end],
            pos: BATCH_HEADER_BYTES.min(end),
            index: 0,
            failed: false,
        }
    }

    fn malformed(&mut self, reason: &'static str) -> Option<Result<RecordMeta, BatchError>> {
        self.failed = true;
        Some(Err(BatchError::MalformedRecord {
            index: self.index,
            reason,
        }))
    }
}

impl Iterator for RecordIter<'_> {
    type Item = Result<RecordMeta, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.batch.len() {
            return None;
        }
        let start = self.pos;
        let mut pos = start;
        let Some(length) = read_varint(self.batch, &mut pos) else {
            return self.malformed("bad record length varint");
        };
        if length < MIN_RECORD_BODY_BYTES {
            return self.malformed("record length too small");
        }
        let body_end = pos + length as usize;
        if body_end > self.batch.len() {
            return self.malformed("record overruns the batch");
        }
        let body = &self.batch[..body_end];
        pos += 1; // attributes, unused since magic 2
        let Some(timestamp_delta) = read_varlong(body, &mut pos) else {
            return self.malformed("bad timestamp delta varlong");
        };
        let Some(offset_delta) = read_varint(body, &mut pos) else {
            return self.malformed("bad offset delta varint");
        };
        let Some(key_length) = read_varint(body, &mut pos) else {
            return self.malformed("bad key length varint");
        };
        self.pos = body_end;
        self.index += 1;
        Some(Ok(RecordMeta {
            position: start,
            size: body_end - start,
            offset_delta,
            timestamp_delta,
            key_length,
        }))
    }
}

/// Rewrites the base offset. Outside the CRC, so the batch stays valid.
///
/// # Panics
/// If `batch` is shorter than a batch header; callers pass validated batches.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    assert!(
        batch.len() >= BATCH_HEADER_BYTES,
        "set_base_offset on a {}-byte buffer",
        batch.len()
    );
    batch[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Rewrites the partition leader epoch. Outside the CRC.
///
/// # Panics
/// If `batch` is shorter than a batch header.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    assert!(
        batch.len() >= BATCH_HEADER_BYTES,
        "set_partition_leader_epoch on a {}-byte buffer",
        batch.len()
    );
    let at = PARTITION_LEADER_EPOCH_OFFSET;
    batch[at..at + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Marks the batch as LogAppendTime and sets its max timestamp to
/// `timestamp_ms`, recomputing the CRC. As in Kafka's
/// `DefaultRecordBatch.setMaxTimestamp`, the base timestamp and the records
/// are untouched: readers take every record's timestamp from the max
/// timestamp when the type bit says LogAppendTime.
///
/// # Panics
/// If `batch` does not hold the whole batch its header declares.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) {
    assert!(
        batch.len() >= BATCH_HEADER_BYTES,
        "set_log_append_time on a {}-byte buffer",
        batch.len()
    );
    let attributes = read_i16(batch, ATTRIBUTES_OFFSET);
    let total = (read_i32(batch, BATCH_LENGTH_OFFSET).max(0) as usize) + LOG_OVERHEAD_BYTES;
    assert!(
        total <= batch.len(),
        "set_log_append_time: batch declares {total} bytes, buffer has {}",
        batch.len()
    );
    if attributes & TIMESTAMP_TYPE_BIT != 0 && read_i64(batch, MAX_TIMESTAMP_OFFSET) == timestamp_ms
    {
        return;
    }
    let attributes = attributes | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&timestamp_ms.to_be_bytes());
    let crc = crc32c::crc32c(&batch[CRC_COVERED_FROM..total]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

fn read_i16(buf: &[u8], at: usize) -> i16 {
    let mut b = [0u8; 2];
    b.copy_from_slice(&buf[at..at + 2]);
    i16::from_be_bytes(b)
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    i32::from_be_bytes(b)
}

fn read_i64(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

/// Zigzag varint of at most 5 bytes, as Kafka's `ByteUtils.readVarint`.
fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let raw = read_unsigned_varint(buf, pos, VARINT_MAX_BYTES)? as u32;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Zigzag varlong of at most 10 bytes.
fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let raw = read_unsigned_varint(buf, pos, VARLONG_MAX_BYTES)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn read_unsigned_varint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let mut value: u64 = 0;
    for i in 0..max_bytes {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f)
            .checked_shl(7 * i as u32)
            .unwrap_or(0);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression as Codec, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
        TimestampType as KafkaTimestampType,
    };
    use proptest::prelude::*;

    const T0: i64 = 1_700_000_000_000;

    fn record(offset: i64, ts: i64, value: &[u8], producer: (i64, i16, i32)) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: producer.0,
            producer_epoch: producer.1,
            timestamp_type: KafkaTimestampType::Creation,
            offset,
            // The encoder groups records whose offset - sequence agree; -1 +
            // offset keeps one batch with base sequence -1.
            sequence: if producer.2 < 0 {
                offset as i32 - 1
            } else {
                producer.2 + offset as i32
            },
            timestamp: ts,
            key: None,
            value: Some(bytes::Bytes::copy_from_slice(value)),
            headers: IndexMap::new(),
        }
    }

    fn encode(n: usize, codec: Codec, producer: (i64, i16, i32)) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| {
                record(
                    i as i64,
                    T0 + i as i64,
                    format!("value-{i}").as_bytes(),
                    producer,
                )
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: codec,
        };
        RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode");
        buf.to_vec()
    }

    fn plain(n: usize) -> Vec<u8> {
        encode(n, Codec::None, (-1, -1, -1))
    }

    /// Rewrites the CRC after a test edits covered bytes on purpose.
    fn fix_crc(batch: &mut [u8]) {
        let crc = compute_crc(batch);
        batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    }

    /// Bit-at-a-time CRC32C (Castagnoli, reflected), independent of the
    /// crc32c crate, so the pinned CRC is checked against the definition.
    fn crc32c_bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// One record, key null, value "a", at offset 0 and T0, no producer id:
    /// the bytes Kafka's DefaultRecordBatch layout prescribes.
    const PINNED: [u8; 69] = [
        0, 0, 0, 0, 0, 0, 0, 0, // base offset
        0, 0, 0, 57, // batch length
        0, 0, 0, 0, // partition leader epoch
        2, // magic
        0x96, 0x5a, 0x94, 0xb1, // crc
        0, 0, // attributes
        0, 0, 0, 0, // last offset delta
        0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0, // base timestamp
        0, 0, 1, 0x8b, 0xcf, 0xe5, 0x68, 0, // max timestamp
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producer id
        0xff, 0xff, // producer epoch
        0xff, 0xff, 0xff, 0xff, // base sequence
        0, 0, 0, 1, // records count
        0x0e, 0, 0, 0, 0x01, 0x02, b'a',
        0, // record: len 7, attrs, ts/offset deltas, key -1, value len 1, "a", 0 headers
    ];

    #[test]
    fn pinned_batch_bytes_parse_and_match_kafka_encoder() {
        assert_eq!(crc32c_bitwise(b"123456789"), 0xE306_9283);
        assert_eq!(
            crc32c_bitwise(&PINNED[CRC_COVERED_FROM..]),
            u32::from_be_bytes([0x96, 0x5a, 0x94, 0xb1])
        );
        let h = validate_batch(&PINNED).expect("pinned batch is valid");
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.batch_length, 57);
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 1);
        assert_eq!(h.base_timestamp, T0);
        assert_eq!(h.max_timestamp, T0);
        assert!(!h.has_producer_id());
        assert_eq!(h.compression(), Ok(Compression::None));
        assert_eq!(h.total_bytes(), PINNED.len());
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Codec::None,
        };
        RecordBatchEncoder::encode(&mut buf, &[record(0, T0, b"a", (-1, -1, -1))], &options)
            .expect("encode");
        assert_eq!(&buf[..], &PINNED[..]);
    }

    #[test]
    fn every_codec_validates_without_decompression() {
        for codec in [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ] {
            let batch = encode(5, codec, (7, 1, 0));
            let h = validate_batch(&batch).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
            assert_eq!(h.compression().map(|c| c as u8), Ok(codec as u8));
            assert_eq!(h.records_count, 5);
            assert_eq!(h.last_offset(), 4);
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (7, 1, 0)
            );
            assert_eq!(h.last_sequence(), 4);
        }
    }

    #[test]
    fn magic_other_than_two_is_unsupported() {
        for magic in [0u8, 1, 3] {
            let mut batch = plain(2);
            batch[MAGIC_OFFSET] = magic;
            assert_eq!(
                validate_batch(&batch),
                Err(BatchError::UnsupportedMagic(magic as i8))
            );
        }
    }

    #[test]
    fn lengths_must_match_the_buffer() {
        let batch = plain(3);
        assert!(matches!(
            validate_batch(&batch[..batch.len() - 1]),
            Err(BatchError::TruncatedBatch { .. })
        ));
        assert!(matches!(
            validate_batch(&batch[..30]),
            Err(BatchError::TruncatedHeader { available: 30 })
        ));
        let mut longer = batch.clone();
        longer.push(0);
        assert!(matches!(
            validate_batch(&longer),
            Err(BatchError::LengthMismatch { .. })
        ));
        let mut short = batch.clone();
        short[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&48i32.to_be_bytes());
        assert_eq!(
            validate_batch(&short),
            Err(BatchError::BatchLengthTooSmall(48))
        );
    }

    #[test]
    fn unknown_codec_is_rejected_even_with_a_valid_crc() {
        for id in 5u8..=7 {
            let mut batch = plain(1);
            batch[ATTRIBUTES_OFFSET + 1] = id;
            fix_crc(&mut batch);
            assert_eq!(
                validate_batch(&batch),
                Err(BatchError::InvalidCompression(id))
            );
        }
    }

    #[test]
    fn record_count_must_match_offsets_and_records() {
        let mut batch = plain(3);
        batch[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&4i32.to_be_bytes());
        fix_crc(&mut batch);
        assert!(matches!(
            validate_batch(&batch),
            Err(BatchError::LastOffsetDeltaMismatch { .. })
        ));
        batch[LAST_OFFSET_DELTA_OFFSET..LAST_OFFSET_DELTA_OFFSET + 4]
            .copy_from_slice(&3i32.to_be_bytes());
        fix_crc(&mut batch);
        assert_eq!(
            validate_batch(&batch),
            Err(BatchError::RecordCountMismatch {
                declared: 4,
                found: 3
            })
        );
        batch[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4]
            .copy_from_slice(&(-1i32).to_be_bytes());
        fix_crc(&mut batch);
        assert_eq!(
            validate_batch(&batch),
            Err(BatchError::NegativeRecordCount(-1))
        );
    }

    #[test]
    fn record_overrunning_the_batch_is_malformed() {
        let mut batch = plain(1);
        // The single record's length prefix claims more bytes than remain.
        batch[BATCH_HEADER_BYTES] = 0x7e;
        fix_crc(&mut batch);
        assert!(matches!(
            validate_batch(&batch),
            Err(BatchError::MalformedRecord { index: 0, .. })
        ));
    }

    #[test]
    fn split_walks_concatenated_batches_and_stops_at_a_torn_tail() {
        let (a, b) = (plain(2), encode(3, Codec::Lz4, (-1, -1, -1)));
        let mut all = [a.clone(), b.clone()].concat();
        let parts: Vec<_> = split_batches(&all)
            .collect::<Result<_, _>>()
            .expect("split");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].1, 0..a.len());
        assert_eq!(parts[1].1, a.len()..a.len() + b.len());
        assert_eq!(parts[1].0.records_count, 3);
        all.truncate(all.len() - 1);
        let parts: Vec<_> = split_batches(&all).collect();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].is_ok());
        assert!(matches!(parts[1], Err(BatchError::TruncatedBatch { .. })));
        assert_eq!(split_batches(&[]).count(), 0);
    }

    #[test]
    fn mutators_outside_the_crc_keep_the_batch_valid() {
        let mut batch = plain(4);
        set_base_offset(&mut batch, 1_000);
        set_partition_leader_epoch(&mut batch, 9);
        let h = validate_batch(&batch).expect("still valid");
        assert_eq!(
            (h.base_offset, h.last_offset(), h.partition_leader_epoch),
            (1_000, 1_003, 9)
        );
    }

    #[test]
    fn log_append_time_sets_type_and_max_timestamp_and_keeps_crc_valid() {
        for codec in [Codec::None, Codec::Zstd] {
            let mut batch = encode(3, codec, (-1, -1, -1));
            set_log_append_time(&mut batch, T0 + 500);
            let h = validate_batch(&batch).expect("valid after log append time");
            assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
            assert_eq!(h.max_timestamp, T0 + 500);
            assert_eq!(
                h.base_timestamp, T0,
                "Kafka leaves the base timestamp alone"
            );
            let mut bytes = bytes::Bytes::from(batch);
            let set = RecordBatchDecoder::decode(&mut bytes).expect("decodes");
            // Clients read LogAppendTime batches' record timestamps from the
            // max timestamp; this decoder only reports the type.
            assert!(
                set.records
                    .iter()
                    .all(|r| r.timestamp_type == KafkaTimestampType::LogAppend),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn last_sequence_wraps_like_kafka() {
        let mut h = BatchHeader::parse(&plain(1)).expect("parse");
        h.base_sequence = i32::MAX - 1;
        h.last_offset_delta = 3;
        assert_eq!(h.last_sequence(), 1);
        h.base_sequence = NO_SEQUENCE;
        assert_eq!(h.last_sequence(), NO_SEQUENCE);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(5, 0), 5);
    }

    #[test]
    fn record_iter_reports_offset_and_timestamp_deltas() {
        let batch = plain(3);
        let metas: Vec<RecordMeta> = RecordIter::new(&batch)
            .collect::<Result<_, _>>()
            .expect("walk");
        assert_eq!(
            metas.iter().map(|m| m.offset_delta).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(
            metas.iter().map(|m| m.timestamp_delta).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(metas[0].position, BATCH_HEADER_BYTES);
        assert_eq!(
            metas.iter().map(|m| m.size).sum::<usize>(),
            batch.len() - BATCH_HEADER_BYTES
        );
    }

    proptest! {
        #[test]
        fn any_change_to_a_crc_covered_byte_is_rejected(
            n in 1usize..8, codec in 0usize..5, at in any::<prop::sample::Index>(), flip in 1u8..=255,
        ) {
            let codecs = [Codec::None, Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd];
            let mut batch = encode(n, codecs[codec], (3, 0, 10));
            let pos = CRC_COVERED_FROM + at.index(batch.len() - CRC_COVERED_FROM);
            batch[pos] ^= flip;
            prop_assert!(validate_batch(&batch).is_err());
        }

        #[test]
        fn any_change_to_the_crc_itself_is_rejected(at in 0usize..4, flip in 1u8..=255) {
            let mut batch = plain(2);
            batch[CRC_OFFSET + at] ^= flip;
            let rejected = matches!(validate_batch(&batch), Err(BatchError::CrcMismatch { .. }));
            prop_assert!(rejected);
        }

        #[test]
        fn encoded_batches_validate_and_report_their_header(
            values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..20),
            base_offset in 0i64..1 << 40,
        ) {
            let records: Vec<Record> = values
                .iter()
                .enumerate()
                .map(|(i, v)| record(i as i64, T0 - i as i64, v, (-1, -1, -1)))
                .collect();
            let mut buf = BytesMut::new();
            let options = RecordEncodeOptions { version: 2, compression: Codec::None };
            RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode");
            set_base_offset(&mut buf, base_offset);
            let h = validate_batch(&buf).expect("valid");
            prop_assert_eq!(h.records_count as usize, values.len());
            prop_assert_eq!(h.last_offset(), base_offset + values.len() as i64 - 1);
            prop_assert_eq!(h.max_timestamp, T0);
        }

        #[test]
        fn garbage_never_panics(buf in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = validate_batch(&buf);
            let _ = split_batches(&buf).count();
            let _ = RecordIter::new(&buf).count();
            let _ = compute_crc(&buf);
        }
    }
}
