//! The log's behaviour as the broker sees it, run against both the file
//! and the in-memory storage backend.

mod common;

use bytes::Bytes;
use common::{
    encode, file_len, files_with, headers, open, plain, ranges, read_all, records, value, Backend,
    Spec, T0,
};
use gregor_log::{AppendError, LogConfig, LogError, ReadError, TimestampType};
use gregor_protocol::batch::{BatchHeader, CRC_OFFSET, MAGIC_OFFSET};
use kafka_protocol::records::Compression;

both_backends!(
    append_assigns_dense_offsets_and_reads_back,
    read_honours_max_bytes_and_min_one_batch,
    read_never_passes_the_high_watermark,
    out_of_range_and_end_of_log_reads,
    roll_by_size_keeps_offsets_dense,
    roll_hands_out_the_fsync_of_the_old_segments,
    sliced_reads_name_the_bytes_read_returns,
    roll_by_time_follows_record_timestamps,
    roll_by_time_without_timestamps_uses_the_clock,
    roll_when_the_index_is_full,
    index_lookup_finds_every_offset_across_many_segments,
    delete_records_moves_the_start_and_survives_restart,
    delete_records_up_to_the_end_empties_the_log,
    offset_for_timestamp_and_max_timestamp,
    idempotent_duplicates_gaps_and_epochs,
    reopen_after_clean_close_keeps_everything,
    reopen_after_crash_rebuilds_producer_state,
    log_append_time_is_stamped_on_the_batch,
    bad_batches_are_refused_and_nothing_is_written,
    flush_policies_do_not_disturb_appends,
    delete_removes_the_directory,
    leader_epochs_follow_appends_truncation_and_restarts,
);

fn config() -> LogConfig {
    LogConfig::default()
}

fn small_segments(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 64,
        ..LogConfig::default()
    }
}

fn append_assigns_dense_offsets_and_reads_back<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let mut expected = Vec::new();
    for (tag, n) in [(1u32, 2usize), (2, 3), (3, 1)] {
        let spec = Spec::plain(n, T0 + i64::from(tag) * 10).tagged(tag);
        let first = log.log_end_offset();
        let info = log.append(&encode(&spec), 7, T0).expect("append");
        assert_eq!(
            (info.base_offset, info.last_offset, info.record_count),
            (first, first + n as i64 - 1, n)
        );
        assert!(!info.duplicate);
        assert_eq!(info.log_append_time_ms, -1);
        assert_eq!(info.max_timestamp, spec.timestamp + n as i64 - 1);
        for i in 0..n {
            expected.push((
                first + i as i64,
                spec.timestamp + i as i64,
                value(tag, i, 8),
            ));
        }
    }
    assert_eq!(log.log_end_offset(), 6);
    let all = read_all(&log);
    assert_eq!(ranges(&all), vec![(0, 1), (2, 4), (5, 5)]);
    assert_eq!(records(&all), expected);
    assert_eq!(
        all.bytes,
        all.records.iter().map(|c| c.len()).sum::<usize>()
    );
    assert_eq!((all.log_start_offset, all.log_end_offset), (0, 6));
    assert!(common::headers(&all)
        .iter()
        .all(|h| h.partition_leader_epoch == 7));
    // A fetch inside a batch returns that whole batch, as Kafka does.
    let middle = log.read(3, 1 << 20, 6, true).expect("read");
    assert_eq!(ranges(&middle), vec![(2, 4), (5, 5)]);
}

fn read_honours_max_bytes_and_min_one_batch<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    for _ in 0..4 {
        log.append(&plain(3, T0), 0, T0).expect("append");
    }
    let batch = read_all(&log).records[0].len() / 4;
    let leo = log.log_end_offset();
    let none = log.read(0, batch - 1, leo, false).expect("read");
    assert!(none.records.is_empty() && none.bytes == 0);
    let one = log.read(0, batch - 1, leo, true).expect("read");
    assert_eq!((ranges(&one), one.bytes), (vec![(0, 2)], batch));
    let two = log.read(0, batch * 5 / 2, leo, true).expect("read");
    assert_eq!(ranges(&two), vec![(0, 2), (3, 5)]);
    let exact = log.read(3, batch * 3, leo, false).expect("read");
    assert_eq!(ranges(&exact), vec![(3, 5), (6, 8), (9, 11)]);
    let zero = log.read(0, 0, leo, true).expect("read");
    assert_eq!(ranges(&zero), vec![(0, 2)]);
}

fn read_never_passes_the_high_watermark<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    for _ in 0..3 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    assert_eq!(
        ranges(&log.read(0, 1 << 20, 4, true).expect("read")),
        vec![(0, 1), (2, 3)]
    );
    assert_eq!(
        ranges(&log.read(0, 1 << 20, 3, true).expect("read")),
        vec![(0, 1)],
        "a batch crossing the HW waits"
    );
    assert_eq!(
        ranges(&log.read(2, 1 << 20, 3, true).expect("read")),
        Vec::<(i64, i64)>::new()
    );
    assert!(log
        .read(4, 1 << 20, 4, true)
        .expect("read at HW")
        .records
        .is_empty());
    assert!(log
        .read(5, 1 << 20, 4, true)
        .expect("read above HW")
        .records
        .is_empty());
}

fn out_of_range_and_end_of_log_reads<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    assert!(log
        .read(0, 100, 0, true)
        .expect("empty log")
        .records
        .is_empty());
    log.append(&plain(2, T0), 0, T0).expect("append");
    let at_end = log.read(2, 100, 2, true).expect("read at LEO");
    assert!(at_end.records.is_empty());
    assert_eq!(at_end.log_end_offset, 2);
    for bad in [-1, 3, i64::MAX] {
        let err = log.read(bad, 100, 2, true).expect_err("out of range");
        assert!(
            matches!(err, ReadError::OffsetOutOfRange { offset, log_start_offset: 0, log_end_offset: 2 } if offset == bad)
        );
    }
}

fn roll_by_size_keeps_offsets_dense<B: Backend>() {
    let backend = B::fresh();
    let batch_bytes = plain(2, T0).len() as u64;
    let config = small_segments(batch_bytes * 3);
    let mut log = open(&backend, &config, true, T0);
    for _ in 0..10 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 6, 12, 18]);
    let storage = backend.storage();
    for name in files_with(&*storage, ".log") {
        assert!(
            file_len(&*storage, &name) <= config.segment_bytes,
            "{name} too big"
        );
    }
    let all = read_all(&log);
    let offsets: Vec<i64> = records(&all).iter().map(|r| r.0).collect();
    assert_eq!(offsets, (0..20).collect::<Vec<_>>());
    assert_eq!(all.records.len(), 4, "one contiguous run per segment");
    assert_eq!(log.size_bytes(), batch_bytes * 10);
    let mut huge = plain(2, T0);
    huge.extend_from_slice(&plain(2, T0));
    huge.extend_from_slice(&plain(2, T0));
    huge.extend_from_slice(&plain(2, T0));
    let err = log.append(&huge, 0, T0).expect_err("bigger than a segment");
    assert!(matches!(err, AppendError::RecordListTooLarge { .. }));
}

fn roll_hands_out_the_fsync_of_the_old_segments<B: Backend>() {
    let backend = B::fresh();
    let batch_bytes = plain(2, T0).len() as u64;
    let mut log = open(&backend, &small_segments(batch_bytes * 3), true, T0);
    for _ in 0..3 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    assert!(log.take_flush_job().is_none(), "no roll yet");
    for _ in 0..7 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    // Three rolls since the last take: one job covering all of them.
    let job = log.take_flush_job().expect("rolls leave a flush job");
    assert_eq!(job.upto(), 18);
    assert!(log.take_flush_job().is_none(), "taken once");
    job.run().expect("fsync");
    log.flush_done(&job, Ok(())).expect("recovery point moves");
    log.append(&plain(2, T0), 0, T0).expect("append");

    // A failed fsync loses data silently if ignored: the log goes offline.
    for _ in 0..3 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    let job = log.take_flush_job().expect("another roll");
    let err = log
        .flush_done(&job, Err(std::io::Error::other("injected fsync failure")))
        .expect_err("offline");
    assert!(err.to_string().contains("injected"), "{err}");
    assert!(log.append(&plain(2, T0), 0, T0).is_err());
}

/// The slices a fetch sends are exactly the bytes `read` returns, for
/// every start offset, byte limit and high watermark, across segments.
fn sliced_reads_name_the_bytes_read_returns<B: Backend>() {
    let backend = B::fresh();
    let batch_bytes = plain(2, T0).len() as u64;
    let mut log = open(&backend, &small_segments(batch_bytes * 5), true, T0);
    for n in 1..=12 {
        log.append(&plain(n % 3 + 1, T0), 0, T0).expect("append");
    }
    let end = log.log_end_offset();
    for offset in 0..end {
        for max_bytes in [
            0,
            1,
            batch_bytes as usize,
            3 * batch_bytes as usize,
            1 << 20,
        ] {
            for hw in [offset, offset + 1, end / 2, end] {
                let hw = hw.max(offset);
                let read = log.read(offset, max_bytes, hw, true).expect("read");
                let sliced = log
                    .read_slices(offset, max_bytes, hw, true)
                    .expect("slices");
                let bytes: Vec<Bytes> = sliced
                    .slices
                    .iter()
                    .map(|s| s.read().expect("slice reads"))
                    .collect();
                assert_eq!(
                    bytes, read.records,
                    "offset {offset} max {max_bytes} hw {hw}"
                );
                assert_eq!(sliced.bytes, read.bytes);
                for h in headers(&read) {
                    assert!(h.last_offset() < hw, "batch past the high watermark");
                }
                if read.bytes > max_bytes {
                    assert_eq!(headers(&read).len(), 1, "only the first batch may exceed");
                }
            }
        }
    }
}

fn roll_by_time_follows_record_timestamps<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        segment_ms: 1_000,
        ..config()
    };
    let mut log = open(&backend, &config, true, T0);
    log.append(&plain(1, T0), 0, T0).expect("append");
    log.append(&plain(1, T0 + 1_000), 0, T0 + 5_000)
        .expect("append");
    assert_eq!(
        log.segment_count(),
        1,
        "exactly segment.ms old does not roll"
    );
    log.append(&plain(1, T0 + 1_001), 0, T0).expect("append");
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    log.append(&plain(1, T0 + 1_500), 0, T0 + 99_000)
        .expect("append");
    assert_eq!(
        log.segment_count(),
        2,
        "the age counts from the segment's first batch"
    );
}

fn roll_by_time_without_timestamps_uses_the_clock<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        segment_ms: 1_000,
        ..config()
    };
    let mut log = open(&backend, &config, true, 0);
    log.append(&plain(1, -1), 0, 10).expect("append");
    log.append(&plain(1, -1), 0, 900).expect("append");
    assert_eq!(log.segment_count(), 1);
    log.roll_if_due(999).expect("roll check");
    assert_eq!(log.segment_count(), 1);
    log.append(&plain(1, -1), 0, 1_001).expect("append");
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    log.roll_if_due(2_002).expect("idle roll");
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 3]);
    log.roll_if_due(9_000)
        .expect("an empty segment never rolls");
    assert_eq!(log.segment_count(), 3);
}

fn roll_when_the_index_is_full<B: Backend>() {
    let backend = B::fresh();
    // Room for three offset-index entries (and two time-index entries, of
    // which equal timestamps use one). With index.interval.bytes 1 every
    // batch after the first earns an offset-index entry.
    let config = LogConfig {
        index_interval_bytes: 1,
        segment_index_bytes: 24,
        ..config()
    };
    let mut log = open(&backend, &config, true, T0);
    for _ in 0..9 {
        log.append(&plain(1, T0), 0, T0).expect("append");
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8]);
    let storage = backend.storage();
    assert_eq!(file_len(&*storage, "00000000000000000000.index"), 24);
    assert_eq!(file_len(&*storage, "00000000000000000000.timeindex"), 12);
    // Distinct timestamps fill the time index (two entries) first.
    let backend = B::fresh();
    let mut log = open(&backend, &config, true, T0);
    for i in 0..5 {
        log.append(&plain(1, T0 + i), 0, T0).expect("append");
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 3]);
}

fn index_lookup_finds_every_offset_across_many_segments<B: Backend>() {
    let backend = B::fresh();
    let batch_bytes = plain(3, T0).len() as u64;
    let config = LogConfig {
        segment_bytes: batch_bytes * 12,
        index_interval_bytes: batch_bytes * 2,
        ..config()
    };
    let mut log = open(&backend, &config, true, T0);
    for i in 0..60 {
        log.append(&plain(3, T0 + i), 0, T0).expect("append");
    }
    assert_eq!(log.segment_count(), 5);
    let storage = backend.storage();
    // The active segment's index lives in memory until it rolls or flushes.
    let active = format!("{:020}.index", log.segment_base_offsets()[4]);
    assert!(
        files_with(&*storage, ".index")
            .iter()
            .filter(|n| **n != active)
            .all(|n| file_len(&*storage, n) >= 8),
        "sealed indexes have entries on disk"
    );
    assert_eq!(file_len(&*storage, &active), 0);
    log.flush().expect("flush");
    assert!(file_len(&*storage, &active) >= 8, "a flush writes it out");
    let leo = log.log_end_offset();
    for offset in 0..leo {
        let result = log.read(offset, 1, leo, true).expect("read");
        let got = ranges(&result);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0],
            (offset / 3 * 3, offset / 3 * 3 + 2),
            "offset {offset}"
        );
    }
    for reopened_clean in [true, false] {
        drop(log);
        log = open(&backend, &config, reopened_clean, T0);
        assert_eq!(log.log_end_offset(), leo);
        for offset in (0..leo).step_by(7) {
            assert_eq!(
                ranges(&log.read(offset, 1, leo, true).expect("read"))[0].0,
                offset / 3 * 3
            );
        }
    }
}

fn delete_records_moves_the_start_and_survives_restart<B: Backend>() {
    let backend = B::fresh();
    let config = small_segments(plain(2, T0).len() as u64 * 2);
    let mut log = open(&backend, &config, true, T0);
    for _ in 0..5 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8]);
    assert_eq!(log.delete_records_before(3).expect("delete"), 3);
    assert_eq!(
        log.segment_base_offsets(),
        vec![0, 4, 8],
        "segment 0 still holds offset 3"
    );
    assert_eq!(log.delete_records_before(5).expect("delete"), 5);
    assert_eq!(log.segment_base_offsets(), vec![4, 8]);
    assert_eq!(files_with(&*backend.storage(), ".log").len(), 2);
    assert_eq!(
        log.delete_records_before(2).expect("no-op"),
        5,
        "never moves backwards"
    );
    assert!(matches!(
        log.delete_records_before(11),
        Err(LogError::OffsetOutOfRange {
            offset: 11,
            log_end_offset: 10
        })
    ));
    assert!(matches!(
        log.read(4, 100, 10, true),
        Err(ReadError::OffsetOutOfRange {
            log_start_offset: 5,
            ..
        })
    ));
    assert_eq!(
        ranges(&log.read(5, 1 << 20, 10, true).expect("read")),
        vec![(4, 5), (6, 7), (8, 9)]
    );
    let info = log.append(&plain(1, T0), 0, T0).expect("append");
    assert_eq!(info.log_start_offset, 5);
    for clean in [true, false] {
        if clean {
            log.close().expect("close");
        } else {
            drop(log);
        }
        log = open(&backend, &config, clean, T0);
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset()),
            (5, 11),
            "clean: {clean}"
        );
    }
}

fn delete_records_up_to_the_end_empties_the_log<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    for _ in 0..3 {
        log.append(&plain(2, T0), 0, T0).expect("append");
    }
    assert_eq!(log.delete_records_before(6).expect("delete all"), 6);
    assert_eq!(log.segment_base_offsets(), vec![6]);
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.size_bytes()
        ),
        (6, 6, 0)
    );
    assert!(log.read(6, 100, 6, true).expect("read").records.is_empty());
    assert_eq!(
        log.append(&plain(1, T0), 0, T0)
            .expect("append")
            .base_offset,
        6
    );
    drop(log);
    let log = open(&backend, &config(), false, T0);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 7));
}

fn offset_for_timestamp_and_max_timestamp<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        segment_bytes: 300,
        index_interval_bytes: 1,
        ..config()
    };
    let mut log = open(&backend, &config, true, T0);
    assert_eq!(log.offset_for_timestamp(0), None);
    assert_eq!(log.max_timestamp(), None);
    let batches = [
        Spec::plain(2, 100),                               // 0-1: 100, 101
        Spec::plain(3, 200),                               // 2-4: 200..202
        Spec::plain(3, 150).compressed(Compression::Lz4),  // 5-7: 150..152
        Spec::plain(3, 400).compressed(Compression::Zstd), // 8-10: 400..402
        Spec::plain(2, 120),                               // 11-12: 120, 121
    ];
    for spec in &batches {
        log.append(&encode(spec), 0, T0).expect("append");
    }
    assert!(log.segment_count() > 1);
    for _ in 0..2 {
        assert_eq!(log.offset_for_timestamp(0), Some((0, 100)));
        assert_eq!(log.offset_for_timestamp(101), Some((1, 101)));
        assert_eq!(log.offset_for_timestamp(102), Some((2, 200)));
        assert_eq!(
            log.offset_for_timestamp(150),
            Some((2, 200)),
            "the first offset whose timestamp qualifies"
        );
        assert_eq!(log.offset_for_timestamp(201), Some((3, 201)));
        // Compressed batches answer with their base offset and max timestamp.
        assert_eq!(log.offset_for_timestamp(300), Some((8, 402)));
        assert_eq!(log.offset_for_timestamp(403), None);
        assert_eq!(log.max_timestamp(), Some((10, 402)));
        log.close().expect("close");
        log = open(&backend, &config, true, T0);
    }
    log.append(&encode(&Spec::plain(3, 500)), 0, T0)
        .expect("append");
    assert_eq!(log.max_timestamp(), Some((15, 502)));
    log.delete_records_before(3).expect("delete");
    assert_eq!(log.offset_for_timestamp(0), Some((3, 201)));
}

fn idempotent_duplicates_gaps_and_epochs<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    let first = log
        .append(&encode(&Spec::idempotent(7, 0, 0, 3)), 0, T0)
        .expect("append");
    assert_eq!((first.base_offset, first.last_offset), (0, 2));
    let retry = log
        .append(&encode(&Spec::idempotent(7, 0, 0, 3)), 0, T0)
        .expect("duplicate");
    assert!(retry.duplicate);
    assert_eq!(
        (retry.base_offset, retry.last_offset, log.log_end_offset()),
        (0, 2, 3)
    );
    let gap = log
        .append(&encode(&Spec::idempotent(7, 0, 5, 1)), 0, T0)
        .expect_err("gap");
    assert!(matches!(
        gap,
        AppendError::OutOfOrderSequence {
            producer_id: 7,
            last_sequence: 2,
            found: 5,
            ..
        }
    ));
    for seq in [3, 4, 5, 6, 7] {
        log.append(&encode(&Spec::idempotent(7, 0, seq, 1)), 0, T0)
            .expect("in sequence");
    }
    let old = log
        .append(&encode(&Spec::idempotent(7, 0, 4, 1)), 0, T0)
        .expect("older cached batch");
    assert!(old.duplicate);
    assert_eq!(old.base_offset, 4);
    let evicted = log
        .append(&encode(&Spec::idempotent(7, 0, 0, 3)), 0, T0)
        .expect_err("no longer cached");
    assert!(matches!(evicted, AppendError::OutOfOrderSequence { .. }));
    let bump = log
        .append(&encode(&Spec::idempotent(7, 1, 8, 1)), 0, T0)
        .expect_err("new epoch starts at 0");
    assert!(matches!(bump, AppendError::OutOfOrderSequence { .. }));
    log.append(&encode(&Spec::idempotent(7, 1, 0, 2)), 0, T0)
        .expect("new epoch");
    let fenced = log
        .append(&encode(&Spec::idempotent(7, 0, 8, 1)), 0, T0)
        .expect_err("old epoch");
    assert!(matches!(
        fenced,
        AppendError::InvalidProducerEpoch {
            epoch: 0,
            current_epoch: 1,
            ..
        }
    ));
    log.append(&encode(&Spec::idempotent(9, 3, 1_000, 1)), 0, T0)
        .expect("unknown producer: any sequence");
    log.append(&plain(1, T0), 0, T0)
        .expect("plain batches skip the checks");
    let states = log.producer_states();
    assert_eq!(
        states
            .iter()
            .map(|s| (s.producer_id, s.producer_epoch, s.last_sequence()))
            .collect::<Vec<_>>(),
        vec![(7, 1, 1), (9, 3, 1_000)]
    );
    assert_eq!(log.log_end_offset(), 12);
}

fn reopen_after_clean_close_keeps_everything<B: Backend>() {
    let backend = B::fresh();
    let config = small_segments(400);
    let mut log = open(&backend, &config, true, T0);
    for seq in 0..6 {
        log.append(&encode(&Spec::idempotent(3, 2, seq * 2, 2)), 0, T0)
            .expect("append");
        log.append(&plain(2, T0 + i64::from(seq)), 0, T0)
            .expect("append");
    }
    log.delete_records_before(5).expect("delete");
    let before = read_all(&log);
    let (start, end, segments) = (
        log.log_start_offset(),
        log.log_end_offset(),
        log.segment_base_offsets(),
    );
    let (states, max_ts) = (log.producer_states(), log.max_timestamp());
    log.close().expect("close");
    let storage = backend.storage();
    assert_eq!(
        files_with(&*storage, ".snapshot")
            .last()
            .map(String::as_str),
        Some("00000000000000000024.snapshot")
    );
    for name in files_with(&*storage, ".index") {
        assert_eq!(
            file_len(&*storage, &name) % 8,
            0,
            "{name} trimmed to whole entries"
        );
    }
    for name in files_with(&*storage, ".timeindex") {
        assert_eq!(
            file_len(&*storage, &name) % 12,
            0,
            "{name} trimmed to whole entries"
        );
    }
    let mut log = open(&backend, &config, true, T0);
    assert_eq!(
        (
            log.log_start_offset(),
            log.log_end_offset(),
            log.segment_base_offsets()
        ),
        (start, end, segments)
    );
    assert_eq!(log.producer_states(), states);
    assert_eq!(log.max_timestamp(), max_ts);
    assert_eq!(read_all(&log), before);
    let retry = log
        .append(&encode(&Spec::idempotent(3, 2, 10, 2)), 0, T0)
        .expect("duplicate after restart");
    assert!(retry.duplicate);
    assert_eq!(
        log.append(&encode(&Spec::idempotent(3, 2, 12, 1)), 0, T0)
            .expect("next")
            .base_offset,
        end
    );
}

fn reopen_after_crash_rebuilds_producer_state<B: Backend>() {
    let backend = B::fresh();
    let config = small_segments(300);
    let mut log = open(&backend, &config, true, T0);
    for seq in 0..8 {
        log.append(&encode(&Spec::idempotent(4, 0, seq, 1)), 0, T0)
            .expect("append");
    }
    assert!(log.segment_count() > 1);
    let states = log.producer_states();
    drop(log);
    let mut log = open(&backend, &config, false, T0);
    assert_eq!(log.producer_states(), states);
    assert!(
        log.append(&encode(&Spec::idempotent(4, 0, 7, 1)), 0, T0)
            .expect("retry")
            .duplicate
    );
    assert!(log
        .append(&encode(&Spec::idempotent(4, 0, 9, 1)), 0, T0)
        .is_err());
    // Without any snapshot the state comes from scanning the whole log.
    drop(log);
    let storage = backend.storage();
    for name in files_with(&*storage, ".snapshot") {
        storage.remove(&name).expect("remove snapshot");
    }
    let log = open(&backend, &config, true, T0);
    assert_eq!(log.producer_states(), states);
}

fn log_append_time_is_stamped_on_the_batch<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..config()
    };
    let mut log = open(&backend, &config, true, T0);
    let info = log
        .append(&encode(&Spec::plain(3, 42)), 0, T0 + 5)
        .expect("append");
    assert_eq!(
        (info.log_append_time_ms, info.max_timestamp),
        (T0 + 5, T0 + 5)
    );
    let compressed = Spec::plain(2, 42).compressed(Compression::Snappy);
    log.append(&encode(&compressed), 0, T0 + 9).expect("append");
    let stored = common::headers(&read_all(&log));
    assert!(stored
        .iter()
        .all(|h| h.timestamp_type() == TimestampType::LogAppendTime));
    assert_eq!(
        stored
            .iter()
            .map(|h| (h.base_timestamp, h.max_timestamp))
            .collect::<Vec<_>>(),
        vec![(42, T0 + 5), (42, T0 + 9)]
    );
    assert_eq!(log.offset_for_timestamp(T0 + 6), Some((3, T0 + 9)));
    assert_eq!(log.offset_for_timestamp(0), Some((0, T0 + 5)));
    assert_eq!(log.max_timestamp(), Some((3, T0 + 9)));
}

fn bad_batches_are_refused_and_nothing_is_written<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        max_message_bytes: 200,
        ..config()
    };
    let mut log = open(&backend, &config, true, T0);
    log.append(&plain(1, T0), 0, T0).expect("append");
    let size = log.size_bytes();
    let mut corrupt = plain(2, T0);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let mut two = plain(1, T0);
    two.extend_from_slice(&corrupt);
    assert!(matches!(
        log.append(&two, 0, T0),
        Err(AppendError::CorruptMessage(_))
    ));
    let mut crc = plain(1, T0);
    crc[CRC_OFFSET] ^= 0xff;
    assert!(matches!(
        log.append(&crc, 0, T0),
        Err(AppendError::CorruptMessage(_))
    ));
    let mut magic = plain(1, T0);
    magic[MAGIC_OFFSET] = 1;
    assert!(matches!(
        log.append(&magic, 0, T0),
        Err(AppendError::UnsupportedForMessageFormat(1))
    ));
    let big = encode(&Spec::plain(1, T0).sized(200));
    let big_len = big.len();
    assert!(
        matches!(log.append(&big, 0, T0), Err(AppendError::MessageTooLarge { size, max: 200 }) if size == big_len)
    );
    let mut torn = plain(2, T0);
    torn.truncate(torn.len() - 3);
    assert!(matches!(
        log.append(&torn, 0, T0),
        Err(AppendError::CorruptMessage(_))
    ));
    let mut offset = plain(1, T0);
    offset[7] = 9;
    assert!(matches!(
        log.append(&offset, 0, T0),
        Err(AppendError::InvalidRecord(_))
    ));
    assert!(matches!(
        log.append(&bytes::BytesMut::new(), 0, T0),
        Err(AppendError::InvalidRecord(_))
    ));
    assert_eq!(
        (log.log_end_offset(), log.size_bytes()),
        (1, size),
        "nothing was written"
    );
    let header = BatchHeader::parse(&read_all(&log).records[0]).expect("header");
    assert_eq!(header.records_count, 1);
    assert_eq!(
        log.append(&plain(1, T0), 0, T0)
            .expect("append")
            .base_offset,
        1
    );
}

fn flush_policies_do_not_disturb_appends<B: Backend>() {
    let backend = B::fresh();
    let config = LogConfig {
        flush_interval_messages: 3,
        flush_interval_ms: 100,
        ..small_segments(500)
    };
    let mut log = open(&backend, &config, true, T0);
    for i in 0..10 {
        log.append(&plain(2, T0), 0, T0 + i * 60).expect("append");
        log.flush_if_due(T0 + i * 60 + 30).expect("flush if due");
    }
    log.flush().expect("flush");
    drop(log);
    let log = open(&backend, &config, false, T0);
    assert_eq!(log.log_end_offset(), 20);
}

fn delete_removes_the_directory<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    log.append(&plain(2, T0), 0, T0).expect("append");
    log.delete().expect("delete");
    assert!(backend.storage().list().expect("list").is_empty());
}

#[test]
fn open_by_path_creates_the_directory_with_kafka_file_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orders-3");
    let mut log = gregor_log::Log::open(&path, config(), true, T0).expect("open");
    log.append(&plain(2, T0), 0, T0).expect("append");
    log.close().expect("close");
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "00000000000000000000.index",
            "00000000000000000000.log",
            "00000000000000000000.timeindex",
            "00000000000000000002.snapshot",
            "gregor-log.checkpoint",
            "leader-epoch-checkpoint",
        ]
    );
}

#[test]
fn a_failed_write_is_undone_and_the_log_continues() {
    let backend = common::Mem::fresh();
    let mut log = open(&backend, &config(), true, T0);
    log.append(&plain(2, T0), 0, T0).expect("append");
    backend.0.set_fail_appends(true);
    assert!(matches!(
        log.append(&plain(3, T0), 0, T0),
        Err(AppendError::Io(LogError::Io { .. }))
    ));
    backend.0.set_fail_appends(false);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(
        log.append(&plain(1, T0), 0, T0)
            .expect("append")
            .base_offset,
        2
    );
    assert_eq!(ranges(&read_all(&log)), vec![(0, 1), (2, 2)]);
}

fn epochs(log: &gregor_log::Log) -> Vec<(i32, i64)> {
    log.leader_epochs()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

fn leader_epochs_follow_appends_truncation_and_restarts<B: Backend>() {
    let backend = B::fresh();
    let config = small_segments(300);
    let mut log = open(&backend, &config, true, T0);
    assert_eq!(log.end_offset_for_epoch(0), None, "empty log");
    for epoch in [0, 0, 3, 3, 5] {
        log.append(&plain(1, T0), epoch, T0).expect("append");
    }
    let all = vec![(0, 0), (3, 2), (5, 4)];
    assert_eq!(epochs(&log), all);
    assert_eq!(log.end_offset_for_epoch(5), Some((5, 5)), "latest: log end");
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 4)));
    assert_eq!(log.end_offset_for_epoch(4), Some((3, 4)));
    assert_eq!(log.end_offset_for_epoch(9), None);
    log.close().expect("close");

    let log = open(&backend, &config, true, T0);
    assert_eq!(epochs(&log), all, "kept across a clean restart");
    drop(log);
    let storage = backend.storage();
    storage.remove("leader-epoch-checkpoint").expect("remove");
    let mut log = open(&backend, &config, false, T0);
    assert_eq!(epochs(&log), all, "rebuilt from the batches");

    log.delete_records_before(3).expect("delete records");
    assert_eq!(epochs(&log), vec![(3, 3), (5, 4)]);
    drop(log);
    // A torn last batch: recovery cuts it, and its epoch with it.
    let last = files_with(&*storage, ".log")
        .into_iter()
        .max()
        .expect("segments");
    let len = file_len(&*storage, &last);
    storage
        .open(&last)
        .and_then(|mut f| f.truncate(len - 5))
        .expect("tear the tail");
    let log = open(&backend, &config, false, T0);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(epochs(&log), vec![(3, 3)]);
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 4)));
}
