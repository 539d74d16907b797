//! Responses whose record sets are not in memory.
//!
//! A fetch response is mostly stored batches. Rather than copy them into
//! the encoded response, the broker puts [`records_placeholder`] in each
//! records field and encodes with [`encode_response_spliced`], passing the
//! real lengths. The result is a list of [`FramePart`]s: encoded bytes, with
//! a gap wherever a records field's content goes, which the connection
//! fills from the segment files (`sendfile`). Every other field is encoded
//! by `kafka-protocol`, exactly as [`crate::request::encode_response`]
//! would; only the records' length prefixes are rewritten.
//!
//! How the gap is found: `kafka-protocol` writes a records field as its
//! length prefix followed by one `put_slice` of the bytes. The buffer here
//! recognises the placeholder's address in that call, replaces the
//! one-byte length just written (compact varint `2`, or int32 `1`) with the
//! real one, and starts a new part. A change in that encoding fails the
//! encode (and the tests), never produces a wrong frame.

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::Encodable;

use crate::frame::FRAME_PREFIX_BYTES;
use crate::request::api_name;
use crate::ProtocolError;

/// One byte at a fixed address: the marker the encoder looks for.
static PLACEHOLDER: [u8; 1] = [0];

/// The value to put in a records field that [`encode_response_spliced`]
/// leaves as a gap.
pub fn records_placeholder() -> Bytes {
    Bytes::from_static(&PLACEHOLDER)
}

/// A piece of an encoded response frame, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramePart {
    Bytes(Bytes),
    /// The content of the `n`th placeholder records field (in encoding
    /// order), of the length passed for it.
    Records(usize),
}

/// Encodes a response frame (length prefix, header, body) in which the
/// `n`th records field holding [`records_placeholder`] stands for
/// `record_lens[n]` bytes supplied by the caller.
pub fn encode_response_spliced<M: Encodable>(
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    body: &M,
    record_lens: &[usize],
) -> Result<Vec<FramePart>, ProtocolError> {
    let bad = |reason: String| ProtocolError::BadBody {
        api: api_name(api_key),
        version: api_version,
        reason: format!("cannot encode response: {reason}"),
    };
    let mut buf = SpliceBuf {
        current: BytesMut::with_capacity(256),
        parts: Vec::new(),
        record_lens,
        spliced: 0,
        error: None,
    };
    buf.current.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, api_key.response_header_version(api_version))
        .map_err(|e| bad(e.to_string()))?;
    body.encode(&mut buf, api_version)
        .map_err(|e| bad(format!("{e:#}")))?;
    if let Some(error) = buf.error {
        return Err(bad(error));
    }
    if buf.spliced != record_lens.len() {
        return Err(bad(format!(
            "{} record lengths given for {} placeholders",
            record_lens.len(),
            buf.spliced
        )));
    }
    let tail = buf.current.split();
    let mut parts = buf.parts;
    if !tail.is_empty() {
        parts.push(Part::Encoded(tail));
    }
    let encoded: usize = parts
        .iter()
        .map(|p| match p {
            Part::Encoded(b) => b.len(),
            Part::Records(_) => 0,
        })
        .sum();
    let total = encoded + record_lens.iter().sum::<usize>() - FRAME_PREFIX_BYTES;
    let total = i32::try_from(total).map_err(|_| bad(format!("{total} bytes is too long")))?;
    if let Some(Part::Encoded(first)) = parts.first_mut() {
        first[..FRAME_PREFIX_BYTES].copy_from_slice(&total.to_be_bytes());
    }
    Ok(parts
        .into_iter()
        .map(|p| match p {
            Part::Encoded(b) => FramePart::Bytes(b.freeze()),
            Part::Records(n) => FramePart::Records(n),
        })
        .collect())
}

enum Part {
    Encoded(BytesMut),
    Records(usize),
}

/// The encoder's buffer: a `BytesMut` that cuts a new part at each
/// placeholder.
struct SpliceBuf<'a> {
    current: BytesMut,
    parts: Vec<Part>,
    record_lens: &'a [usize],
    spliced: usize,
    error: Option<String>,
}

impl SpliceBuf<'_> {
    /// Replaces the placeholder's length prefix at the end of `current`
    /// with the real length and cuts a part there.
    fn splice(&mut self) {
        let Some(&len) = self.record_lens.get(self.spliced) else {
            self.error = Some("more placeholders than record lengths".into());
            return;
        };
        let end = self.current.len();
        if self.current.last() == Some(&2) {
            // COMPACT_RECORDS: unsigned varint of length + 1.
            self.current.truncate(end - 1);
            let Ok(len) = u32::try_from(len + 1) else {
                self.error = Some(format!("records of {len} bytes are too long"));
                return;
            };
            put_unsigned_varint(&mut self.current, len);
        } else if end >= 4 && self.current[end - 4..] == [0, 0, 0, 1] {
            // RECORDS: int32 length.
            self.current.truncate(end - 4);
            let Ok(len) = i32::try_from(len) else {
                self.error = Some(format!("records of {len} bytes are too long"));
                return;
            };
            self.current.put_i32(len);
        } else {
            self.error = Some("the records field's length prefix is not where expected".into());
            return;
        }
        let encoded = self.current.split();
        self.parts.push(Part::Encoded(encoded));
        self.parts.push(Part::Records(self.spliced));
        self.spliced += 1;
    }
}

fn put_unsigned_varint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

// SAFETY: every method delegates to the inner `BytesMut`, which upholds
// `BufMut`'s contract; `put_slice` only adds the placeholder check.
unsafe impl BufMut for SpliceBuf<'_> {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller's guarantee is passed on unchanged.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        if std::ptr::eq(src.as_ptr(), PLACEHOLDER.as_ptr()) && src.len() == PLACEHOLDER.len() {
            self.splice();
        } else {
            self.current.put_slice(src);
        }
    }
}

impl ByteBufMut for SpliceBuf<'_> {
    fn offset(&self) -> usize {
        self.current.len()
    }

    fn seek(&mut self, offset: usize) {
        self.current.resize(offset, 0);
    }

    fn range(&mut self, r: std::ops::Range<usize>) -> &mut [u8] {
        &mut self.current[r]
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
    };
    use kafka_protocol::messages::{BrokerId, FetchResponse, ProducerId, ResponseKind, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;
    use crate::request::encode_response;

    fn partition(index: i32, records: Option<Bytes>) -> PartitionData {
        PartitionData::default()
            .with_partition_index(index)
            .with_high_watermark(1_000 + i64::from(index))
            .with_last_stable_offset(1_000)
            .with_log_start_offset(7)
            .with_preferred_read_replica(BrokerId(-1))
            .with_records(records)
    }

    /// A response mixing spliced, in-memory, empty and absent record sets,
    /// with a tagged field on an error partition.
    fn response(records: &[Bytes], spliced: bool, version: i16) -> FetchResponse {
        let field = |b: &Bytes| {
            Some(if spliced {
                records_placeholder()
            } else {
                b.clone()
            })
        };
        let mut errored = partition(9, Some(Bytes::new())).with_error_code(6);
        if version >= 12 {
            errored = errored.with_current_leader(
                LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(3))
                    .with_leader_epoch(4),
            );
        }
        let mut with_txn = partition(1, field(&records[1]));
        if version >= 4 {
            with_txn = with_txn
                .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                    .with_producer_id(ProducerId(5))
                    .with_first_offset(6)]));
        }
        FetchResponse::default()
            .with_session_id(if version >= 7 { 42 } else { 0 })
            .with_responses(vec![
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_static_str("alpha")))
                    .with_partitions(vec![
                        partition(0, field(&records[0])),
                        with_txn,
                        partition(2, Some(Bytes::from_static(b"inline"))),
                        errored,
                    ]),
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_static_str("beta")))
                    .with_partitions(vec![partition(0, field(&records[2])), partition(1, None)]),
            ])
    }

    fn joined(parts: &[FramePart], records: &[Bytes]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                FramePart::Bytes(b) => out.extend_from_slice(b),
                FramePart::Records(n) => out.extend_from_slice(&records[*n]),
            }
        }
        out
    }

    #[test]
    fn spliced_frames_equal_the_plain_encoding_at_every_fetch_version() {
        // Lengths that need 1, 2 and 3 varint bytes.
        let records = vec![
            Bytes::from(vec![1u8; 100]),
            Bytes::from(vec![2u8; 200]),
            Bytes::from(vec![3u8; 20_000]),
        ];
        let lens: Vec<usize> = records.iter().map(Bytes::len).collect();
        for version in 4..=18 {
            let plain = encode_response(
                ApiKey::Fetch,
                version,
                77,
                &ResponseKind::Fetch(response(&records, false, version)),
            )
            .expect("plain encode");
            let parts = encode_response_spliced(
                ApiKey::Fetch,
                version,
                77,
                &response(&records, true, version),
                &lens,
            )
            .expect("spliced encode");
            assert_eq!(
                parts
                    .iter()
                    .filter(|p| matches!(p, FramePart::Records(_)))
                    .count(),
                3
            );
            assert_eq!(joined(&parts, &records), plain.to_vec(), "v{version}");
        }
    }

    #[test]
    fn a_count_mismatch_is_an_error_not_a_wrong_frame() {
        let records = vec![Bytes::from_static(b"a"); 3];
        let body = response(&records, true, 12);
        for lens in [vec![1, 1], vec![1, 1, 1, 1]] {
            assert!(encode_response_spliced(ApiKey::Fetch, 12, 1, &body, &lens).is_err());
        }
    }
}
