//! Reading a coordinator's partition back at start (`__consumer_offsets`,
//! `__transaction_state`): every record from the log start to the high
//! watermark, with what the batch says about it (the producer of a
//! transactional batch; transaction markers as their own event).

use bytes::Bytes;
use gregor_protocol::batch::split_batches;
use gregor_protocol::kafka_protocol::records::RecordBatchDecoder;
use tracing::warn;

use crate::partition::Partition;

/// Bytes read per step while loading a coordinator partition.
const LOAD_READ_BYTES: usize = 1 << 20;

/// Kafka's control record types (`ControlRecordType`).
const CONTROL_ABORT: i16 = 0;
const CONTROL_COMMIT: i16 = 1;

/// One thing found in a coordinator partition.
pub enum Entry<'a> {
    /// A record. `producer_id` is set for records of a transactional batch
    /// (offsets committed inside a transaction).
    Record {
        producer_id: Option<i64>,
        key: &'a [u8],
        value: Option<&'a [u8]>,
        offset: i64,
    },
    /// A transaction marker of `producer_id`.
    Marker { producer_id: i64, commit: bool },
}

/// Counts for the load's log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Loaded {
    pub records: usize,
    pub markers: usize,
    pub skipped: usize,
}

/// Hands every entry of `partition`, in log order, to `apply`, which
/// returns whether it used it. Unreadable batches end the load with a
/// warning: one damaged record must not keep the broker from starting.
pub fn replay(partition: &Partition, mut apply: impl FnMut(Entry<'_>) -> bool) -> Loaded {
    let mut loaded = Loaded::default();
    let mut offset = partition.log_start_offset().unwrap_or(0);
    let end = partition.high_watermark();
    while offset < end {
        let read = match partition.read(offset, LOAD_READ_BYTES, true) {
            Ok(r) if !r.records.is_empty() => r,
            Ok(_) => break,
            Err(e) => {
                warn!(partition = %partition.name(), offset, error = ?e, "cannot read coordinator state; loading stops here");
                break;
            }
        };
        let start = offset;
        for chunk in &read.records {
            for item in split_batches(chunk) {
                let Ok((header, range)) = item else {
                    warn!(partition = %partition.name(), offset, "unparsable batch in coordinator state; loading stops here");
                    return loaded;
                };
                if header.next_offset() <= offset {
                    continue;
                }
                let batch = chunk.slice(range);
                if header.is_control() {
                    match marker_of(&batch) {
                        Some(commit) => {
                            apply(Entry::Marker {
                                producer_id: header.producer_id,
                                commit,
                            });
                            loaded.markers += 1;
                        }
                        None => loaded.skipped += 1,
                    }
                } else {
                    let producer_id = header.is_transactional().then_some(header.producer_id);
                    replay_batch(
                        partition,
                        &batch,
                        offset,
                        producer_id,
                        &mut apply,
                        &mut loaded,
                    );
                }
                offset = header.next_offset();
            }
        }
        if offset == start {
            break;
        }
    }
    loaded
}

fn replay_batch(
    partition: &Partition,
    batch: &Bytes,
    from_offset: i64,
    producer_id: Option<i64>,
    apply: &mut impl FnMut(Entry<'_>) -> bool,
    loaded: &mut Loaded,
) {
    let mut buf = batch.clone();
    let set = match RecordBatchDecoder::decode(&mut buf) {
        Ok(set) => set,
        Err(e) => {
            loaded.skipped += 1;
            warn!(partition = %partition.name(), offset = from_offset, error = %e, "skipping undecodable coordinator batch");
            return;
        }
    };
    for record in set.records.iter().filter(|r| r.offset >= from_offset) {
        let Some(key) = &record.key else {
            loaded.skipped += 1;
            continue;
        };
        let used = apply(Entry::Record {
            producer_id,
            key,
            value: record.value.as_deref(),
            offset: record.offset,
        });
        if used {
            loaded.records += 1;
        } else {
            loaded.skipped += 1;
        }
    }
}

/// The outcome a control batch's record carries: commit or abort; `None`
/// for other control records.
fn marker_of(batch: &Bytes) -> Option<bool> {
    let mut buf = batch.clone();
    let set = RecordBatchDecoder::decode(&mut buf).ok()?;
    let key = set.records.first()?.key.as_ref()?;
    if key.len() < 4 {
        return None;
    }
    match i16::from_be_bytes([key[2], key[3]]) {
        CONTROL_ABORT => Some(false),
        CONTROL_COMMIT => Some(true),
        _ => None,
    }
}
