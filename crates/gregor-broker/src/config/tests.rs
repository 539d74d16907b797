use std::io::Write;

use super::properties::{self, Entry};
use super::sources::env_key;
use super::*;

fn load_with(
    env: &[(&str, &str)],
    overrides: &[&str],
) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let overrides: Vec<String> = overrides.iter().map(|o| o.to_string()).collect();
    BrokerConfig::load(None, &env, &overrides)
}

fn load(overrides: &[&str]) -> BrokerConfig {
    match load_with(&[], overrides) {
        Ok((config, _)) => config,
        Err(e) => panic!("config should load: {e}"),
    }
}

fn load_err(overrides: &[&str]) -> String {
    match load_with(&[], overrides) {
        Ok(_) => panic!("config {overrides:?} should be rejected"),
        Err(e) => e.to_string(),
    }
}

fn warnings(env: &[(&str, &str)], overrides: &[&str]) -> Vec<String> {
    match load_with(env, overrides) {
        Ok((_, warnings)) => warnings,
        Err(e) => panic!("config should load: {e}"),
    }
}

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write temp file");
    f
}

fn listener(name: &str, host: &str, port: u16, protocol: SecurityProtocol) -> Listener {
    Listener {
        name: name.into(),
        host: host.into(),
        port,
        security_protocol: protocol,
    }
}

fn entry(key: &str, value: &str, line: usize) -> Entry {
    Entry {
        key: key.into(),
        value: value.into(),
        line,
    }
}

// --- properties syntax ---

#[test]
fn properties_separators_comments_and_blank_lines() {
    let text = "# comment\n! also a comment\n\n  a=1\nb : 2\nc 3\nd\t=\t4  \ne=\n  f\n";
    let parsed = properties::parse(text).expect("valid");
    assert_eq!(
        parsed,
        vec![
            entry("a", "1", 4),
            entry("b", "2", 5),
            entry("c", "3", 6),
            entry("d", "4  ", 7),
            entry("e", "", 8),
            entry("f", "", 9)
        ]
    );
}

#[test]
fn properties_continuations_and_escapes() {
    let text = "list=a,\\\n    b,\\\r\n\tc\npath=C:\\\\dir\\\\\nk\\=x\\ y=v\\u0041\\t!\n# not continued \\\nnext=1\r\nlast=\\\n";
    let parsed = properties::parse(text).expect("valid");
    assert_eq!(
        parsed,
        vec![
            entry("list", "a,b,c", 1),
            entry("path", "C:\\dir\\", 4),
            entry("k=x y", "vA\t!", 5),
            entry("next", "1", 7),
            entry("last", "", 8),
        ]
    );
}

#[test]
fn properties_malformed_unicode_escape_names_the_line() {
    let err = properties::parse("a=1\nb=\\u12G4\n").expect_err("malformed");
    assert_eq!(err.line, 2);
    assert!(err.reason.contains("\\u12G4"), "{}", err.reason);
}

#[test]
fn properties_fall_back_to_latin1() {
    assert_eq!(properties::decode(b"a=caf\xe9"), "a=café");
    assert_eq!(properties::decode("a=café".as_bytes()), "a=café");
}

// --- layers and precedence ---

#[test]
fn defaults_make_a_working_single_node() {
    let (c, warnings) = load_with(&[], &[]).expect("defaults load");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(c.explicit().is_empty());
    assert_eq!(c.node_id, 1);
    assert_eq!(c.process_roles, ["broker", "controller"]);
    assert_eq!(c.log_dirs, [PathBuf::from("./gregor-data")]);
    assert_eq!(
        c.listeners,
        [listener(
            "PLAINTEXT",
            "0.0.0.0",
            9092,
            SecurityProtocol::Plaintext
        )]
    );
    assert_eq!(
        c.advertised_listeners,
        [listener(
            "PLAINTEXT",
            "127.0.0.1",
            9092,
            SecurityProtocol::Plaintext
        )]
    );
    assert_eq!(c.inter_broker_listener_name, "PLAINTEXT");
    assert!(c.auto_create_topics_enable && c.delete_topic_enable);
    assert_eq!((c.num_partitions, c.default_replication_factor), (1, 1));
    assert_eq!(c.log_segment_bytes, 1_073_741_824);
    assert_eq!(c.log_roll_ms, 168 * 3_600_000);
    assert_eq!(c.log_retention_ms, 168 * 3_600_000);
    assert_eq!(c.log_index_interval_bytes, 4096);
    assert_eq!(c.log_index_size_max_bytes, 10_485_760);
    assert_eq!(c.log_flush_interval_messages, i64::MAX as u64);
    assert_eq!(
        c.log_flush_interval_ms,
        i64::MAX,
        "falls back to log.flush.scheduler.interval.ms"
    );
    assert_eq!(c.message_max_bytes, 1_048_588);
    assert_eq!(c.socket_request_max_bytes, 104_857_600);
    assert_eq!(c.connections_max_idle_ms, 600_000);
    assert_eq!(c.log_message_timestamp_type, "CreateTime");
    assert_eq!(c.offsets_retention_ms, 10_080 * 60_000);
    assert_eq!(
        c.group_coordinator_rebalance_protocols,
        ["classic", "consumer"]
    );
}

#[test]
fn layers_apply_in_order_file_env_override() {
    let file = file_with("num.partitions=2\nlog.segment.bytes=2097152\nmessage.max.bytes=1000\n");
    let env = vec![
        (
            "GREGOR_LOG_SEGMENT_BYTES".to_string(),
            "3145728".to_string(),
        ),
        ("GREGOR_MESSAGE_MAX_BYTES".to_string(), "2000".to_string()),
    ];
    let overrides = vec!["message.max.bytes=3000".to_string()];
    let (c, _) = BrokerConfig::load(Some(file.path()), &env, &overrides).expect("loads");
    assert_eq!(c.num_partitions, 2, "file beats default");
    assert_eq!(c.log_segment_bytes, 3_145_728, "env beats file");
    assert_eq!(c.message_max_bytes, 3000, "override beats env");
    assert_eq!(c.source("num.partitions"), ConfigSource::StaticBroker);
    assert_eq!(c.source("num.io.threads"), ConfigSource::Default);
}

#[test]
fn later_duplicates_in_a_file_win() {
    let file = file_with("num.partitions=2\nnum.partitions=5\n");
    let (c, _) = BrokerConfig::load(Some(file.path()), &[], &[]).expect("loads");
    assert_eq!(c.num_partitions, 5);
}

#[test]
fn env_names_map_like_kafka_docker_images() {
    assert_eq!(
        env_key("GREGOR_LOG_DIRS"),
        Some(("GREGOR_", "log.dirs".to_string()))
    );
    assert_eq!(
        env_key("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"),
        Some(("KAFKA_", "listener.security.protocol.map".into()))
    );
    assert_eq!(
        env_key("KAFKA_A__B___C"),
        Some(("KAFKA_", "a_b-c".to_string()))
    );
    assert_eq!(env_key("KAFKA_"), None);
    assert_eq!(env_key("PATH"), None);
}

#[test]
fn gregor_env_beats_kafka_env_whatever_the_order() {
    let env = [
        ("GREGOR_NUM_PARTITIONS", "4"),
        ("KAFKA_NUM_PARTITIONS", "7"),
        ("KAFKA_NUM_IO_THREADS", "3"),
    ];
    let (c, _) = load_with(&env, &[]).expect("loads");
    assert_eq!(c.num_partitions, 4);
    assert_eq!(c.num_io_threads, 3, "KAFKA_ alone is honoured");
}

#[test]
fn env_noise_is_ignored_but_unknown_gregor_vars_warn() {
    let env = [
        ("KAFKA_HEAP_OPTS", "-Xmx1G"),
        ("KAFKA_ZOOKEEPER_CONNECT", "zk:2181"),
        ("HOME", "/root"),
    ];
    assert!(warnings(&env, &[]).is_empty());
    let w = warnings(
        &[
            ("GREGOR_NUM_PARTITONS", "3"),
            ("GREGOR_ZOOKEEPER_CONNECT", "zk:2181"),
        ],
        &[],
    );
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w
        .iter()
        .any(|w| w.contains("GREGOR_NUM_PARTITONS") && w.contains("not a known configuration")));
    assert!(w
        .iter()
        .any(|w| w.contains("GREGOR_ZOOKEEPER_CONNECT") && w.contains("ZooKeeper")));
}

#[test]
fn override_without_equals_is_an_error() {
    assert_eq!(
        load_err(&["num.partitions"]),
        "--override \"num.partitions\" must have the form key=value"
    );
    assert!(load_err(&["=3"]).contains("key=value"));
    let c = load(&["sasl.jaas.config=a=b; c=d"]);
    assert_eq!(
        c.value("sasl.jaas.config").as_deref(),
        Some("a=b; c=d"),
        "only the first = splits"
    );
}

// --- validation and warnings ---

#[test]
fn invalid_values_name_key_value_reason_and_origin() {
    let file = file_with("# settings\nlog.segment.bytes=abc\n");
    let err = BrokerConfig::load(Some(file.path()), &[], &[]).expect_err("invalid");
    assert_eq!(
        err.to_string(),
        format!(
            "Invalid value abc for configuration log.segment.bytes: Not a number of type INT (from line 2 of {})",
            file.path().display()
        )
    );
    let err = load_with(&[("GREGOR_AUTO_CREATE_TOPICS_ENABLE", "yes")], &[])
        .expect_err("invalid")
        .to_string();
    assert_eq!(
        err,
        "Invalid value yes for configuration auto.create.topics.enable: \
         Expected value to be either true or false (from environment variable GREGOR_AUTO_CREATE_TOPICS_ENABLE)"
    );
    assert_eq!(
        load_err(&["log.segment.bytes=1000"]),
        "Invalid value 1000 for configuration log.segment.bytes: Value must be at least 1048576 (from --override)"
    );
    assert!(load_err(&["log.cleanup.policy=delete,archive"])
        .starts_with("Invalid value archive for configuration log.cleanup.policy"));
    assert!(load_err(&["compression.type=brotli"]).contains("String must be one of"));
}

#[test]
fn secrets_never_appear_in_errors() {
    let def = configs::broker_config("ssl.keystore.password").expect("known");
    let error = configs::ConfigError::invalid("ssl.keystore.password", "hunter2", "too short");
    let hidden = hide_secret(def, "ssl.keystore.password", error).to_string();
    assert!(
        !hidden.contains("hunter2") && hidden.contains("[hidden]"),
        "{hidden}"
    );
}

#[test]
fn debug_output_hides_secrets() {
    let c = load(&[
        "ssl.keystore.password=hunter2",
        "listener.name.internal.ssl.key.password=swordfish",
        "num.partitions=2",
    ]);
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("swordfish"),
        "{debug}"
    );
    assert!(debug.contains("\"num.partitions\": \"2\""), "{debug}");
    assert_eq!(
        c.value("ssl.keystore.password").as_deref(),
        Some("hunter2"),
        "the broker itself can still read it"
    );
}

#[test]
fn unknown_and_removed_keys_warn_and_are_dropped() {
    let (c, w) = load_with(
        &[],
        &[
            "num.partitons=3",
            "zookeeper.connect=zk:2181",
            "log.message.format.version=2.8",
        ],
    )
    .expect("warnings only");
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w
        .iter()
        .any(|w| w == "unknown configuration num.partitons (--override) is ignored"));
    assert!(w
        .iter()
        .any(|w| w.starts_with("configuration zookeeper.connect (--override) is ignored: ")));
    assert!(w
        .iter()
        .any(|w| w.contains("log.message.format.version") && w.contains("message formats")));
    assert!(c.explicit().is_empty());
    assert_eq!(c.value("num.partitons"), None);
}

#[test]
fn per_listener_keys_are_accepted_and_validated() {
    let (c, w) = load_with(
        &[],
        &[
            "listener.name.internal.ssl.keystore.password=secret",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=x required;",
            "listener.name.internal.ssl.client.auth=required",
        ],
    )
    .expect("loads");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.explicit().len(), 3);
    assert!(
        load_err(&["listener.name.internal.ssl.client.auth=sometimes"])
            .contains("String must be one of")
    );
    assert_eq!(warnings(&[], &["listener.name.internal.bogus=1"]).len(), 1);
}

#[test]
fn missing_file_and_bad_syntax_are_errors() {
    let err = BrokerConfig::load(Some(Path::new("/nonexistent/gregor.properties")), &[], &[])
        .expect_err("missing");
    assert!(matches!(err, ConfigError::ReadFile { .. }));
    assert!(err
        .to_string()
        .starts_with("cannot read config file /nonexistent/gregor.properties: "));
    let file = file_with("a=1\nb=\\uZZZZ\n");
    let err = BrokerConfig::load(Some(file.path()), &[], &[]).expect_err("syntax");
    assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
}

#[test]
fn values_are_trimmed_like_kafka() {
    let file = file_with("num.partitions = 3   \nlog.dirs = /a , /b\n");
    let (c, _) = BrokerConfig::load(Some(file.path()), &[], &[]).expect("loads");
    assert_eq!(c.num_partitions, 3);
    assert_eq!(
        c.explicit().get("num.partitions").map(String::as_str),
        Some("3")
    );
    assert_eq!(c.log_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
}

// --- value, source and synonyms ---

#[test]
fn value_reports_explicit_then_default_then_null() {
    let c = load(&["log.segment.bytes=2097152"]);
    assert_eq!(c.value("log.segment.bytes").as_deref(), Some("2097152"));
    assert_eq!(c.source("log.segment.bytes"), ConfigSource::StaticBroker);
    assert_eq!(c.value("log.index.interval.bytes").as_deref(), Some("4096"));
    assert_eq!(c.value("log.roll.ms"), None, "Kafka reports null");
    assert_eq!(c.value("no.such.key"), None);
    assert_eq!(
        c.value("broker.id").as_deref(),
        Some("1"),
        "broker.id mirrors node.id"
    );
}

#[test]
fn roll_ms_beats_roll_hours() {
    let c = load(&["log.roll.hours=1"]);
    assert_eq!(c.log_roll_ms, 3_600_000);
    assert_eq!(
        c.topic_default("segment.ms"),
        Some(("3600000".to_string(), Some("log.roll.hours")))
    );
    let (c, w) = load_with(&[], &["log.roll.hours=1", "log.roll.ms=5000"]).expect("loads");
    assert_eq!(c.log_roll_ms, 5000);
    assert_eq!(
        c.topic_default("segment.ms"),
        Some(("5000".to_string(), Some("log.roll.ms")))
    );
    assert_eq!(
        w,
        ["log.roll.hours (--override) is ignored because log.roll.ms is set"]
    );
}

#[test]
fn retention_precedence_ms_then_minutes_then_hours() {
    assert_eq!(load(&["log.retention.hours=2"]).log_retention_ms, 7_200_000);
    assert_eq!(
        load(&["log.retention.hours=2", "log.retention.minutes=3"]).log_retention_ms,
        180_000
    );
    let c = load(&[
        "log.retention.hours=2",
        "log.retention.minutes=3",
        "log.retention.ms=99",
    ]);
    assert_eq!(c.log_retention_ms, 99);
    assert_eq!(
        c.topic_default("retention.ms"),
        Some(("99".to_string(), Some("log.retention.ms")))
    );
    assert_eq!(
        load(&["log.retention.hours=-1"]).log_retention_ms,
        -1,
        "negative means forever"
    );
    assert_eq!(load(&["log.retention.ms=-1"]).log_retention_ms, -1);
    let defaults = load(&[]);
    assert_eq!(
        defaults.topic_default("retention.ms"),
        Some(("604800000".to_string(), Some("log.retention.hours")))
    );
}

#[test]
fn flush_ms_falls_back_to_scheduler_interval() {
    let c = load(&["log.flush.scheduler.interval.ms=2000"]);
    assert_eq!(c.log_flush_interval_ms, 2000);
    assert_eq!(
        c.topic_default("flush.ms"),
        Some(("2000".to_string(), Some("log.flush.scheduler.interval.ms")))
    );
    let c = load(&[
        "log.flush.scheduler.interval.ms=2000",
        "log.flush.interval.ms=50",
    ]);
    assert_eq!(
        (c.log_flush_interval_ms, c.log_flush_scheduler_interval_ms),
        (50, 2000)
    );
}

#[test]
fn topic_defaults_come_from_broker_synonyms() {
    let c = load(&["message.max.bytes=5000", "log.cleanup.policy=compact"]);
    assert_eq!(
        c.topic_default("max.message.bytes"),
        Some(("5000".to_string(), Some("message.max.bytes")))
    );
    assert_eq!(
        c.topic_default("cleanup.policy"),
        Some(("compact".to_string(), Some("log.cleanup.policy")))
    );
    assert_eq!(
        c.topic_default("segment.bytes"),
        Some(("1073741824".to_string(), Some("log.segment.bytes")))
    );
    assert_eq!(
        c.topic_default("remote.storage.enable"),
        Some(("false".to_string(), None)),
        "no broker synonym"
    );
    assert_eq!(c.topic_default("no.such.topic.config"), None);
}

#[test]
fn derived_topic_defaults_are_validated() {
    let err = load_err(&["log.roll.ms=0"]);
    assert_eq!(
        err,
        "Invalid value 0 for configuration log.roll.ms: as the default of topic config segment.ms it is invalid: \
         Value must be at least 1 (from --override)"
    );
    assert!(load_err(&["log.retention.ms=-5"]).contains("retention.ms"));
}

#[test]
fn log_dirs_beat_log_dir() {
    assert_eq!(
        load(&["log.dir=/data/one"]).log_dirs,
        [PathBuf::from("/data/one")]
    );
    let (c, w) = load_with(&[], &["log.dir=/data/one", "log.dirs=/data/a,/data/b"]).expect("loads");
    assert_eq!(
        c.log_dirs,
        [PathBuf::from("/data/a"), PathBuf::from("/data/b")]
    );
    assert_eq!(
        w,
        ["log.dir (--override) is ignored because log.dirs is set"]
    );
    assert!(load_err(&["log.dirs=/a,/a"]).contains("/a is listed more than once"));
    assert!(load_err(&["log.dirs="]).contains("must not be empty"));
    assert!(load_err(&["log.dirs=/a,,/b"]).contains("must not be empty"));
}

// --- node id ---

#[test]
fn node_id_and_broker_id_are_synonyms() {
    assert_eq!(load(&["broker.id=7"]).node_id, 7);
    assert_eq!(load(&["node.id=3", "broker.id=3"]).node_id, 3);
    assert_eq!(load(&["node.id=3", "broker.id=-1"]).node_id, 3);
    assert_eq!(
        load(&["broker.id=7"]).value("node.id").as_deref(),
        Some("7")
    );
    assert_eq!(
        load_err(&["node.id=3", "broker.id=4"]),
        "Invalid value 4 for configuration broker.id: must be equal to node.id (3) when both are set (from --override)"
    );
    assert!(load_err(&["node.id=-2"]).contains("Value must be at least 0"));
}

// --- listeners ---

#[test]
fn named_listeners_need_a_protocol_mapping() {
    let c = load(&[
        "listeners=internal://:9093,EXTERNAL://[::1]:9094",
        "listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
        "inter.broker.listener.name=internal",
    ]);
    assert_eq!(
        c.listeners,
        [
            listener("INTERNAL", "", 9093, SecurityProtocol::Plaintext),
            listener("EXTERNAL", "::1", 9094, SecurityProtocol::SaslSsl)
        ]
    );
    assert_eq!(
        c.advertised_listeners,
        [
            listener("INTERNAL", "127.0.0.1", 9093, SecurityProtocol::Plaintext),
            listener("EXTERNAL", "::1", 9094, SecurityProtocol::SaslSsl)
        ]
    );
    assert_eq!(c.inter_broker_listener_name, "INTERNAL");
    assert_eq!(c.listeners[1].to_string(), "EXTERNAL://[::1]:9094");

    let err = load_err(&["listeners=FOO://:9092"]);
    assert!(err.starts_with("Invalid value FOO://:9092 for configuration listeners: No security protocol defined for listener FOO"), "{err}");
    // An explicit map replaces Kafka's default one entirely.
    let err = load_err(&["listener.security.protocol.map=INTERNAL:PLAINTEXT"]);
    assert!(
        err.contains("No security protocol defined for listener PLAINTEXT"),
        "{err}"
    );
}

#[test]
fn listener_syntax_and_clashes() {
    assert!(load_err(&["listeners=localhost:9092"])
        .contains("Unable to parse localhost:9092 to a broker endpoint"));
    assert!(load_err(&["listeners="]).contains("at least one listener"));
    assert!(load_err(&["listeners=PLAINTEXT://:9092,PLAINTEXT://:9093"])
        .contains("PLAINTEXT appears twice"));
    let ssl = "listeners=PLAINTEXT://:9092,SSL://:9092";
    assert!(load_err(&[ssl]).contains("same port 9092"));
    load(&["listeners=PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092"]);
    load(&["listeners=PLAINTEXT://:0,SSL://:0"]);
}

#[test]
fn advertised_listeners_rules() {
    let c = load(&[
        "listeners=PLAINTEXT://0.0.0.0:9092",
        "advertised.listeners=PLAINTEXT://broker1.example.com:19092",
    ]);
    assert_eq!(
        c.advertised_listeners,
        [listener(
            "PLAINTEXT",
            "broker1.example.com",
            19092,
            SecurityProtocol::Plaintext
        )]
    );
    assert_eq!(
        c.value("advertised.listeners").as_deref(),
        Some("PLAINTEXT://broker1.example.com:19092")
    );
    assert!(load_err(&["advertised.listeners=SSL://h:9093"])
        .contains("SSL is not one of the names in listeners"));
    assert!(load_err(&["advertised.listeners=PLAINTEXT://0.0.0.0:9092"]).contains("non-routable"));
    assert_eq!(
        load(&[]).value("advertised.listeners"),
        None,
        "derived, not explicit"
    );
}

#[test]
fn inter_broker_listener_rules() {
    let both = [
        "inter.broker.listener.name=PLAINTEXT",
        "security.inter.broker.protocol=PLAINTEXT",
    ];
    assert!(load_err(&both)
        .contains("only one of inter.broker.listener.name and security.inter.broker.protocol"));
    let err = load_err(&[
        "listeners=INTERNAL://:9092",
        "listener.security.protocol.map=INTERNAL:PLAINTEXT",
    ]);
    assert!(
        err.contains("must be one of the advertised listeners (INTERNAL)"),
        "{err}"
    );
    let c = load(&[
        "listeners=SSL://:9093",
        "security.inter.broker.protocol=SSL",
    ]);
    assert_eq!(c.inter_broker_listener_name, "SSL");
}

#[test]
fn controller_listeners() {
    let c = load(&[
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        "controller.listener.names=controller",
    ]);
    assert_eq!(c.controller_listener_names, ["CONTROLLER"]);
    assert_eq!(
        c.advertised_listeners.len(),
        1,
        "controller listeners are not advertised to clients"
    );
    assert!(load_err(&["controller.listener.names=CONTROLLER"])
        .contains("must also appear in listeners"));
    // With TLS in play Kafka no longer guesses PLAINTEXT for the controller.
    let secured = [
        "listeners=SSL://:9092,CONTROLLER://:9093",
        "controller.listener.names=CONTROLLER",
        "security.inter.broker.protocol=SSL",
    ];
    assert!(load_err(&secured).contains("No security protocol defined for listener CONTROLLER"));
    let broker_only = [
        "process.roles=broker",
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        "controller.listener.names=CONTROLLER",
    ];
    assert!(load_err(&broker_only).contains("must not appear in listeners on a broker-only node"));
    let err = load_err(&[
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=CONTROLLER",
    ]);
    assert!(err.contains("controller listener"), "{err}");
}

#[test]
fn quorum_voters_parse() {
    let c = load(&["controller.quorum.voters=1@localhost:9093"]);
    assert_eq!(
        c.controller_quorum_voters,
        [Voter {
            id: 1,
            host: "localhost".into(),
            port: 9093
        }]
    );
    assert!(load_err(&["controller.quorum.voters=localhost:9093"]).contains("{id}@{host}:{port}"));
}

// --- other checks ---

#[test]
fn process_roles_must_be_distinct_and_present() {
    assert_eq!(load(&["process.roles=broker"]).process_roles, ["broker"]);
    assert!(load_err(&["process.roles="]).contains("at least one of broker, controller"));
    assert!(load_err(&["process.roles=broker,broker"]).contains("broker is listed more than once"));
    assert!(
        load_err(&["process.roles=gateway"]).contains("String must be one of: broker, controller")
    );
}

#[test]
fn replication_factor_must_fit_kafka_limits() {
    assert!(load_err(&["default.replication.factor=0"]).contains("Value must be at least 1"));
    assert!(load_err(&["default.replication.factor=40000"]).contains("between -32768 and 32767"));
    assert_eq!(
        load(&["default.replication.factor=3"]).default_replication_factor,
        3
    );
}

#[test]
fn negative_idle_timeout_disables_idle_closing() {
    assert_eq!(
        load(&["connections.max.idle.ms=-1"]).connections_max_idle_ms,
        i64::MAX as u64
    );
}

#[test]
fn cross_key_relations() {
    let err = load_err(&[
        "log.cleaner.min.compaction.lag.ms=10",
        "log.cleaner.max.compaction.lag.ms=5",
    ]);
    assert!(err.contains("log.cleaner.max.compaction.lag.ms (5) must be greater than or equal to log.cleaner.min.compaction.lag.ms (10)"), "{err}");
    let err = load_err(&[
        "group.consumer.heartbeat.interval.ms=50000",
        "group.consumer.max.heartbeat.interval.ms=60000",
    ]);
    assert!(err.contains("group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms"), "{err}");
    assert!(load_err(&["group.consumer.session.timeout.ms=70000"])
        .contains("group.consumer.max.session.timeout.ms (60000)"));
}

#[test]
fn error_display_for_every_variant() {
    let read = ConfigError::ReadFile {
        path: "/x".into(),
        source: std::io::Error::other("boom"),
    };
    assert_eq!(read.to_string(), "cannot read config file /x: boom");
    let syntax = ConfigError::Syntax {
        path: "/x".into(),
        line: 3,
        reason: "bad".into(),
    };
    assert_eq!(syntax.to_string(), "config file /x, line 3: bad");
    let origin = Origin::Env("GREGOR_X".into());
    let invalid = ConfigError::Invalid {
        error: configs::ConfigError::invalid("k", "v", "why"),
        origin,
    };
    assert_eq!(
        invalid.to_string(),
        "Invalid value v for configuration k: why (from environment variable GREGOR_X)"
    );
}
