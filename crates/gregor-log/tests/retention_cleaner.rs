//! Retention and compaction, on both storage backends, plus a crash at
//! every step of the cleaner's swap.

mod common;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use common::{files_with, open, plain, read_all, Backend, Mem, T0};
use gregor_log::{Log, LogConfig, MappedFile, MemStorage, SegmentFile, Storage};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

both_backends!(
    retention_by_time_deletes_old_segments_and_moves_the_start,
    retention_by_size_keeps_the_log_under_the_limit,
    retention_ms_minus_one_keeps_everything,
    retention_rolls_an_expired_active_segment,
    compact_policy_alone_never_deletes_by_retention,
    cleaner_keeps_the_latest_value_per_key_at_its_offset,
    cleaner_removes_tombstones_after_delete_retention,
    cleaner_respects_min_compaction_lag,
    cleaner_respects_the_dirty_ratio,
    cleaned_log_survives_reopen_clean_and_unclean,
    cleaner_handles_compressed_batches,
    slices_taken_before_a_swap_still_read_the_old_bytes,
    slices_taken_before_retention_still_read_the_old_bytes,
    retention_cuts_the_leader_epoch_cache_at_the_new_start,
);

const SEGMENT_BYTES: u64 = 1024;

fn retention_config() -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        index_interval_bytes: 64,
        ..LogConfig::default()
    }
}

fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        index_interval_bytes: 64,
        cleanup_delete: false,
        cleanup_compact: true,
        min_cleanable_dirty_ratio: 0.0,
        delete_retention_ms: 1_000,
        ..LogConfig::default()
    }
}

/// Appends `n` one-record batches stamped `ts`, returning the log end.
fn fill(log: &mut Log, n: usize, ts: i64) -> i64 {
    for _ in 0..n {
        log.append(&plain(1, ts), 0, ts).expect("append");
    }
    log.log_end_offset()
}

fn retain(log: &mut Log, now: i64) -> usize {
    let deleted = log.delete_old_segments(now).expect("retention");
    let n = deleted.count();
    deleted.delete_files().expect("delete files");
    n
}

fn retention_by_time_deletes_old_segments_and_moves_the_start<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_ms: 10_000,
        ..retention_config()
    };
    let mut log = open(&backend, &config, true, T0);
    fill(&mut log, 40, T0);
    let old_segments = log.segment_count();
    fill(&mut log, 40, T0 + 8_000);
    assert!(old_segments >= 2);
    assert_eq!(
        retain(&mut log, T0 + 9_000),
        0,
        "nothing is past retention yet"
    );
    // At T0 + 10_001 the first batch of segments is past retention but the
    // ones holding T0 + 8_000 are not.
    let deleted = retain(&mut log, T0 + 10_001);
    assert!(deleted >= old_segments - 1, "deleted {deleted}");
    let start = log.log_start_offset();
    assert!(start > 0 && start <= 40, "start {start}");
    assert_eq!(start, log.segment_base_offsets()[0]);
    let names = files_with(&*backend.storage(), ".log");
    assert_eq!(names.len(), log.segment_count());
    assert!(matches!(
        log.read(0, 1 << 20, log.log_end_offset(), true),
        Err(gregor_log::ReadError::OffsetOutOfRange { .. })
    ));
    drop(log);
    let log = open(&backend, &config, false, T0 + 10_001);
    assert_eq!(log.log_start_offset(), start, "the start offset is durable");
}

fn retention_by_size_keeps_the_log_under_the_limit<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_bytes: 3 * SEGMENT_BYTES as i64,
        ..retention_config()
    };
    let mut log = open(&backend, &config, true, T0);
    fill(&mut log, 200, T0);
    let before = log.size_bytes();
    assert!(before > 5 * SEGMENT_BYTES);
    assert!(retain(&mut log, T0) > 0);
    let after = log.size_bytes() as i64;
    let limit = 3 * SEGMENT_BYTES as i64;
    // Kafka deletes a segment only while the log stays at or above the
    // limit without it.
    let first = common::file_len(
        &*backend.storage(),
        &format!("{:020}.log", log.segment_base_offsets()[0]),
    ) as i64;
    assert!(
        after >= limit && after - first < limit,
        "size {after}, first {first}"
    );
    assert_eq!(log.log_start_offset(), log.segment_base_offsets()[0]);
    assert_eq!(retain(&mut log, T0), 0, "a second check changes nothing");
}

fn retention_ms_minus_one_keeps_everything<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_ms: -1,
        ..retention_config()
    };
    let mut log = open(&backend, &config, true, T0);
    fill(&mut log, 50, T0);
    assert_eq!(retain(&mut log, T0 + 100 * 365 * 86_400_000), 0);
    assert_eq!(log.log_start_offset(), 0);
}

fn retention_rolls_an_expired_active_segment<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_ms: 1_000,
        ..retention_config()
    };
    let mut log = open(&backend, &config, true, T0);
    let end = fill(&mut log, 3, T0);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(retain(&mut log, T0 + 5_000), 1);
    assert_eq!(log.log_start_offset(), end);
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(
        retain(&mut log, T0 + 6_000),
        0,
        "an empty active segment stays"
    );
    assert_eq!(
        log.append(&plain(1, T0 + 6_000), 0, T0 + 6_000)
            .unwrap()
            .base_offset,
        end
    );
}

fn compact_policy_alone_never_deletes_by_retention<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_ms: 1,
        retention_bytes: 1,
        ..compact_config()
    };
    let mut log = open(&backend, &config, true, T0);
    fill(&mut log, 50, T0);
    assert_eq!(retain(&mut log, T0 + 1_000_000), 0);
}

// ---- compaction ----

/// One keyed record per batch: (key, value or None for a tombstone).
fn keyed(key: &str, value: Option<&str>, ts: i64, compression: Compression) -> BytesMut {
    keyed_batch(&[(key, value)], ts, compression)
}

fn keyed_batch(records: &[(&str, Option<&str>)], ts: i64, compression: Compression) -> BytesMut {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: ts + i as i64,
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode");
    buf
}

/// Every record from the log start: (offset, key, value, timestamp).
fn keyed_records(log: &Log) -> Vec<(i64, String, Option<String>, i64)> {
    let mut out = Vec::new();
    for chunk in read_all(log).records {
        let mut buf = chunk.clone();
        for set in RecordBatchDecoder::decode_all(&mut buf).expect("decode") {
            for r in set.records {
                let s = |b: Bytes| String::from_utf8(b.to_vec()).expect("utf8");
                out.push((
                    r.offset,
                    s(r.key.expect("key")),
                    r.value.map(s),
                    r.timestamp,
                ));
            }
        }
    }
    out
}

/// What a reader from the start should see: the last record of each key.
fn latest(written: &[(i64, String, Option<String>)]) -> BTreeMap<String, (i64, Option<String>)> {
    let mut m = BTreeMap::new();
    for (o, k, v) in written {
        m.insert(k.clone(), (*o, v.clone()));
    }
    m
}

/// Writes `rounds` updates of `keys` keys, deleting every fifth key in the
/// last round. Returns what was written.
fn write_updates(
    log: &mut Log,
    keys: usize,
    rounds: usize,
    ts: i64,
    compression: Compression,
) -> Vec<(i64, String, Option<String>)> {
    let mut written = Vec::new();
    for round in 0..rounds {
        for k in 0..keys {
            let key = format!("key-{k}");
            let tombstone = round == rounds - 1 && k % 5 == 0;
            let value = (!tombstone).then(|| format!("value-{k}-{round}"));
            let info = log
                .append(&keyed(&key, value.as_deref(), ts, compression), 0, ts)
                .expect("append");
            written.push((info.base_offset, key, value));
        }
    }
    written
}

/// Runs one whole clean (plan, run, swap); false if nothing was due.
fn clean(log: &mut Log, now: i64) -> bool {
    let Some(task) = log.plan_clean(now) else {
        return false;
    };
    let cleaned = task.run(64 << 20).expect("clean");
    log.swap_cleaned(cleaned).expect("swap")
}

fn check_latest(log: &Log, written: &[(i64, String, Option<String>)], tombstones: bool) {
    check_latest_with(log, written, tombstones, true)
}

/// `cleaned`: no key appears twice below the active segment.
fn check_latest_with(
    log: &Log,
    written: &[(i64, String, Option<String>)],
    tombstones: bool,
    cleaned: bool,
) {
    let want = latest(written);
    let active_base = *log.segment_base_offsets().last().unwrap();
    let got = keyed_records(log);
    let offsets: Vec<i64> = got.iter().map(|r| r.0).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets increase");
    let mut seen = BTreeMap::new();
    for (o, k, v, _) in &got {
        if cleaned && *o < active_base {
            assert!(
                !seen.contains_key(k),
                "key {k} twice below the active segment"
            );
        }
        seen.insert(k.clone(), (*o, v.clone()));
    }
    for (k, (o, v)) in &want {
        match (v, seen.get(k)) {
            (Some(_), got) => assert_eq!(got, Some(&(*o, v.clone())), "key {k}"),
            (None, got) if tombstones => assert_eq!(got, Some(&(*o, None)), "tombstone {k}"),
            (None, got) => assert!(got.is_none_or(|g| g.0 >= active_base), "tombstone {k} gone"),
        }
    }
}

fn cleaner_keeps_the_latest_value_per_key_at_its_offset<B: Backend>() {
    let backend = B::fresh();
    let config = compact_config();
    let mut log = open(&backend, &config, true, T0);
    let written = write_updates(&mut log, 20, 10, T0, Compression::None);
    let end = log.log_end_offset();
    let size_before = log.size_bytes();
    assert!(log.segment_count() > 3);
    assert!(clean(&mut log, T0));
    assert!(
        log.size_bytes() < size_before / 2,
        "{} vs {size_before}",
        log.size_bytes()
    );
    assert_eq!(log.log_end_offset(), end, "offsets are kept");
    assert_eq!(
        log.first_dirty_offset(),
        *log.segment_base_offsets().last().unwrap()
    );
    check_latest(&log, &written, true);
    assert!(!clean(&mut log, T0), "a clean log is not cleaned again");
    let read_timestamps = keyed_records(&log).iter().all(|r| r.3 == T0);
    assert!(read_timestamps, "record timestamps are kept");
}

fn cleaner_removes_tombstones_after_delete_retention<B: Backend>() {
    let backend = B::fresh();
    let config = compact_config();
    let mut log = open(&backend, &config, true, T0);
    let written = write_updates(&mut log, 20, 5, T0, Compression::None);
    assert!(clean(&mut log, T0 + 10));
    check_latest(&log, &written, true);
    // Before the horizon (first clean + delete.retention.ms) nothing is due.
    assert!(!clean(&mut log, T0 + 10 + 999));
    check_latest(&log, &written, true);
    assert!(clean(&mut log, T0 + 10 + 1_000));
    check_latest(&log, &written, false);
    assert!(!clean(&mut log, T0 + 10 + 5_000), "nothing left to remove");
}

fn cleaner_respects_min_compaction_lag<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        min_compaction_lag_ms: 60_000,
        ..compact_config()
    };
    let mut log = open(&backend, &config, true, T0);
    let mut written = write_updates(&mut log, 10, 5, T0, Compression::None);
    let old_end = log.log_end_offset();
    written.extend(write_updates(
        &mut log,
        10,
        5,
        T0 + 50_000,
        Compression::None,
    ));
    // At T0 + 70_000 only the segments holding T0 records are old enough.
    assert!(clean(&mut log, T0 + 70_000));
    let d = log.dirtiness(T0 + 70_000).expect("compacted");
    assert!(d.first_dirty_offset <= old_end + SEGMENT_BYTES as i64);
    let got = keyed_records(&log);
    let young = got.iter().filter(|r| r.3 == T0 + 50_000).count();
    assert_eq!(
        young, 50,
        "records younger than the lag are all still there"
    );
    let old = got.iter().filter(|r| r.3 == T0).count();
    // One per key, plus the few sharing a segment with young records.
    assert!(old < 25, "old records are compacted: {old} of 50 left");
    check_latest_with(&log, &written, true, false);
}

fn cleaner_respects_the_dirty_ratio<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        min_cleanable_dirty_ratio: 0.5,
        ..compact_config()
    };
    let mut log = open(&backend, &config, true, T0);
    write_updates(&mut log, 20, 10, T0, Compression::None);
    assert!(clean(&mut log, T0));
    let clean_size = log.dirtiness(T0).unwrap().clean_bytes;
    // A little dirt (well under half) is not worth a clean.
    for i in 0..3 {
        log.append(
            &keyed("key-1", Some(&format!("again-{i}")), T0, Compression::None),
            0,
            T0,
        )
        .unwrap();
    }
    let segments = log.segment_count();
    while log.segment_count() == segments {
        log.append(&keyed("filler", Some("f"), T0, Compression::None), 0, T0)
            .unwrap();
    }
    let d = log.dirtiness(T0).unwrap();
    assert!(d.ratio <= 0.5, "ratio {}", d.ratio);
    assert!(log.plan_clean(T0).is_none());
    // Enough dirt crosses the ratio.
    let written = write_updates(&mut log, 20, 20, T0, Compression::None);
    let d = log.dirtiness(T0).unwrap();
    assert!(d.ratio > 0.5 && d.clean_bytes <= clean_size, "{d:?}");
    assert!(clean(&mut log, T0));
    let got = keyed_records(&log);
    let latest_written = latest(&written);
    for (k, (o, v)) in latest_written.iter().filter(|(_, (_, v))| v.is_some()) {
        assert!(got.iter().any(|r| &r.1 == k && r.0 == *o && &r.2 == v));
    }
}

fn cleaned_log_survives_reopen_clean_and_unclean<B: Backend>() {
    let backend = B::fresh();
    let config = compact_config();
    let mut log = open(&backend, &config, true, T0);
    let written = write_updates(&mut log, 15, 6, T0, Compression::None);
    assert!(clean(&mut log, T0));
    let before = keyed_records(&log);
    let first_dirty = log.first_dirty_offset();
    log.close().expect("close");
    let log = open(&backend, &config, true, T0);
    assert_eq!(keyed_records(&log), before);
    assert_eq!(
        log.first_dirty_offset(),
        first_dirty,
        "cleaner checkpoint is kept"
    );
    drop(log);
    // Unclean: every segment is revalidated, thinned batches included.
    let log = Log::open_with_storage(backend.storage(), config.clone(), false, T0).unwrap();
    assert_eq!(keyed_records(&log), before);
    check_latest(&log, &written, true);
}

fn cleaner_handles_compressed_batches<B: Backend>() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let backend = B::fresh();
        let config = compact_config();
        let mut log = open(&backend, &config, true, T0);
        let mut written = Vec::new();
        // Multi-record compressed batches: five keys, updated each round.
        for round in 0..40 {
            let recs: Vec<(String, Option<String>)> = (0..5)
                .map(|k| {
                    let v = (round != 39 || k != 0).then(|| format!("v{round}-{k}"));
                    (format!("key-{}", (round + k) % 7), v)
                })
                .collect();
            let refs: Vec<(&str, Option<&str>)> = recs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            let info = log.append(&keyed_batch(&refs, T0, codec), 0, T0).unwrap();
            for (i, (k, v)) in recs.into_iter().enumerate() {
                written.push((info.base_offset + i as i64, k, v));
            }
        }
        assert!(clean(&mut log, T0), "{codec:?}");
        check_latest(&log, &written, true);
        for chunk in read_all(&log).records {
            for item in gregor_protocol::batch::split_batches(&chunk) {
                let (h, range) = item.unwrap();
                gregor_protocol::batch::validate_stored_batch(&chunk[range]).unwrap();
                assert_eq!(h.compression().unwrap() as i32, codec as i32);
            }
        }
    }
}

// ---- a crash at every step of the swap ----

/// Storage that fails every mutation after the first `budget`, like a
/// process that dies there: what was done stays, nothing after happens.
#[derive(Debug)]
struct Crashing {
    inner: MemStorage,
    budget: AtomicI64,
}

impl Crashing {
    fn step(&self) -> io::Result<()> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(io::Error::other("crash"));
        }
        Ok(())
    }
}

impl Storage for Crashing {
    fn open(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        self.inner.open(name)
    }
    fn map(&self, name: &str) -> io::Result<Arc<dyn MappedFile>> {
        self.inner.map(name)
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        self.step()?;
        self.inner.create(name)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.inner.list()
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.step()?;
        self.inner.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.step()?;
        self.inner.rename(from, to)
    }
    fn sync_dir(&self) -> io::Result<()> {
        self.step()
    }
    fn remove_all(&self) -> io::Result<()> {
        self.inner.remove_all()
    }
}

#[test]
fn a_crash_at_every_step_of_the_swap_recovers_a_consistent_log() {
    let config = compact_config();
    let mut steps_seen = 0;
    for budget in 0.. {
        let mem = MemStorage::new();
        let written = {
            let mut log = open(&Mem(mem.clone()), &config, true, T0);
            let w = write_updates(&mut log, 12, 8, T0, Compression::None);
            log.close().unwrap();
            w
        };
        let crashing = Arc::new(Crashing {
            inner: mem.clone(),
            budget: AtomicI64::new(i64::MAX),
        });
        let mut log = Log::open_with_storage(crashing.clone(), config.clone(), true, T0).unwrap();
        let end = log.log_end_offset();
        let task = log.plan_clean(T0).expect("due");
        let cleaned = task.run(64 << 20).expect("clean");
        crashing.budget.store(budget, Ordering::SeqCst);
        let finished = matches!(log.swap_cleaned(cleaned), Ok(true));
        drop(log); // the process dies here
        let log = Log::open_with_storage(Arc::new(mem.clone()), config.clone(), false, T0)
            .unwrap_or_else(|e| panic!("reopen after crash at step {budget}: {e}"));
        assert_eq!(log.log_end_offset(), end, "step {budget}");
        check_latest_with(&log, &written, true, false);
        let leftovers: Vec<String> = mem
            .list()
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".swap") || n.ends_with(".cleaned"))
            .collect();
        assert!(leftovers.is_empty(), "step {budget}: {leftovers:?}");
        steps_seen += 1;
        if finished {
            break;
        }
    }
    assert!(
        steps_seen > 5,
        "the swap has several steps; saw {steps_seen}"
    );
}

#[test]
fn a_changed_config_applies_to_the_next_check() {
    let backend = Mem::fresh();
    let mut log = open(&backend, &retention_config(), true, T0);
    fill(&mut log, 100, T0);
    assert_eq!(retain(&mut log, T0), 0, "no size limit by default");
    log.set_config(LogConfig {
        retention_bytes: SEGMENT_BYTES as i64,
        ..retention_config()
    });
    assert!(retain(&mut log, T0) > 0);
    assert!(log.size_bytes() < 2 * SEGMENT_BYTES);
    // Turning compaction on makes the same log cleanable.
    assert!(log.dirtiness(T0).is_none());
    log.set_config(compact_config());
    assert!(log.dirtiness(T0).is_some());
}

fn slices_taken_before_a_swap_still_read_the_old_bytes<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &compact_config(), true, T0);
    write_updates(&mut log, 10, 10, T0, Compression::None);
    let end = log.log_end_offset();
    let sliced = log.read_slices(0, 1 << 20, end, true).expect("slices");
    let before: Vec<Bytes> = sliced.slices.iter().map(|s| s.read().unwrap()).collect();
    assert!(clean(&mut log, T0));
    let after: Vec<Bytes> = sliced.slices.iter().map(|s| s.read().unwrap()).collect();
    assert_eq!(
        before, after,
        "an in-flight fetch keeps reading the old segment"
    );
}

fn slices_taken_before_retention_still_read_the_old_bytes<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_ms: 10,
        ..retention_config()
    };
    let mut log = open(&backend, &config, true, T0);
    let end = fill(&mut log, 30, T0);
    let sliced = log.read_slices(0, 1 << 20, end, true).expect("slices");
    let before: Vec<Bytes> = sliced.slices.iter().map(|s| s.read().unwrap()).collect();
    assert!(retain(&mut log, T0 + 1_000) > 0);
    let after: Vec<Bytes> = sliced.slices.iter().map(|s| s.read().unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn a_small_offset_map_cleans_in_several_passes() {
    let backend = Mem::fresh();
    let mut log = open(&backend, &compact_config(), true, T0);
    let written = write_updates(&mut log, 20, 8, T0, Compression::None);
    let active_base = *log.segment_base_offsets().last().unwrap();
    let mut passes = 0;
    let mut first_dirty = log.first_dirty_offset();
    while let Some(task) = log.plan_clean(T0) {
        // Room for about five keys per pass.
        let cleaned = task.run(5 * 70).expect("clean");
        assert!(log.swap_cleaned(cleaned).expect("swap"));
        assert!(
            log.first_dirty_offset() > first_dirty,
            "every pass makes progress"
        );
        first_dirty = log.first_dirty_offset();
        passes += 1;
        assert!(passes < 500, "cleaning does not converge");
    }
    assert!(passes > 1, "the map bound splits the work: {passes} passes");
    assert_eq!(first_dirty, active_base);
    check_latest(&log, &written, true);
}

#[test]
fn tombstones_due_after_a_restart_are_still_removed() {
    let backend = Mem::fresh();
    let config = compact_config();
    let mut log = open(&backend, &config, true, T0);
    let written = write_updates(&mut log, 20, 5, T0, Compression::None);
    assert!(clean(&mut log, T0));
    log.close().unwrap();
    let mut log = open(&backend, &config, true, T0 + 2_000);
    assert!(
        log.dirtiness(T0 + 2_000).unwrap().tombstones_due,
        "the delete horizon is in the cleaner checkpoint"
    );
    assert!(clean(&mut log, T0 + 2_000));
    check_latest(&log, &written, false);
}

fn retention_cuts_the_leader_epoch_cache_at_the_new_start<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        retention_bytes: 3 * SEGMENT_BYTES as i64,
        ..retention_config()
    };
    let mut log = open(&backend, &config, true, T0);
    for epoch in [0, 1, 2] {
        for _ in 0..60 {
            log.append(&plain(1, T0), epoch, T0).expect("append");
        }
    }
    let pairs = |log: &Log| -> Vec<(i32, i64)> {
        log.leader_epochs()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    };
    assert_eq!(pairs(&log), vec![(0, 0), (1, 60), (2, 120)]);
    assert!(retain(&mut log, T0) > 0);
    let start = log.log_start_offset();
    assert!(start > 60, "retention kept too much to test: start {start}");
    // Epochs wholly below the start collapse into one entry at the start,
    // the one the start offset lies in (Kafka's truncateFromStart).
    let expected = if start >= 120 {
        vec![(2, start)]
    } else {
        vec![(1, start), (2, 120)]
    };
    assert_eq!(pairs(&log), expected);
    drop(log);
    let log = open(&backend, &config, true, T0);
    assert_eq!(pairs(&log), expected, "as stored");
}
