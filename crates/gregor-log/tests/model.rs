//! Property test: random appends, reads, timestamp lookups, DeleteRecords,
//! clean and unclean reopens and torn tails agree with a plain model (a
//! vector of batches), on both storage backends.

mod common;

use common::{encode, open, ranges, Backend, Disk, Mem, Spec, T0};
use gregor_log::{Log, LogConfig, ReadError};
use kafka_protocol::records::Compression;
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Debug, Clone)]
struct Plan {
    records: usize,
    compressed: bool,
    ts_delta: i64,
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<Plan>),
    Read {
        at: Index,
        max_bytes: usize,
        min_one: bool,
        hw_back: i64,
    },
    Timestamp(Index),
    DeleteBefore(Index),
    Reopen {
        clean: bool,
    },
    TearTail(usize),
}

fn plan() -> impl Strategy<Value = Plan> {
    (1usize..5, any::<bool>(), -50i64..200).prop_map(|(records, compressed, ts_delta)| Plan {
        records,
        compressed,
        ts_delta,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(plan(), 1..4).prop_map(Op::Append),
        3 => (any::<Index>(), 0usize..700, any::<bool>(), 0i64..5)
            .prop_map(|(at, max_bytes, min_one, hw_back)| Op::Read { at, max_bytes, min_one, hw_back }),
        1 => any::<Index>().prop_map(Op::Timestamp),
        1 => any::<Index>().prop_map(Op::DeleteBefore),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => any::<usize>().prop_map(Op::TearTail),
    ]
}

#[derive(Debug, Clone)]
struct Batch {
    base: i64,
    last: i64,
    size: usize,
    /// Timestamp of the first record; record i has `first_ts + i`.
    first_ts: i64,
    compressed: bool,
}

impl Batch {
    fn max_ts(&self) -> i64 {
        self.first_ts + self.last - self.base
    }
}

#[derive(Debug, Default)]
struct Model {
    batches: Vec<Batch>,
    log_start: i64,
    leo: i64,
}

impl Model {
    fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        hw: i64,
        min_one: bool,
    ) -> Option<Vec<(i64, i64)>> {
        if offset < self.log_start || offset > self.leo {
            return None;
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        if offset >= hw {
            return Some(out);
        }
        for b in self.batches.iter().filter(|b| b.last >= offset) {
            if b.last >= hw || (bytes + b.size > max_bytes && !(min_one && out.is_empty())) {
                break;
            }
            out.push((b.base, b.last));
            bytes += b.size;
        }
        Some(out)
    }

    fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        for b in self.batches.iter().filter(|b| b.last >= self.log_start) {
            if b.compressed {
                if b.max_ts() >= ts {
                    return Some((b.base.max(self.log_start), b.max_ts()));
                }
                continue;
            }
            for offset in b.base.max(self.log_start)..=b.last {
                let record_ts = b.first_ts + offset - b.base;
                if record_ts >= ts {
                    return Some((offset, record_ts));
                }
            }
        }
        None
    }

    fn max_timestamp(&self, first_segment_base: i64) -> Option<(i64, i64)> {
        let kept = self.batches.iter().filter(|b| b.base >= first_segment_base);
        let best = kept.fold(None::<&Batch>, |best, b| match best {
            Some(x) if x.max_ts() >= b.max_ts() => Some(x),
            _ => Some(b),
        })?;
        Some((best.last, best.max_ts()))
    }
}

fn pick(index: &Index, low: i64, high_inclusive: i64) -> i64 {
    low + index.index((high_inclusive - low + 1) as usize) as i64
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

fn run<B: Backend>(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Append(plans) => append(&mut log, &mut model, &plans)?,
            Op::Read {
                at,
                max_bytes,
                min_one,
                hw_back,
            } => {
                let offset = pick(&at, model.log_start - 1, model.leo + 1);
                let hw = (model.leo - hw_back).max(0);
                let got = match log.read(offset, max_bytes, hw, min_one) {
                    Ok(result) => Some(ranges(&result)),
                    Err(ReadError::OffsetOutOfRange { .. }) => None,
                    Err(e) => return Err(TestCaseError::fail(format!("read failed: {e}"))),
                };
                prop_assert_eq!(
                    got,
                    model.read(offset, max_bytes, hw, min_one),
                    "read at {} hw {}",
                    offset,
                    hw
                );
            }
            Op::Timestamp(at) => {
                let ts = pick(&at, T0 - 60, T0 + 220);
                prop_assert_eq!(
                    log.offset_for_timestamp(ts),
                    model.offset_for_timestamp(ts),
                    "ts {}",
                    ts
                );
                let first_base = log.segment_base_offsets()[0];
                prop_assert_eq!(log.max_timestamp(), model.max_timestamp(first_base));
            }
            Op::DeleteBefore(at) => {
                let offset = pick(&at, model.log_start - 1, model.leo + 1);
                let result = log.delete_records_before(offset);
                if offset > model.leo {
                    prop_assert!(result.is_err());
                } else {
                    model.log_start = model.log_start.max(offset);
                    prop_assert_eq!(result.ok(), Some(model.log_start));
                }
            }
            Op::Reopen { clean } => {
                if clean {
                    log.close()
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                } else {
                    drop(log);
                }
                log = open(&backend, &config(), clean, T0);
            }
            Op::TearTail(cut) => log = tear_tail(log, &backend, &mut model, cut),
        }
        prop_assert_eq!(
            (log.log_start_offset(), log.log_end_offset()),
            (model.log_start, model.leo)
        );
    }
    Ok(())
}

fn append(log: &mut Log, model: &mut Model, plans: &[Plan]) -> Result<(), TestCaseError> {
    let mut buf = bytes::BytesMut::new();
    let mut added = Vec::new();
    let mut next = model.leo;
    for plan in plans {
        let mut spec = Spec::plain(plan.records, T0 + plan.ts_delta);
        if plan.compressed {
            spec = spec.compressed(Compression::Lz4);
        }
        let batch = encode(&spec);
        let last = next + plan.records as i64 - 1;
        added.push(Batch {
            base: next,
            last,
            size: batch.len(),
            first_ts: spec.timestamp,
            compressed: plan.compressed,
        });
        next = last + 1;
        buf.extend_from_slice(&batch);
    }
    let info = log
        .append(&buf, 0, T0)
        .map_err(|e| TestCaseError::fail(format!("append: {e}")))?;
    prop_assert_eq!((info.base_offset, info.last_offset), (model.leo, next - 1));
    model.batches.extend(added);
    model.leo = next;
    Ok(())
}

/// Crashes, cuts some bytes off the last batch, reopens uncleanly: the
/// model loses exactly that batch (or everything, if the log start was
/// inside it).
fn tear_tail<B: Backend>(log: Log, backend: &B, model: &mut Model, cut: usize) -> Log {
    let active = *log.segment_base_offsets().last().expect("segments");
    drop(log);
    let storage = backend.storage();
    let name = format!("{active:020}.log");
    let mut file = storage.open(&name).expect("open active segment");
    if let Some(last) = model.batches.last().filter(|_| !file.is_empty()).cloned() {
        let len = file.len() - (1 + cut % last.size) as u64;
        file.truncate(len).expect("truncate");
        model.batches.pop();
        model.leo = last.base;
        if model.log_start > model.leo {
            model.batches.clear();
            model.leo = model.log_start;
        }
    }
    drop(file);
    open(backend, &config(), false, T0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn memory_log_agrees_with_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run::<Mem>(ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn file_log_agrees_with_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run::<Disk>(ops)?;
    }
}
