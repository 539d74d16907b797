//! How many files a log holds open: one per segment (its `.log`), never its
//! index files, so a broker with ten thousand partitions stays within the
//! usual descriptor limits.

mod common;

use std::path::Path;

use common::{plain, T0};
use gregor_log::{Log, LogConfig};

/// Open descriptors of this process whose target lies under `dir`, by
/// file-name suffix.
fn open_under(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Ok(target) = std::fs::read_link(entry.expect("fd entry").path()) else {
            continue; // closed between the listing and the readlink
        };
        if target.starts_with(dir) {
            names.push(target.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names
}

#[test]
fn only_log_files_stay_open_across_appends_rolls_flushes_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch_bytes = plain(3, T0).len() as u64;
    let config = LogConfig {
        segment_bytes: batch_bytes * 12,
        index_interval_bytes: batch_bytes,
        ..LogConfig::default()
    };
    let path = dir.path().join("topic-0");
    let check = |log: &Log, when: &str| {
        let open = open_under(&path);
        assert!(
            open.iter().all(|n| n.ends_with(".log")),
            "{when}: only segment logs may stay open, found {open:?}"
        );
        assert_eq!(open.len(), log.segment_count(), "{when}: one per segment");
    };
    let mut log = Log::open(&path, config.clone(), true, T0).expect("open");
    for i in 0..40 {
        log.append(&plain(3, T0 + i), 0, T0).expect("append");
    }
    assert!(log.segment_count() > 3);
    // Rolls hand out flush jobs that open the sealed indexes to fsync them;
    // once run and dropped, nothing of theirs stays open.
    if let Some(job) = log.take_flush_job() {
        job.run().expect("fsync");
        log.flush_done(&job, Ok(())).expect("flush done");
    }
    check(&log, "after appends and rolls");
    log.flush().expect("flush");
    check(&log, "after a flush");
    let end = log.log_end_offset();
    drop(log); // unclean: the active segment's indexes are rebuilt
    let log = Log::open(&path, config.clone(), false, T0).expect("reopen");
    assert_eq!(log.log_end_offset(), end);
    check(&log, "after an unclean reopen");
    for offset in 0..end {
        let read = log.read(offset, 1, end, true).expect("read");
        assert!(!read.records.is_empty(), "offset {offset} is readable");
    }
    log.close().expect("close");
    let log = Log::open(&path, config, true, T0).expect("clean reopen");
    check(&log, "after a clean reopen");
}
