//! `gregor configs` and `gregor delete-records` run as subprocesses against
//! a real broker, checked line by line against what kafka-configs.sh and
//! kafka-delete-records.sh print.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

/// Each CLI invocation must finish within this (run under coreutils
/// `timeout`, so a hang fails the test instead of stalling it).
const CLI_TIMEOUT_S: u32 = 60;

fn run(bootstrap: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &CLI_TIMEOUT_S.to_string()])
        .arg(gregor_bin())
        .args(args)
        .args(["--bootstrap-server", bootstrap])
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
    assert_ne!(out.status.code(), Some(124), "gregor {args:?} timed out");
    out
}

fn ok(bootstrap: &str, args: &[&str]) -> String {
    let out = run(bootstrap, args, None);
    assert!(
        out.status.success(),
        "gregor {args:?} exited {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 stdout")
}

/// Runs a command that must fail with status 1; returns stderr.
fn fails(bootstrap: &str, args: &[&str]) -> String {
    let out = run(bootstrap, args, None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "gregor {args:?}: {stderr}");
    stderr
}

#[test]
fn configs_alter_and_describe_topics_and_brokers() {
    let mut broker = start_broker();
    let b = broker.bootstrap();
    ok(
        &b,
        &["topics", "create", "--topic", "c", "--partitions", "1"],
    );
    let topic = ["--entity-type", "topics", "--entity-name", "c"];
    let alter = |extra: &[&str]| {
        let args: Vec<&str> = ["configs", "alter"]
            .iter()
            .chain(topic.iter())
            .chain(extra.iter())
            .copied()
            .collect();
        ok(&b, &args)
    };
    let out = alter(&[
        "--add-config",
        "retention.ms=1000,cleanup.policy=[compact,delete]",
    ]);
    assert_eq!(out, "Completed updating config for topic c.\n");
    let describe_topic = |b: &str| {
        ok(
            b,
            &[
                "configs",
                "describe",
                "--entity-type",
                "topics",
                "--entity-name",
                "c",
            ],
        )
    };
    assert_eq!(
        describe_topic(&b),
        "Dynamic configs for topic c are:\n\
         \x20 cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}\n\
         \x20 retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}\n"
    );

    // The cluster-wide default, which librdkafka-based tools cannot name.
    let out = ok(
        &b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "brokers",
            "--entity-default",
            "--add-config",
            "log.segment.bytes=2097152",
        ],
    );
    assert_eq!(
        out,
        "Completed updating default config for brokers in the cluster.\n"
    );
    let default_lines = "Default configs for brokers in the cluster are:\n\
         \x20 log.segment.bytes=2097152 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=2097152}\n";
    let describe_default = |b: &str| {
        ok(
            b,
            &[
                "configs",
                "describe",
                "--entity-type",
                "brokers",
                "--entity-default",
            ],
        )
    };
    assert_eq!(describe_default(&b), default_lines);
    let all = ok(
        &b,
        &[
            "configs",
            "describe",
            "--all",
            "--entity-type",
            "topics",
            "--entity-name",
            "c",
        ],
    );
    assert!(all.starts_with("All configs for topic c are:\n"), "{all}");
    assert!(
        all.contains("\n  segment.bytes=2097152 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=2097152, DEFAULT_CONFIG:log.segment.bytes=1073741824}\n"),
        "{all}"
    );
    let brokers = ok(
        &b,
        &[
            "configs",
            "describe",
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
        ],
    );
    assert_eq!(brokers, "Dynamic configs for broker 1 are:\n");

    // Refusals carry Kafka's error name and the key.
    let e = fails(
        &b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "c",
            "--add-config",
            "segment.bytes=1",
        ],
    );
    assert!(
        e.contains("INVALID_CONFIG") && e.contains("segment.bytes"),
        "{e}"
    );
    let e = fails(
        &b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
            "--add-config",
            "log.dirs=/x",
        ],
    );
    assert!(
        e.contains("INVALID_REQUEST") && e.contains("Cannot update these configs dynamically"),
        "{e}"
    );
    let e = fails(
        &b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "topics",
            "--entity-name",
            "c",
            "--delete-config",
            "nope",
        ],
    );
    assert!(e.contains("Invalid config(s): nope"), "{e}");
    let e = fails(
        &b,
        &[
            "configs",
            "describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "missing",
        ],
    );
    assert!(e.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{e}");

    alter(&["--delete-config", "retention.ms"]);
    let after_delete = describe_topic(&b);
    assert!(!after_delete.contains("retention.ms"), "{after_delete}");

    // Dynamic configs are metadata records: a restart keeps them.
    broker.restart().expect("restart");
    let b = broker.bootstrap();
    assert_eq!(describe_topic(&b), after_delete);
    assert_eq!(describe_default(&b), default_lines);
}

#[test]
fn configs_alter_and_describe_groups() {
    let broker = start_broker();
    let b = broker.bootstrap();
    let group = ["--entity-type", "groups", "--entity-name", "g1"];
    let with = |verb: &str, target: &[&str], extra: &[&str]| -> Vec<String> {
        ["configs", verb]
            .iter()
            .chain(target.iter())
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let call = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&b, &refs)
    };
    // A group with configs only (no members, no offsets) still has them.
    let out = call(with(
        "alter",
        &group,
        &["--add-config", "consumer.session.timeout.ms=50000"],
    ));
    assert_eq!(out, "Completed updating config for group g1.\n");
    let described = call(with("describe", &group, &[]));
    assert_eq!(
        described,
        "Dynamic configs for group g1 are:\n\
         \x20 consumer.session.timeout.ms=50000 sensitive=false synonyms={DYNAMIC_GROUP_CONFIG:consumer.session.timeout.ms=50000, DEFAULT_CONFIG:consumer.session.timeout.ms=45000}\n"
    );
    // Without a name: every group that exists or has configs.
    let every = call(with("describe", &["--entity-type", "groups"], &[]));
    assert_eq!(every, described);
    let e = fails(
        &b,
        &[
            "configs",
            "describe",
            "--entity-type",
            "groups",
            "--entity-default",
        ],
    );
    assert!(e.contains("groups have no default entity"), "{e}");
    let e = fails(
        &b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "groups",
            "--entity-name",
            "g1",
            "--add-config",
            "consumer.heartbeat.interval.ms=1",
        ],
    );
    assert!(e.contains("INVALID_CONFIG"), "{e}");
    call(with(
        "alter",
        &group,
        &["--delete-config", "consumer.session.timeout.ms"],
    ));
    assert_eq!(
        call(with("describe", &group, &[])),
        "Dynamic configs for group g1 are:\n"
    );
    assert_eq!(
        call(with("describe", &["--entity-type", "groups"], &[])),
        ""
    );
}

#[test]
fn delete_records_moves_the_low_watermark() {
    let broker = start_broker();
    let b = broker.bootstrap();
    ok(
        &b,
        &["topics", "create", "--topic", "d", "--partitions", "1"],
    );
    let out = run(&b, &["produce", "--topic", "d"], Some("a\nb\nc\nd\ne\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("offsets.json");
    let write = |offset: i64| {
        let json = format!(
            r#"{{"partitions": [{{"topic": "d", "partition": 0, "offset": {offset}}}], "version": 1}}"#
        );
        std::fs::write(&file, json).unwrap();
    };
    let path = file.to_str().unwrap();
    write(3);
    let out = ok(&b, &["delete-records", "--offset-json-file", path]);
    assert_eq!(
        out,
        "Executing records delete operation\n\
         Records delete operation completed:\n\
         partition: d-0\tlow_watermark: 3\n"
    );
    write(-1);
    let out = ok(&b, &["delete-records", "--offset-json-file", path]);
    assert!(out.ends_with("partition: d-0\tlow_watermark: 5\n"), "{out}");
    write(99);
    let e = fails(&b, &["delete-records", "--offset-json-file", path]);
    assert!(e.contains("OFFSET_OUT_OF_RANGE"), "{e}");
}
