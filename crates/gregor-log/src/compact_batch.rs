//! Rewriting one stored batch for compaction (Kafka's
//! `MemoryRecords.filterTo` for magic 2): the records the cleaner keeps are
//! copied into a new batch with the original base offset, last offset delta
//! (so the producer's last sequence survives), producer id, epoch, base
//! sequence, leader epoch and codec. Records keep their offsets and
//! timestamps. The first time a batch holding tombstones is cleaned it is
//! stamped with a delete horizon (KIP-534: attribute bit 6, the base
//! timestamp field holds the horizon and record timestamp deltas are taken
//! from it); a later clean after that horizon drops the tombstones.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use gregor_protocol::batch::{BatchHeader, Compression, TimestampType, BATCH_HEADER_BYTES};
use gregor_protocol::kafka_protocol::compression::{
    Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd,
};

/// Attribute bit 6: the base timestamp is the batch's delete horizon.
pub(crate) const DELETE_HORIZON_BIT: i16 = 1 << 6;
/// Attribute bits 0-2: the codec.
const COMPRESSION_BITS: i16 = 0b111;
/// Byte offsets of header fields rewritten here (Kafka's DefaultRecordBatch).
const LENGTH_OFFSET: usize = 8;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const BASE_TIMESTAMP_OFFSET: usize = 27;
const MAX_TIMESTAMP_OFFSET: usize = 35;
const RECORDS_COUNT_OFFSET: usize = 57;
/// The batch length field counts from the partition leader epoch on.
const LOG_OVERHEAD_BYTES: usize = 12;

/// One record of a batch, as the cleaner sees it.
#[derive(Debug, Clone)]
pub(crate) struct RecordView {
    pub offset: i64,
    pub timestamp: i64,
    /// `None` for a keyless record.
    pub key: Option<Bytes>,
    /// A tombstone: the value is null.
    pub tombstone: bool,
    /// The record as stored: length prefix and body.
    raw: Bytes,
    /// Where the body's timestamp delta starts and the offset delta begins,
    /// within `raw`.
    timestamp_delta_at: usize,
    offset_delta_at: usize,
}

/// What became of a batch.
#[derive(Debug)]
pub(crate) enum Filtered {
    /// Every record stays and nothing needs stamping: copy the stored bytes.
    Unchanged,
    /// No record stays.
    Dropped,
    Rewritten(Vec<u8>),
}

/// The records of a batch (decompressed if needed).
pub(crate) fn records(batch: &[u8], h: &BatchHeader) -> Result<Vec<RecordView>, String> {
    let payload = decompress(&batch[BATCH_HEADER_BYTES..], codec(h)?)?;
    let mut buf = payload;
    let mut out = Vec::with_capacity(h.records_count.max(0) as usize);
    while buf.has_remaining() {
        out.push(parse_record(&mut buf, h)?);
    }
    if out.len() != h.records_count.max(0) as usize {
        return Err(format!(
            "batch at offset {} declares {} records but holds {}",
            h.base_offset,
            h.records_count,
            out.len()
        ));
    }
    Ok(out)
}

/// Filters a batch's records with `keep`. `horizon` is the delete horizon
/// to stamp on a batch that keeps tombstones and has none yet.
pub(crate) fn filter(
    batch: &[u8],
    h: &BatchHeader,
    records: &[RecordView],
    keep: impl Fn(&RecordView) -> bool,
    horizon: i64,
) -> Result<Filtered, String> {
    let kept: Vec<&RecordView> = records.iter().filter(|r| keep(r)).collect();
    if kept.is_empty() {
        return Ok(Filtered::Dropped);
    }
    let has_horizon = h.attributes & DELETE_HORIZON_BIT != 0;
    let stamp = !has_horizon && kept.iter().any(|r| r.tombstone);
    if kept.len() == records.len() && !stamp {
        return Ok(Filtered::Unchanged);
    }
    rewrite(batch, h, &kept, stamp, horizon).map(Filtered::Rewritten)
}

/// The batch with every record, stamped with delete horizon `horizon`
/// (a transaction marker that may go once the horizon has passed).
pub(crate) fn stamped(
    batch: &[u8],
    h: &BatchHeader,
    records: &[RecordView],
    horizon: i64,
) -> Result<Vec<u8>, String> {
    let all: Vec<&RecordView> = records.iter().collect();
    rewrite(batch, h, &all, true, horizon)
}

/// A new batch of the `kept` records of `batch`, stamped with `horizon`
/// when `stamp`.
fn rewrite(
    batch: &[u8],
    h: &BatchHeader,
    kept: &[&RecordView],
    stamp: bool,
    horizon: i64,
) -> Result<Vec<u8>, String> {
    let base_timestamp = if stamp { horizon } else { h.base_timestamp };
    let mut payload = Vec::new();
    for r in kept {
        if base_timestamp == h.base_timestamp {
            payload.extend_from_slice(&r.raw);
        } else {
            rebase_record(r, base_timestamp, &mut payload);
        }
    }
    let max_timestamp = match h.timestamp_type() {
        TimestampType::LogAppendTime => h.max_timestamp,
        TimestampType::CreateTime => kept.iter().map(|r| r.timestamp).max().unwrap_or(-1),
    };
    let attributes = if stamp {
        h.attributes | DELETE_HORIZON_BIT
    } else {
        h.attributes
    };
    let compressed = compress(&payload, codec(h)?)?;
    let mut out = batch[..BATCH_HEADER_BYTES].to_vec();
    out.extend_from_slice(&compressed);
    let length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    out[BASE_TIMESTAMP_OFFSET..BASE_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&base_timestamp.to_be_bytes());
    out[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&max_timestamp.to_be_bytes());
    out[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4]
        .copy_from_slice(&(kept.len() as i32).to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES_OFFSET..]);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// A batch with no records that keeps `batch`'s offset range, producer
/// id, epoch and base sequence: what Kafka leaves of a producer's last
/// batch when compaction removed all of its records, so that the
/// producer's sequence state can still be rebuilt from the log.
pub(crate) fn empty_batch(batch: &[u8]) -> Vec<u8> {
    let mut out = batch[..BATCH_HEADER_BYTES].to_vec();
    let length = (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32;
    out[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
    let attributes = i16::from_be_bytes([out[ATTRIBUTES_OFFSET], out[ATTRIBUTES_OFFSET + 1]])
        & !(COMPRESSION_BITS | DELETE_HORIZON_BIT);
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    out[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&0i32.to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES_OFFSET..]);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The delete horizon stamped on a batch, if any.
pub(crate) fn delete_horizon(h: &BatchHeader) -> Option<i64> {
    (h.attributes & DELETE_HORIZON_BIT != 0).then_some(h.base_timestamp)
}

fn codec(h: &BatchHeader) -> Result<Compression, String> {
    h.compression().map_err(|e| e.to_string())
}

fn decompress(data: &[u8], codec: Compression) -> Result<Bytes, String> {
    fn run<D: Decompressor<Bytes>>(data: &[u8]) -> Result<Bytes, String> {
        let mut src = Bytes::copy_from_slice(data);
        D::decompress(&mut src, |b| Ok(b.copy_to_bytes(b.remaining())))
            .map_err(|e| format!("decompress: {e:#}"))
    }
    match codec {
        Compression::None => Ok(Bytes::copy_from_slice(data)),
        Compression::Gzip => run::<Gzip>(data),
        Compression::Snappy => run::<Snappy>(data),
        Compression::Lz4 => run::<Lz4>(data),
        Compression::Zstd => run::<Zstd>(data),
    }
}

fn compress(payload: &[u8], codec: Compression) -> Result<Vec<u8>, String> {
    fn run<C: Compressor<BytesMut>>(payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        C::compress(&mut out, |b| {
            b.put_slice(payload);
            Ok(())
        })
        .map_err(|e| format!("compress: {e:#}"))?;
        Ok(out.to_vec())
    }
    match codec {
        Compression::None => Ok(payload.to_vec()),
        Compression::Gzip => run::<Gzip>(payload),
        Compression::Snappy => run::<Snappy>(payload),
        Compression::Lz4 => run::<Lz4>(payload),
        Compression::Zstd => run::<Zstd>(payload),
    }
}

fn parse_record(buf: &mut Bytes, h: &BatchHeader) -> Result<RecordView, String> {
    let start = buf.clone();
    let length = read_varint(buf)?;
    if length < 0 || length as usize > buf.remaining() {
        return Err(format!("record length {length} overruns the batch"));
    }
    let prefix = start.len() - buf.len();
    let body = buf.split_to(length as usize);
    let raw = start.slice(..prefix + length as usize);
    let mut b = body.clone();
    if !b.has_remaining() {
        return Err("empty record".into());
    }
    b.advance(1); // attributes
    let timestamp_delta_at = prefix + 1;
    let timestamp_delta = read_varlong(&mut b)?;
    let offset_delta_at = prefix + body.len() - b.len();
    let offset_delta = read_varint(&mut b)?;
    let key_length = read_varint(&mut b)?;
    let key = match key_length {
        -1 => None,
        n if n >= 0 && n as usize <= b.remaining() => Some(b.split_to(n as usize)),
        n => return Err(format!("bad key length {n}")),
    };
    let value_length = read_varint(&mut b)?;
    Ok(RecordView {
        offset: h.base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp: h.base_timestamp.wrapping_add(timestamp_delta),
        key,
        tombstone: value_length < 0,
        raw,
        timestamp_delta_at,
        offset_delta_at,
    })
}

/// Writes `r` with its timestamp delta taken from `base_timestamp`.
fn rebase_record(r: &RecordView, base_timestamp: i64, out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(r.raw.len());
    body.push(r.raw[r.timestamp_delta_at - 1]); // attributes
    write_varlong(r.timestamp.wrapping_sub(base_timestamp), &mut body);
    body.extend_from_slice(&r.raw[r.offset_delta_at..]);
    write_varlong(body.len() as i64, out);
    out.extend_from_slice(&body);
}

fn read_varlong(buf: &mut Bytes) -> Result<i64, String> {
    let mut raw: u64 = 0;
    for shift in (0..70).step_by(7) {
        if !buf.has_remaining() || shift > 63 {
            return Err("bad varint".into());
        }
        let byte = buf.get_u8();
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err("bad varint".into())
}

fn read_varint(buf: &mut Bytes) -> Result<i32, String> {
    let v = read_varlong(buf)?;
    i32::try_from(v).map_err(|_| "varint out of range".to_string())
}

fn write_varlong(v: i64, out: &mut Vec<u8>) {
    let mut raw = ((v << 1) ^ (v >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlongs_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 300, -300, i64::MAX, i64::MIN, 1 << 40] {
            let mut out = Vec::new();
            write_varlong(v, &mut out);
            let mut b = Bytes::from(out);
            assert_eq!(read_varlong(&mut b).unwrap(), v);
            assert!(!b.has_remaining());
        }
    }
}
