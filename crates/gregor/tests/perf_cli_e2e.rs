//! `gregor perf produce` and `gregor perf consume` (kafka-producer-perf-test
//! and kafka-consumer-perf-test) run as subprocesses against a real broker:
//! 1,000 records go in, the producer's summary reports all of them with
//! latency percentiles, and the consumer reads all 1,000 back and prints
//! Kafka's summary columns.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

const TOPIC: &str = "perf-cli";
const RECORDS: u64 = 1000;
const RECORD_BYTES: u64 = 100;
/// Each CLI invocation must finish within this.
const CLI_TIMEOUT_S: u32 = 120;

fn perf(bootstrap: &str, args: &[&str]) -> String {
    let out: Output = Command::new("timeout")
        .args(["-k", "5", &CLI_TIMEOUT_S.to_string()])
        .arg(gregor_bin())
        .arg("perf")
        .args(args)
        .args(["--bootstrap-server", bootstrap])
        .stdin(Stdio::null())
        .output()
        .expect("run gregor");
    assert!(
        out.status.success(),
        "gregor perf {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

#[test]
fn perf_produce_then_consume_report_every_record() {
    let broker = start_broker();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, TOPIC, 2);

    let produced = perf(
        &bootstrap,
        &[
            "produce",
            "--topic",
            TOPIC,
            "--num-records",
            &RECORDS.to_string(),
            "--record-size",
            &RECORD_BYTES.to_string(),
            "--throughput",
            "-1",
            "--acks",
            "all",
            "--print-interval-ms",
            "100",
        ],
    );
    let summary = produced.lines().last().expect("a summary line");
    assert!(
        summary.starts_with(&format!("{RECORDS} records sent, ")),
        "{produced}"
    );
    for part in [
        "records/sec (",
        "MB/sec), ",
        "ms avg latency, ",
        "ms max latency, ",
        "ms 50th, ",
        "ms 95th, ",
        "ms 99th, ",
    ] {
        assert!(summary.contains(part), "missing '{part}' in: {summary}");
    }
    assert!(summary.ends_with("ms 99.9th."), "{summary}");
    assert_eq!(
        watermarks(&bootstrap, TOPIC, 0).1 + watermarks(&bootstrap, TOPIC, 1).1,
        RECORDS as i64,
        "records on the broker"
    );

    let consumed = perf(
        &bootstrap,
        &[
            "consume",
            "--topic",
            TOPIC,
            "--messages",
            &RECORDS.to_string(),
            "--timeout-ms",
            "30000",
        ],
    );
    let mut lines = consumed.lines();
    let header: Vec<&str> = lines.next().expect("header").split(", ").collect();
    assert_eq!(
        header,
        [
            "start.time",
            "end.time",
            "data.consumed.in.MB",
            "MB.sec",
            "data.consumed.in.nMsg",
            "nMsg.sec",
            "rebalance.time.ms",
            "fetch.time.ms",
            "fetch.MB.sec",
            "fetch.nMsg.sec"
        ]
    );
    let row: Vec<&str> = lines.next().expect("data row").split(", ").collect();
    assert_eq!(row.len(), header.len(), "{consumed}");
    assert_eq!(row[4], RECORDS.to_string(), "nMsg in: {consumed}");
    let mb: f64 = row[2].parse().expect("data.consumed.in.MB");
    let want_mb = (RECORDS * RECORD_BYTES) as f64 / (1024.0 * 1024.0);
    assert!((mb - want_mb).abs() < 0.0001, "{mb} MB, want {want_mb}");
}
