//! The operator CLI run as a subprocess against a real broker, checked the
//! way a person reads it: exact stdout lines and exit codes, as Kafka's
//! kafka-topics.sh / kafka-console-producer.sh / kafka-console-consumer.sh /
//! kafka-get-offsets.sh would give them.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Each CLI invocation must finish within this (run under coreutils
/// `timeout`, so a hang fails the test instead of stalling it).
const CLI_TIMEOUT_S: u32 = 60;

struct Cli {
    bootstrap: String,
}

impl Cli {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", &CLI_TIMEOUT_S.to_string()])
            .arg(gregor_bin())
            .args(args)
            .args(["--bootstrap-server", &self.bootstrap])
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn gregor");
        if let Some(input) = stdin {
            let mut w = child.stdin.take().unwrap();
            w.write_all(input.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait gregor");
        assert_ne!(
            out.status.code(),
            Some(124),
            "gregor {args:?} timed out after {CLI_TIMEOUT_S}s"
        );
        out
    }

    /// Runs and requires exit status 0; returns stdout.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "gregor {args:?} exited {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8 stdout")
    }
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn topics_create_list_describe_alter_delete() {
    let broker = start_broker();
    let cli = Cli {
        bootstrap: broker.bootstrap(),
    };

    let out = cli.ok(
        &[
            "topics",
            "create",
            "--topic",
            "orders",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
        ],
        None,
    );
    assert_eq!(out, "Created topic orders.\n");
    let out = cli.ok(
        &[
            "topics",
            "create",
            "--topic",
            "audit",
            "--config",
            "retention.ms=12345",
        ],
        None,
    );
    assert_eq!(out, "Created topic audit.\n");

    let out = cli.ok(&["topics", "list", "--exclude-internal"], None);
    assert_eq!(lines(&out), ["audit", "orders"], "list output");

    let out = cli.ok(&["topics", "describe", "--topic", "orders"], None);
    let l = lines(&out);
    assert_eq!(l.len(), 4, "describe output:\n{out}");
    assert!(l[0].starts_with("Topic: orders\t"), "{}", l[0]);
    assert!(
        l[0].contains("\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: "),
        "{}",
        l[0]
    );
    for p in 0..3 {
        let want = format!("\tTopic: orders\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1");
        assert!(
            l[1 + p].starts_with(&want),
            "partition line {p}: {:?}",
            l[1 + p]
        );
    }
    let out = cli.ok(&["topics", "describe", "--topic", "audit"], None);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains("\tPartitionCount: 1\t"),
        "default num.partitions=1: {first}"
    );
    assert!(
        first.contains("retention.ms=12345"),
        "config override shown: {first}"
    );

    cli.ok(
        &["topics", "alter", "--topic", "orders", "--partitions", "5"],
        None,
    );
    let out = cli.ok(&["topics", "describe", "--topic", "orders"], None);
    assert!(out.contains("\tPartitionCount: 5\t"), "after alter:\n{out}");
    assert_eq!(out.lines().count(), 6, "after alter:\n{out}");

    cli.ok(&["topics", "delete", "--topic", "orders"], None);
    // Deletion is visible in metadata once the controller applied it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cli.ok(&["topics", "list", "--exclude-internal"], None);
        if lines(&out) == ["audit"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orders still listed 30 s after delete: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn create_existing_topic_fails_with_topic_already_exists() {
    let broker = start_broker();
    let cli = Cli {
        bootstrap: broker.bootstrap(),
    };
    cli.ok(
        &["topics", "create", "--topic", "dup", "--partitions", "1"],
        None,
    );
    let out = cli.run(
        &["topics", "create", "--topic", "dup", "--partitions", "1"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("TOPIC_ALREADY_EXISTS"), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = cli.ok(
        &["topics", "create", "--topic", "dup", "--if-not-exists"],
        None,
    );
    assert_eq!(out, "", "--if-not-exists is quiet");

    let out = cli.run(&["topics", "delete", "--topic", "never-created"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "stderr: {stderr}"
    );
}

#[test]
fn produce_with_keys_and_headers_then_consume_prints_them() {
    let broker = start_broker();
    let cli = Cli {
        bootstrap: broker.bootstrap(),
    };
    cli.ok(
        &["topics", "create", "--topic", "lines", "--partitions", "1"],
        None,
    );

    let input = "a:1,a:2\tk1:first value\n\
                 trace:xyz\tk2:second:with:colons\n\
                 x:\t:no key\n";
    let out = cli.ok(
        &[
            "produce",
            "--topic",
            "lines",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
            "--property",
            "parse.headers=true",
        ],
        Some(input),
    );
    assert_eq!(out, "", "produce prints nothing on success");

    let out = cli.ok(
        &[
            "consume",
            "--topic",
            "lines",
            "--from-beginning",
            "--max-messages",
            "3",
            "--property",
            "print.key=true",
            "--property",
            "print.offset=true",
            "--property",
            "print.headers=true",
        ],
        None,
    );
    assert_eq!(
        lines(&out),
        [
            "Offset:0\ta:1,a:2\tk1\tfirst value",
            "Offset:1\ttrace:xyz\tk2\tsecond:with:colons",
            "Offset:2\tx:\t\tno key",
        ]
    );

    let out = cli.ok(
        &[
            "consume",
            "--topic",
            "lines",
            "--from-beginning",
            "--max-messages",
            "2",
            "--property",
            "print.key=true",
            "--property",
            "key.separator= => ",
        ],
        None,
    );
    assert_eq!(
        lines(&out),
        ["k1 => first value", "k2 => second:with:colons"]
    );

    // Plain lines: no key, value is the whole line; print.key shows null.
    cli.ok(
        &["produce", "--topic", "lines"],
        Some("plain one\nplain two\n"),
    );
    let out = cli.ok(
        &[
            "consume",
            "--topic",
            "lines",
            "--partition",
            "0",
            "--offset",
            "3",
            "--max-messages",
            "2",
            "--property",
            "print.key=true",
        ],
        None,
    );
    assert_eq!(lines(&out), ["null\tplain one", "null\tplain two"]);
}

#[test]
fn offsets_prints_topic_partition_offset() {
    let broker = start_broker();
    let cli = Cli {
        bootstrap: broker.bootstrap(),
    };
    cli.ok(
        &[
            "topics",
            "create",
            "--topic",
            "counted",
            "--partitions",
            "2",
        ],
        None,
    );
    cli.ok(
        &["produce", "--topic", "counted", "--partition", "1"],
        Some("a\nb\nc\n"),
    );

    let out = cli.ok(&["offsets", "--topic", "counted"], None);
    assert_eq!(lines(&out), ["counted:0:0", "counted:1:3"]);
    let out = cli.ok(&["offsets", "--topic", "counted", "--time", "-2"], None);
    assert_eq!(lines(&out), ["counted:0:0", "counted:1:0"]);
    let out = cli.ok(
        &[
            "offsets",
            "--topic",
            "counted",
            "--partitions",
            "1",
            "--time",
            "latest",
        ],
        None,
    );
    assert_eq!(lines(&out), ["counted:1:3"]);

    // Records produced through the CLI are what a library client reads.
    let c = assigned_consumer(&broker.bootstrap(), "counted", 1, 0);
    let got: Vec<Vec<u8>> = consume_n(&c, 3, CLIENT_TIMEOUT)
        .iter()
        .map(|m| rdkafka::Message::payload(m).unwrap_or_default().to_vec())
        .collect();
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}
