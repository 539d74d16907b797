//! Producer-state snapshot files, `<20-digit offset>.snapshot`: the state
//! after every batch below that offset. Written at clean close and at each
//! segment roll, read at open so that recovery replays only the tail.
//!
//! Gregor's own format (big-endian), not Kafka's:
//!
//! ```text
//!  0  magic "GPSN"           4  version u16 = 2
//!  6  crc32c u32 of bytes 10..end
//! 10  offset i64 (must match the file name)
//! 18  producer count u32
//! 22  per producer: producer_id i64, epoch i16, last_timestamp i64,
//!     coordinator_epoch i32, current_txn_first_offset i64 (-1: none),
//!     batch count u8 (<= 5), then per batch: first_sequence i32,
//!     last_sequence i32, first_offset i64, last_offset i64, timestamp i64
//! ```
//!
//! Version 2 added the two transaction fields (as Kafka's snapshot v1
//! carries them); version 1 files, written before transactions, are still
//! read, with no transaction ongoing and no coordinator epoch.
//!
//! A missing, torn or corrupt snapshot is ignored and the state rebuilt
//! from the log, as Kafka does.

use std::collections::VecDeque;

use crate::producer_state::{
    BatchMetadata, ProducerState, NO_COORDINATOR_EPOCH, PRODUCER_BATCHES_RETAINED,
};

pub(crate) const SNAPSHOT_SUFFIX: &str = ".snapshot";
/// Largest snapshot read at open; far above a million producers.
pub(crate) const SNAPSHOT_MAX_BYTES: u64 = 256 << 20;
const MAGIC: &[u8; 4] = b"GPSN";
const VERSION: u16 = 2;
/// Before transactions: no coordinator epoch, no ongoing transaction.
const VERSION_NO_TXN: u16 = 1;
/// `current_txn_first_offset` of a producer without an ongoing transaction.
const NO_TXN: i64 = -1;
const CRC_AT: usize = 6;
const COVERED_FROM: usize = 10;
const HEADER_BYTES: usize = 22;
const PRODUCER_BYTES: usize = 8 + 2 + 8 + 4 + 8 + 1;
const PRODUCER_BYTES_NO_TXN: usize = 8 + 2 + 8 + 1;
const BATCH_BYTES: usize = 4 + 4 + 8 + 8 + 8;

const _: () = assert!(COVERED_FROM == CRC_AT + 4 && HEADER_BYTES == COVERED_FROM + 8 + 4);

/// Serializes `states` (sorted by producer id) as of `offset`.
pub(crate) fn encode(offset: i64, states: &[ProducerState]) -> Vec<u8> {
    let batches: usize = states.iter().map(|s| s.batches.len()).sum();
    let mut out =
        Vec::with_capacity(HEADER_BYTES + states.len() * PRODUCER_BYTES + batches * BATCH_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(states.len() as u32).to_be_bytes());
    for s in states {
        out.extend_from_slice(&s.producer_id.to_be_bytes());
        out.extend_from_slice(&s.producer_epoch.to_be_bytes());
        out.extend_from_slice(&s.last_timestamp.to_be_bytes());
        out.extend_from_slice(&s.coordinator_epoch.to_be_bytes());
        let txn = s.current_txn_first_offset.unwrap_or(NO_TXN);
        out.extend_from_slice(&txn.to_be_bytes());
        out.push(s.batches.len().min(PRODUCER_BATCHES_RETAINED) as u8);
        for b in s.batches.iter().rev().take(PRODUCER_BATCHES_RETAINED).rev() {
            out.extend_from_slice(&b.first_sequence.to_be_bytes());
            out.extend_from_slice(&b.last_sequence.to_be_bytes());
            out.extend_from_slice(&b.first_offset.to_be_bytes());
            out.extend_from_slice(&b.last_offset.to_be_bytes());
            out.extend_from_slice(&b.timestamp.to_be_bytes());
        }
    }
    let crc = crc32c::crc32c(&out[COVERED_FROM..]);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Big-endian reader that reports running out of bytes instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or("snapshot is truncated")?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }
    fn i16(&mut self) -> Result<i16, String> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.take::<8>().map(i64::from_be_bytes)
    }
}

/// Parses a snapshot, checking magic, version, CRC and `expected_offset`.
pub(crate) fn decode(bytes: &[u8], expected_offset: i64) -> Result<Vec<ProducerState>, String> {
    if bytes.len() < HEADER_BYTES || &bytes[..4] != MAGIC {
        return Err("not a producer snapshot".into());
    }
    let mut r = Reader { bytes, pos: 4 };
    let version = u16::from_be_bytes(r.take::<2>()?);
    let with_txn = match version {
        VERSION => true,
        VERSION_NO_TXN => false,
        _ => return Err(format!("unknown snapshot version {version}")),
    };
    let stored = u32::from_be_bytes(r.take::<4>()?);
    let computed = crc32c::crc32c(&bytes[COVERED_FROM..]);
    if stored != computed {
        return Err(format!(
            "snapshot CRC mismatch: stored {stored:#x}, computed {computed:#x}"
        ));
    }
    let offset = r.i64()?;
    if offset != expected_offset {
        return Err(format!(
            "snapshot holds offset {offset}, its name says {expected_offset}"
        ));
    }
    let count = u32::from_be_bytes(r.take::<4>()?) as usize;
    let producer_bytes = if with_txn {
        PRODUCER_BYTES
    } else {
        PRODUCER_BYTES_NO_TXN
    };
    if count > (bytes.len() - HEADER_BYTES) / producer_bytes {
        return Err(format!("snapshot claims {count} producers, more than fit"));
    }
    let mut states = Vec::with_capacity(count);
    for _ in 0..count {
        states.push(decode_producer(&mut r, with_txn)?);
    }
    if r.pos != bytes.len() {
        return Err("trailing bytes after the last producer".into());
    }
    Ok(states)
}

fn decode_producer(r: &mut Reader<'_>, with_txn: bool) -> Result<ProducerState, String> {
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let last_timestamp = r.i64()?;
    let (coordinator_epoch, txn) = if with_txn {
        (r.i32()?, r.i64()?)
    } else {
        (NO_COORDINATOR_EPOCH, NO_TXN)
    };
    if txn < NO_TXN {
        return Err(format!(
            "producer {producer_id} has transaction offset {txn}"
        ));
    }
    let n = usize::from(r.take::<1>()?[0]);
    if n > PRODUCER_BATCHES_RETAINED {
        return Err(format!(
            "producer {producer_id} has {n} batches, more than {PRODUCER_BATCHES_RETAINED}"
        ));
    }
    let mut batches = VecDeque::with_capacity(n);
    for _ in 0..n {
        batches.push_back(BatchMetadata {
            first_sequence: r.i32()?,
            last_sequence: r.i32()?,
            first_offset: r.i64()?,
            last_offset: r.i64()?,
            timestamp: r.i64()?,
        });
    }
    Ok(ProducerState {
        producer_id,
        producer_epoch,
        batches,
        last_timestamp,
        current_txn_first_offset: (txn != NO_TXN).then_some(txn),
        coordinator_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ProducerState {
        let batch = BatchMetadata {
            first_sequence: 0,
            last_sequence: 1,
            first_offset: 5,
            last_offset: 6,
            timestamp: 7,
        };
        ProducerState {
            producer_id: 1,
            producer_epoch: 2,
            batches: VecDeque::from([batch]),
            last_timestamp: 7,
            current_txn_first_offset: Some(5),
            coordinator_epoch: 3,
        }
    }

    #[test]
    fn snapshot_bytes_are_pinned_and_round_trip() {
        let bytes = encode(9, &[state()]);
        let mut expected = b"GPSN\x00\x02".to_vec();
        expected.extend_from_slice(&[0; 4]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 1]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[
            0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7,
        ]);
        let crc = crc32c::crc32c(&expected[COVERED_FROM..]);
        expected[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes, 9), Ok(vec![state()]));
    }

    #[test]
    fn version_1_snapshots_still_load_without_transactions() {
        let mut bytes = b"GPSN\x00\x01".to_vec();
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 1]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[
            0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7,
        ]);
        let crc = crc32c::crc32c(&bytes[COVERED_FROM..]);
        bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        let expected = ProducerState {
            current_txn_first_offset: None,
            coordinator_epoch: NO_COORDINATOR_EPOCH,
            ..state()
        };
        assert_eq!(decode(&bytes, 9), Ok(vec![expected]));
    }

    #[test]
    fn a_producer_without_a_transaction_round_trips() {
        let idle = ProducerState {
            current_txn_first_offset: None,
            ..state()
        };
        assert_eq!(
            decode(&encode(9, std::slice::from_ref(&idle)), 9),
            Ok(vec![idle])
        );
    }

    #[test]
    fn damaged_snapshots_are_refused() {
        let bytes = encode(9, &[state(), state()]);
        assert!(decode(&bytes, 8).is_err());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], 9).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(decode(&damaged, 9).is_err(), "flip at {at}");
        }
    }
}
