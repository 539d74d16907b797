//! Crash recovery: torn and corrupt tails, damaged indexes, snapshots and
//! checkpoints, on both storage backends.

mod common;

use common::{encode, file_len, files_with, open, plain, ranges, read_all, Backend, Spec, T0};
use gregor_log::{Log, LogConfig, Storage};
use gregor_protocol::batch::{split_batches, CRC_COVERED_FROM};
use kafka_protocol::records::Compression;

both_backends!(
    a_tail_torn_at_every_byte_recovers_to_the_batch_before,
    garbage_after_the_last_batch_is_cut_off,
    any_corrupt_byte_in_the_last_batch_drops_only_that_batch,
    missing_or_damaged_indexes_are_rebuilt_identically,
    a_scrambled_index_never_misleads_lookups,
    without_a_checkpoint_everything_is_recovered,
    damaged_snapshots_and_checkpoints_are_ignored,
    a_log_of_pure_garbage_opens_empty,
);

const ACTIVE_LOG: &str = "00000000000000000000.log";

fn config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 64,
        ..LogConfig::default()
    }
}

/// Every file of a directory, to restore into fresh backends.
struct Template(Vec<(String, Vec<u8>)>);

impl Template {
    fn capture(storage: &dyn Storage) -> Template {
        let mut files = Vec::new();
        for name in storage.list().expect("list") {
            let file = storage.open(&name).expect("open");
            let mut data = vec![0u8; file.len() as usize];
            file.read_exact_at(0, &mut data).expect("read");
            files.push((name, data));
        }
        Template(files)
    }

    fn restore<B: Backend>(&self) -> B {
        let backend = B::fresh();
        let storage = backend.storage();
        for (name, data) in &self.0 {
            storage
                .create(name)
                .expect("create")
                .append(data)
                .expect("write");
        }
        backend
    }

    fn file(&self, name: &str) -> &[u8] {
        &self
            .0
            .iter()
            .find(|(n, _)| n == name)
            .expect("file in template")
            .1
    }
}

/// Six batches (plain, idempotent, compressed) in one segment, left as a
/// crash leaves them: no close. Returns the template and batch ranges.
fn crashed_log<B: Backend>() -> (Template, Vec<(i64, i64)>) {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    let specs = [
        Spec::plain(2, T0),
        Spec::idempotent(5, 0, 0, 2),
        Spec::plain(3, T0 + 5).compressed(Compression::Gzip),
        Spec::idempotent(5, 0, 2, 1),
        Spec::plain(1, T0 + 9),
        Spec::idempotent(5, 0, 3, 3),
    ];
    for spec in &specs {
        log.append(&encode(spec), 1, T0).expect("append");
    }
    let expected = ranges(&read_all(&log));
    drop(log);
    (Template::capture(&*backend.storage()), expected)
}

fn cut(storage: &dyn Storage, name: &str, len: u64) {
    storage
        .open(name)
        .expect("open")
        .truncate(len)
        .expect("truncate");
}

fn write_at_end(storage: &dyn Storage, name: &str, bytes: &[u8]) {
    storage
        .open(name)
        .expect("open")
        .append(bytes)
        .expect("append");
}

/// Reopens uncleanly and checks the log holds exactly `expected` and
/// carries on from there.
fn assert_recovers_to(log: &mut Log, expected: &[(i64, i64)]) {
    let leo = expected.last().map_or(0, |r| r.1 + 1);
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(ranges(&read_all(log)), expected);
    for offset in 0..leo {
        let got = ranges(&log.read(offset, 1, leo, true).expect("read"));
        assert!(
            got[0].0 <= offset && offset <= got[0].1,
            "offset {offset} -> {got:?}"
        );
    }
    let info = log
        .append(&plain(1, T0), 1, T0)
        .expect("append after recovery");
    assert_eq!(info.base_offset, leo);
}

fn a_tail_torn_at_every_byte_recovers_to_the_batch_before<B: Backend>() {
    let (template, expected) = crashed_log::<B>();
    let data = template.file(ACTIVE_LOG);
    let last_start = split_batches(data)
        .last()
        .expect("batches")
        .expect("valid")
        .1
        .start;
    for len in last_start..data.len() {
        let backend: B = template.restore();
        cut(&*backend.storage(), ACTIVE_LOG, len as u64);
        let mut log = open(&backend, &config(), false, T0);
        assert_recovers_to(&mut log, &expected[..expected.len() - 1]);
        // The producer's last batch is gone, so its retry is new data.
        let retry = log
            .append(&encode(&Spec::idempotent(5, 0, 3, 3)), 1, T0)
            .expect("retry");
        assert!(!retry.duplicate, "cut at {len}");
    }
    let backend: B = template.restore();
    let mut log = open(&backend, &config(), false, T0);
    assert_recovers_to(&mut log, &expected);
}

fn garbage_after_the_last_batch_is_cut_off<B: Backend>() {
    let (template, expected) = crashed_log::<B>();
    let data = template.file(ACTIVE_LOG);
    let first_batch = split_batches(data).next().expect("batch").expect("valid").1;
    let mut header_only = data[..61].to_vec();
    header_only[8..12].copy_from_slice(&1000i32.to_be_bytes());
    let garbages: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0; 11],
        vec![0; 200],
        vec![0xff; 200],
        header_only,
        data[first_batch].to_vec(), // a valid batch whose offsets go backwards
        (0..=255u8).cycle().take(1000).collect(),
    ];
    for garbage in garbages {
        let backend: B = template.restore();
        write_at_end(&*backend.storage(), ACTIVE_LOG, &garbage);
        let mut log = open(&backend, &config(), false, T0);
        assert_recovers_to(&mut log, &expected);
        assert!(
            log.append(&encode(&Spec::idempotent(5, 0, 3, 3)), 1, T0)
                .expect("retry")
                .duplicate
        );
    }
}

fn any_corrupt_byte_in_the_last_batch_drops_only_that_batch<B: Backend>() {
    let (template, expected) = crashed_log::<B>();
    let data = template.file(ACTIVE_LOG);
    let last = split_batches(data)
        .last()
        .expect("batches")
        .expect("valid")
        .1;
    // Batch length (8..12) and everything the CRC covers.
    let positions =
        (last.start + 8..last.start + 12).chain(last.start + CRC_COVERED_FROM..last.end);
    for at in positions {
        let backend: B = template.restore();
        let storage = backend.storage();
        let mut damaged = data.to_vec();
        damaged[at] ^= 0x20;
        storage
            .create(ACTIVE_LOG)
            .expect("create")
            .append(&damaged)
            .expect("write");
        let mut log = open(&backend, &config(), false, T0);
        assert_recovers_to(&mut log, &expected[..expected.len() - 1]);
    }
}

/// A closed log over several segments, with index entries in each.
fn closed_multi_segment_log<B: Backend>() -> (B, LogConfig, i64) {
    let backend = B::fresh();
    let config = LogConfig {
        segment_bytes: 700,
        index_interval_bytes: 100,
        ..LogConfig::default()
    };
    let mut log = open(&backend, &config, true, T0);
    for i in 0..40 {
        log.append(&plain(2, T0 + i * 3), 0, T0).expect("append");
    }
    assert!(log.segment_count() >= 4);
    let leo = log.log_end_offset();
    log.close().expect("close");
    (backend, config, leo)
}

fn assert_lookups(log: &Log, leo: i64) {
    assert_eq!(log.log_end_offset(), leo);
    for offset in 0..leo {
        let got = ranges(&log.read(offset, 1, leo, true).expect("read"));
        assert_eq!(
            got[0],
            (offset / 2 * 2, offset / 2 * 2 + 1),
            "offset {offset}"
        );
    }
    for i in 0..20 {
        // Batch i holds timestamps T0 + 3i and T0 + 3i + 1.
        assert_eq!(
            log.offset_for_timestamp(T0 + 3 * i + 1),
            Some((2 * i + 1, T0 + 3 * i + 1))
        );
        assert_eq!(
            log.offset_for_timestamp(T0 + 3 * i + 2),
            Some((2 * i + 2, T0 + 3 * i + 3))
        );
    }
    assert_eq!(
        log.max_timestamp(),
        Some((leo - 1, T0 + 3 * (leo / 2 - 1) + 1))
    );
}

fn missing_or_damaged_indexes_are_rebuilt_identically<B: Backend>() {
    let (backend, config, leo) = closed_multi_segment_log::<B>();
    let storage = backend.storage();
    let original = Template::capture(&*storage);
    let indexes: Vec<String> = files_with(&*storage, ".index")
        .into_iter()
        .chain(files_with(&*storage, ".timeindex"))
        .collect();
    type Damage = fn(&dyn Storage, &str);
    let damages: [(&str, Damage); 4] = [
        ("deleted", |s, n| s.remove(n).expect("remove")),
        ("emptied", |s, n| cut(s, n, 0)),
        ("torn", |s, n| write_at_end(s, n, &[1, 2, 3])),
        ("garbage", |s, n| {
            let len = file_len(s, n);
            s.create(n)
                .expect("create")
                .append(&vec![0xee; len.max(24) as usize])
                .expect("write");
        }),
    ];
    for (what, damage) in damages {
        for name in &indexes {
            let backend: B = original.restore();
            let storage = backend.storage();
            damage(&*storage, name);
            let log = open(&backend, &config, true, T0);
            assert_lookups(&log, leo);
            let rebuilt = Template::capture(&*storage);
            assert_eq!(
                rebuilt.file(name),
                original.file(name),
                "{name} {what} was rebuilt identically"
            );
        }
    }
}

fn a_scrambled_index_never_misleads_lookups<B: Backend>() {
    let (backend, config, leo) = closed_multi_segment_log::<B>();
    let storage = backend.storage();
    let name = "00000000000000000000.index";
    let file = storage.open(name).expect("open");
    let mut entries = vec![0u8; file.len() as usize];
    file.read_exact_at(0, &mut entries).expect("read");
    assert!(entries.len() >= 16, "need two entries to swap");
    // Reverse the entries: first and last stay plausible, the middle lies.
    let mut reversed: Vec<u8> = entries.chunks(8).rev().flatten().copied().collect();
    let n = reversed.len();
    reversed[..8].copy_from_slice(&entries[..8]);
    reversed[n - 8..].copy_from_slice(&entries[entries.len() - 8..]);
    storage
        .create(name)
        .expect("create")
        .append(&reversed)
        .expect("write");
    let log = open(&backend, &config, true, T0);
    assert_lookups(&log, leo);
}

fn without_a_checkpoint_everything_is_recovered<B: Backend>() {
    let (backend, config, leo) = closed_multi_segment_log::<B>();
    let storage = backend.storage();
    storage
        .remove("gregor-log.checkpoint")
        .expect("remove checkpoint");
    let bases: Vec<String> = files_with(&*storage, ".log");
    // Corrupt the second segment's last byte: it and everything after go.
    let victim = &bases[1];
    let len = file_len(&*storage, victim);
    let file = storage.open(victim).expect("open");
    let mut last = [0u8; 1];
    file.read_exact_at(len - 1, &mut last).expect("read");
    drop(file);
    cut(&*storage, victim, len - 1);
    write_at_end(&*storage, victim, &[last[0] ^ 1]);
    let mut log = open(&backend, &config, false, T0);
    assert_eq!(files_with(&*storage, ".log"), bases[..2].to_vec());
    let base: i64 = victim.trim_end_matches(".log").parse().expect("base");
    let recovered_leo = log.log_end_offset();
    assert!(recovered_leo > base && recovered_leo < leo);
    assert_eq!(recovered_leo % 2, 0, "cut at a batch boundary");
    assert_recovers_to(
        &mut log,
        &(0..recovered_leo / 2)
            .map(|i| (2 * i, 2 * i + 1))
            .collect::<Vec<_>>(),
    );
}

fn damaged_snapshots_and_checkpoints_are_ignored<B: Backend>() {
    let backend = B::fresh();
    let mut log = open(&backend, &config(), true, T0);
    log.append(&plain(1, T0), 0, T0).expect("append");
    for seq in 0..4 {
        log.append(&encode(&Spec::idempotent(8, 1, seq, 1)), 0, T0)
            .expect("append");
    }
    let states = log.producer_states();
    log.close().expect("close");
    let storage = backend.storage();
    let snapshot = files_with(&*storage, ".snapshot").pop().expect("snapshot");
    write_at_end(&*storage, &snapshot, &[0]);
    storage
        .create("gregor-log.checkpoint")
        .expect("create")
        .append(b"1 3 5 deadbeef\n")
        .expect("write");
    let mut log = open(&backend, &config(), true, T0);
    assert_eq!(log.producer_states(), states);
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (0, 5),
        "an unreadable checkpoint keeps all data"
    );
    assert!(
        log.append(&encode(&Spec::idempotent(8, 1, 3, 1)), 0, T0)
            .expect("retry")
            .duplicate
    );
    // A snapshot past a truncated tail is discarded, not trusted.
    log.close().expect("close");
    cut(&*storage, ACTIVE_LOG, file_len(&*storage, ACTIVE_LOG) - 1);
    let log = open(&backend, &config(), false, T0);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.producer_states()[0].last_sequence(), 2);
    assert!(files_with(&*storage, ".snapshot")
        .iter()
        .all(|n| n.as_str() <= "00000000000000000004.snapshot"));
}

fn a_log_of_pure_garbage_opens_empty<B: Backend>() {
    let backend = B::fresh();
    let storage = backend.storage();
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    storage
        .create(ACTIVE_LOG)
        .expect("create")
        .append(&garbage)
        .expect("write");
    storage
        .create("00000000000000000000.index")
        .expect("create")
        .append(&garbage[..77])
        .expect("write");
    let mut log = open(&backend, &config(), false, T0);
    assert_recovers_to(&mut log, &[]);
    let clean = open(&B::fresh(), &config(), true, T0);
    assert_eq!(clean.log_end_offset(), 0);
}

mod arbitrary_contents {
    use super::*;
    use common::Mem;
    use gregor_protocol::batch::set_base_offset;
    use proptest::prelude::*;

    fn write(storage: &dyn Storage, name: &str, bytes: &[u8]) {
        storage
            .create(name)
            .expect("create")
            .append(bytes)
            .expect("write");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]
        /// Whatever the directory holds, open never panics, never fails on
        /// a single damaged segment, and keeps the valid prefix.
        #[test]
        fn any_directory_contents_open_without_panicking(
            tail in prop::collection::vec(any::<u8>(), 0..300),
            index in prop::collection::vec(any::<u8>(), 0..40),
            time_index in prop::collection::vec(any::<u8>(), 0..40),
            checkpoint in prop::collection::vec(any::<u8>(), 0..40),
            snapshot in prop::collection::vec(any::<u8>(), 0..60),
            valid_batches in 0usize..3,
            clean in any::<bool>(),
        ) {
            let backend = Mem::fresh();
            let storage = backend.storage();
            let mut data = Vec::new();
            for i in 0..valid_batches {
                let mut batch = plain(2, T0);
                set_base_offset(&mut batch, 2 * i as i64);
                data.extend_from_slice(&batch);
            }
            let valid_len = data.len();
            data.extend_from_slice(&tail);
            write(&*storage, ACTIVE_LOG, &data);
            write(&*storage, "00000000000000000000.index", &index);
            write(&*storage, "00000000000000000000.timeindex", &time_index);
            write(&*storage, "gregor-log.checkpoint", &checkpoint);
            write(&*storage, "00000000000000000000.snapshot", &snapshot);
            let mut log = Log::open_with_storage(storage.clone(), config(), clean, T0).expect("open");
            let leo = log.log_end_offset();
            prop_assert!(leo >= 2 * valid_batches as i64);
            prop_assert!(file_len(&*storage, ACTIVE_LOG) >= valid_len as u64);
            let all = read_all(&log);
            prop_assert_eq!(all.records.iter().map(|c| c.len() as u64).sum::<u64>(), log.size_bytes());
            prop_assert_eq!(log.append(&plain(1, T0), 0, T0).expect("append").base_offset, leo);
        }
    }
}
