//! Transaction markers: the control batch a transaction coordinator writes
//! to end a producer's transaction in a partition (Kafka's
//! `EndTransactionMarker` in a batch built like
//! `MemoryRecords.withEndTransactionMarker`).
//!
//! The batch: magic 2, attributes control | transactional, the producer's
//! id and epoch, base sequence -1, one uncompressed record whose key is
//! Kafka's control record key and value the marker:
//!
//! ```text
//! key   version i16 = 0, type i16 (0 abort, 1 commit)
//! value version i16 = 0, coordinator epoch i32
//! ```

use gregor_protocol::batch::{
    compute_crc, BatchHeader, Compression, BATCH_HEADER_BYTES, CRC_OFFSET, CURRENT_MAGIC,
    LOG_OVERHEAD_BYTES, NO_SEQUENCE,
};

const CONTROL_KEY_VERSION: i16 = 0;
const MARKER_VALUE_VERSION: i16 = 0;
const ABORT: i16 = 0;
const COMMIT: i16 = 1;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;
const KEY_BYTES: usize = 4;
const VALUE_BYTES: usize = 6;
/// The record: length varint (1 byte), attributes, timestamp delta 0,
/// offset delta 0, key length, key, value length, value, header count.
const RECORD_BODY_BYTES: usize = 1 + 1 + 1 + 1 + KEY_BYTES + 1 + VALUE_BYTES + 1;
pub(crate) const MARKER_BATCH_BYTES: usize = BATCH_HEADER_BYTES + 1 + RECORD_BODY_BYTES;

const _: () = assert!(
    RECORD_BODY_BYTES < 64,
    "length must fit one zigzag varint byte"
);

/// What a marker says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxnMarker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// Encodes a marker batch at base offset 0, as a coordinator sends it.
pub(crate) fn encode(
    producer_id: i64,
    producer_epoch: i16,
    marker: TxnMarker,
    partition_leader_epoch: i32,
    timestamp_ms: i64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(MARKER_BATCH_BYTES);
    out.extend_from_slice(&0i64.to_be_bytes());
    out.extend_from_slice(&((MARKER_BATCH_BYTES - LOG_OVERHEAD_BYTES) as i32).to_be_bytes());
    out.extend_from_slice(&partition_leader_epoch.to_be_bytes());
    out.push(CURRENT_MAGIC as u8);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(CONTROL_BIT | TRANSACTIONAL_BIT).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&producer_id.to_be_bytes());
    out.extend_from_slice(&producer_epoch.to_be_bytes());
    out.extend_from_slice(&NO_SEQUENCE.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    debug_assert_eq!(out.len(), BATCH_HEADER_BYTES);
    // Zigzag varints of small non-negative values are the value doubled.
    out.push((RECORD_BODY_BYTES * 2) as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.push((KEY_BYTES * 2) as u8);
    out.extend_from_slice(&CONTROL_KEY_VERSION.to_be_bytes());
    out.extend_from_slice(&(if marker.commit { COMMIT } else { ABORT }).to_be_bytes());
    out.push((VALUE_BYTES * 2) as u8);
    out.extend_from_slice(&MARKER_VALUE_VERSION.to_be_bytes());
    out.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    out.push(0);
    assert_eq!(out.len(), MARKER_BATCH_BYTES);
    let crc = compute_crc(&out);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Reads the marker of a control batch. `Ok(None)` for a control batch
/// without records (the cleaner may leave one); an error for anything that
/// is not an abort or commit marker, which Kafka refuses as INVALID_RECORD.
pub(crate) fn decode(batch: &[u8], h: &BatchHeader) -> Result<Option<TxnMarker>, String> {
    if h.compression() != Ok(Compression::None) {
        return Err("a control batch must not be compressed".into());
    }
    let end = h.total_bytes().min(batch.len());
    let mut r = Reader {
        bytes: &batch[..end],
        pos: BATCH_HEADER_BYTES,
    };
    if r.pos >= end {
        return Ok(None);
    }
    let _length = r.varint()?;
    r.skip(1)?;
    let _timestamp_delta = r.varint()?;
    let _offset_delta = r.varint()?;
    let key = r.sized()?.ok_or("a control record needs a key")?;
    if key.len() < KEY_BYTES {
        return Err(format!("control record key of {} bytes", key.len()));
    }
    let version = i16::from_be_bytes([key[0], key[1]]);
    if version != CONTROL_KEY_VERSION {
        return Err(format!("unknown control record key version {version}"));
    }
    let commit = match i16::from_be_bytes([key[2], key[3]]) {
        ABORT => false,
        COMMIT => true,
        other => {
            return Err(format!(
                "control record type {other} is not a transaction marker"
            ))
        }
    };
    let value = r.sized()?.ok_or("a transaction marker needs a value")?;
    if value.len() < VALUE_BYTES {
        return Err(format!("transaction marker value of {} bytes", value.len()));
    }
    let version = i16::from_be_bytes([value[0], value[1]]);
    if version > MARKER_VALUE_VERSION || version < 0 {
        return Err(format!("unknown transaction marker version {version}"));
    }
    let coordinator_epoch = i32::from_be_bytes([value[2], value[3], value[4], value[5]]);
    Ok(Some(TxnMarker {
        commit,
        coordinator_epoch,
    }))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn skip(&mut self, n: usize) -> Result<&'a [u8], String> {
        let out = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or("control record is truncated")?;
        self.pos += n;
        Ok(out)
    }

    /// A zigzag varint or varlong (at most 10 bytes): the timestamp delta
    /// is a varlong, and a marker the cleaner stamped with a delete horizon
    /// can have a large one.
    fn varint(&mut self) -> Result<i64, String> {
        let mut raw = 0u64;
        for i in 0..10 {
            let byte = self.skip(1)?[0];
            raw |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        Err("control record varint is too long".into())
    }

    /// A length-prefixed field; `None` when the length is -1.
    fn sized(&mut self) -> Result<Option<&'a [u8]>, String> {
        let len = self.varint()?;
        if len < 0 {
            return Ok(None);
        }
        self.skip(len as usize).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::batch::validate_batch;

    #[test]
    fn marker_batches_are_valid_and_round_trip() {
        for commit in [false, true] {
            let marker = TxnMarker {
                commit,
                coordinator_epoch: 7,
            };
            let batch = encode(42, 3, marker, 5, 1_000);
            let h = validate_batch(&batch).expect("valid batch");
            assert!(h.is_control() && h.is_transactional());
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (42, 3, -1)
            );
            assert_eq!((h.records_count, h.last_offset_delta), (1, 0));
            assert_eq!(decode(&batch, &h), Ok(Some(marker)));
            // The record: key = version 0 + type, value = version 0 + epoch.
            let record = &batch[BATCH_HEADER_BYTES..];
            assert_eq!(record[..5], [32, 0, 0, 0, 8]);
            assert_eq!(record[5..9], [0, 0, 0, u8::from(commit)]);
            assert_eq!(record[9..16], [12, 0, 0, 0, 0, 0, 7]);
        }
    }

    #[test]
    fn kafkas_encoder_reads_our_marker() {
        use kafka_protocol::records::RecordBatchDecoder;
        let batch = encode(
            1,
            0,
            TxnMarker {
                commit: true,
                coordinator_epoch: 2,
            },
            0,
            10,
        );
        let mut buf = bytes::Bytes::from(batch);
        let sets = RecordBatchDecoder::decode_all(&mut buf).expect("decode");
        let record = &sets[0].records[0];
        assert!(record.control && record.transactional);
        assert_eq!(record.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(record.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 2][..]));
    }
}
