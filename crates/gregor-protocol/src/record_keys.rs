//! Which records of a batch have no key: a compacted topic refuses them.

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;

use crate::batch::{BatchError, BatchHeader, Compression, RecordIter};

/// Indexes (within the batch) of the records whose key is null.
///
/// Uncompressed batches are walked in place; compressed ones must be
/// decompressed, which Kafka also does for compacted topics only.
pub fn keyless_record_indexes(batch: &[u8]) -> Result<Vec<i32>, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.compression()? == Compression::None {
        let mut out = Vec::new();
        for (i, record) in RecordIter::new(batch).enumerate() {
            if record?.key_length < 0 {
                out.push(i as i32);
            }
        }
        return Ok(out);
    }
    let mut buf = Bytes::copy_from_slice(&batch[..header.total_bytes().min(batch.len())]);
    let set = RecordBatchDecoder::decode(&mut buf).map_err(|_| BatchError::MalformedRecord {
        index: 0,
        reason: "compressed records do not decode",
    })?;
    Ok(set
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.key.is_none())
        .map(|(i, _)| i as i32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression as Codec, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn batch(keys: &[Option<&'static str>], codec: Codec) -> BytesMut {
        let records: Vec<Record> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: i as i32,
                timestamp: 1,
                key: k.map(|k| Bytes::from_static(k.as_bytes())),
                value: Some(Bytes::from_static(b"v")),
                headers: IndexMap::new(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: codec,
            },
        )
        .unwrap();
        buf
    }

    #[test]
    fn finds_null_keys_plain_and_compressed() {
        let keys = [Some("a"), None, Some(""), None];
        for codec in [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ] {
            assert_eq!(
                keyless_record_indexes(&batch(&keys, codec)).unwrap(),
                vec![1, 3],
                "{codec:?}"
            );
        }
        assert!(keyless_record_indexes(&batch(&[Some("k")], Codec::None))
            .unwrap()
            .is_empty());
    }
}
