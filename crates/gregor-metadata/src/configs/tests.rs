use std::collections::HashSet;

use super::*;

fn broker(name: &str) -> &'static ConfigDef {
    broker_config(name).unwrap_or_else(|| panic!("missing broker config {name}"))
}

fn topic(name: &str) -> &'static ConfigDef {
    &topic_config(name)
        .unwrap_or_else(|| panic!("missing topic config {name}"))
        .def
}

fn error(def: &ConfigDef, value: &str) -> String {
    validate(def, value)
        .expect_err("value should be rejected")
        .to_string()
}

#[test]
fn every_default_passes_its_own_validation() {
    let all = broker_configs()
        .iter()
        .chain(topic_configs().iter().map(|t| &t.def));
    for def in all {
        if let Some(d) = def.default {
            assert_eq!(validate(def, d), Ok(()), "default of {}", def.name);
        }
    }
}

#[test]
fn names_are_unique() {
    let mut seen = HashSet::new();
    assert!(
        broker_configs().iter().all(|d| seen.insert(d.name)),
        "duplicate broker config"
    );
    let mut seen = HashSet::new();
    assert!(
        topic_configs().iter().all(|t| seen.insert(t.def.name)),
        "duplicate topic config"
    );
}

#[test]
fn topic_table_is_sorted_like_kafka_docs() {
    let names: Vec<_> = topic_configs().iter().map(|t| t.def.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[test]
fn validators_fit_their_types() {
    let numeric = [
        ConfigType::Int,
        ConfigType::Short,
        ConfigType::Long,
        ConfigType::Double,
    ];
    let all = broker_configs()
        .iter()
        .chain(topic_configs().iter().map(|t| &t.def));
    for def in all {
        match def.validator {
            Validator::AtLeast(_) | Validator::Between(..) => {
                assert!(numeric.contains(&def.ty), "{}", def.name)
            }
            Validator::GzipLevel => assert_eq!(def.ty, ConfigType::Int, "{}", def.name),
            Validator::ListOf(_)
            | Validator::ThrottledReplicas
            | Validator::QuorumVoters
            | Validator::HostPorts => {
                assert_eq!(def.ty, ConfigType::List, "{}", def.name)
            }
            _ => {}
        }
    }
}

#[test]
fn covers_every_kafka_4_topic_config() {
    let expected = [
        "cleanup.policy",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.type",
        "compression.zstd.level",
        "delete.retention.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "index.interval.bytes",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "message.downconversion.enable",
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.type",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "remote.log.copy.disable",
        "remote.log.delete.on.disable",
        "remote.storage.enable",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.jitter.ms",
        "segment.ms",
        "unclean.leader.election.enable",
    ];
    let names: Vec<_> = topic_configs().iter().map(|t| t.def.name).collect();
    assert_eq!(names, expected);
    assert!(
        topic_config("message.format.version").is_none(),
        "removed in Kafka 4.0"
    );
}

#[test]
fn kafka_defaults_for_common_configs() {
    let cases = [
        ("log.segment.bytes", Some("1073741824")),
        ("log.roll.hours", Some("168")),
        ("log.roll.ms", None),
        ("log.index.interval.bytes", Some("4096")),
        ("log.flush.interval.messages", Some("9223372036854775807")),
        ("log.flush.interval.ms", None),
        (
            "log.flush.scheduler.interval.ms",
            Some("9223372036854775807"),
        ),
        ("message.max.bytes", Some("1048588")),
        ("socket.request.max.bytes", Some("104857600")),
        ("connections.max.idle.ms", Some("600000")),
        ("num.partitions", Some("1")),
        ("auto.create.topics.enable", Some("true")),
        ("log.retention.hours", Some("168")),
        ("log.retention.minutes", None),
        ("offsets.topic.replication.factor", Some("3")),
        ("transaction.max.timeout.ms", Some("900000")),
        ("group.initial.rebalance.delay.ms", Some("3000")),
    ];
    for (name, default) in cases {
        assert_eq!(broker(name).default, default, "{name}");
    }
    assert_eq!(topic("segment.ms").default, Some("604800000"));
    assert_eq!(topic("max.message.bytes").default, Some("1048588"));
    assert_eq!(topic("cleanup.policy").default, Some("delete"));
}

#[test]
fn synonym_chains_are_consistent() {
    for t in topic_configs() {
        assert_eq!(
            t.broker_synonym,
            t.synonyms.first().map(|s| s.name),
            "{}",
            t.def.name
        );
        for s in t.synonyms {
            assert!(
                broker_config(s.name).is_some(),
                "{} -> unknown broker key {}",
                t.def.name,
                s.name
            );
        }
        // The first synonym that has a default must reproduce the topic
        // default, or DescribeConfigs would disagree with itself.
        let from_broker = t
            .synonyms
            .iter()
            .find_map(|s| broker(s.name).default.map(|d| s.to_topic_value(d)));
        if let Some(value) = from_broker {
            assert_eq!(value.as_deref(), t.def.default, "{}", t.def.name);
        }
    }
}

#[test]
fn topic_synonyms_follow_kafka_precedence() {
    assert_eq!(
        topic_synonyms("retention.ms"),
        [
            "log.retention.ms",
            "log.retention.minutes",
            "log.retention.hours"
        ]
    );
    assert_eq!(
        topic_synonyms("segment.ms"),
        ["log.roll.ms", "log.roll.hours"]
    );
    assert_eq!(
        topic_synonyms("flush.ms"),
        ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"]
    );
    assert_eq!(topic_synonyms("max.message.bytes"), ["message.max.bytes"]);
    assert_eq!(topic_synonyms("segment.bytes"), ["log.segment.bytes"]);
    assert!(topic_synonyms("remote.storage.enable").is_empty());
    assert!(topic_synonyms("no.such.config").is_empty());
    assert_eq!(
        topic_config("segment.index.bytes").and_then(|t| t.broker_synonym),
        Some("log.index.size.max.bytes")
    );
}

#[test]
fn topic_for_broker_key_finds_the_topic_config() {
    let (t, s) = topic_for_broker_key("log.roll.hours").expect("synonym");
    assert_eq!((t.def.name, s.unit), ("segment.ms", SynonymUnit::Hours));
    assert!(topic_for_broker_key("num.partitions").is_none());
}

#[test]
fn synonym_values_convert_to_milliseconds() {
    let hours = Synonym {
        name: "log.roll.hours",
        unit: SynonymUnit::Hours,
    };
    let minutes = Synonym {
        name: "log.retention.minutes",
        unit: SynonymUnit::Minutes,
    };
    let same = Synonym {
        name: "log.segment.bytes",
        unit: SynonymUnit::Same,
    };
    assert_eq!(hours.to_topic_value("2").as_deref(), Some("7200000"));
    assert_eq!(minutes.to_topic_value("5").as_deref(), Some("300000"));
    assert_eq!(same.to_topic_value(" 1024 ").as_deref(), Some("1024"));
    assert_eq!(
        hours.to_topic_value("-5").as_deref(),
        Some("-1"),
        "negative retention means forever"
    );
    assert_eq!(hours.to_topic_value("x"), None);
}

#[test]
fn type_errors_are_worded_like_kafka() {
    assert_eq!(
        error(topic("segment.bytes"), "abc"),
        "Invalid value abc for configuration segment.bytes: Not a number of type INT"
    );
    assert_eq!(
        error(topic("segment.bytes"), "3000000000"),
        "Invalid value 3000000000 for configuration segment.bytes: Not a number of type INT"
    );
    assert!(error(broker("offsets.topic.replication.factor"), "40000")
        .ends_with("Not a number of type SHORT"));
    assert!(error(topic("retention.ms"), "1.5").ends_with("Not a number of type LONG"));
    assert!(
        error(topic("min.cleanable.dirty.ratio"), "half").ends_with("Not a number of type DOUBLE")
    );
    assert!(
        error(topic("preallocate"), "yes").ends_with("Expected value to be either true or false")
    );
    assert!(
        error(broker("create.topic.policy.class.name"), "not a class").contains("Java class name")
    );
}

#[test]
fn accepted_values_ignore_case_and_whitespace_like_kafka() {
    assert_eq!(validate(topic("preallocate"), "TRUE"), Ok(()));
    assert_eq!(validate(topic("segment.bytes"), " 1048576 "), Ok(()));
    assert_eq!(validate(topic("cleanup.policy"), "compact, delete"), Ok(()));
    assert_eq!(validate(topic("cleanup.policy"), ""), Ok(()));
    assert_eq!(
        validate(
            broker("alter.config.policy.class.name"),
            "com.example.Policy$Inner"
        ),
        Ok(())
    );
    assert_eq!(
        validate(broker("sasl.jaas.config"), "anything at all;"),
        Ok(())
    );
}

#[test]
fn range_validators() {
    assert_eq!(
        error(topic("segment.bytes"), "13"),
        "Invalid value 13 for configuration segment.bytes: Value must be at least 14"
    );
    assert_eq!(validate(topic("segment.bytes"), "20000"), Ok(()));
    assert_eq!(
        error(broker("log.segment.bytes"), "20000"),
        "Invalid value 20000 for configuration log.segment.bytes: Value must be at least 1048576"
    );
    assert!(error(topic("compression.lz4.level"), "18").ends_with("Value must be no more than 17"));
    assert!(error(topic("compression.lz4.level"), "0").ends_with("Value must be at least 1"));
    assert!(
        error(topic("min.cleanable.dirty.ratio"), "1.01").ends_with("Value must be no more than 1")
    );
    assert_eq!(validate(topic("min.cleanable.dirty.ratio"), "0.75"), Ok(()));
    assert_eq!(validate(topic("retention.ms"), "-1"), Ok(()));
    assert!(error(topic("retention.ms"), "-2").ends_with("Value must be at least -1"));
    assert_eq!(
        validate(topic("retention.bytes"), "-7"),
        Ok(()),
        "retention.bytes has no lower bound in Kafka"
    );
}

#[test]
fn string_and_list_validators() {
    assert_eq!(
        error(topic("compression.type"), "brotli"),
        "Invalid value brotli for configuration compression.type: \
         String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"
    );
    assert!(
        error(topic("message.timestamp.type"), "createtime").contains("CreateTime, LogAppendTime")
    );
    assert_eq!(
        error(topic("cleanup.policy"), "delete,compacted"),
        "Invalid value compacted for configuration cleanup.policy: String must be one of: compact, delete"
    );
    assert_eq!(
        validate(broker("group.consumer.migration.policy"), "UPGRADE"),
        Ok(())
    );
    assert!(
        error(broker("group.consumer.migration.policy"), "sideways").contains("case insensitive")
    );
    assert!(error(broker("process.roles"), "broker,gateway").starts_with("Invalid value gateway"));
}

#[test]
fn gzip_level_allows_minus_one_or_one_to_nine() {
    for ok in ["-1", "1", "9"] {
        assert_eq!(
            validate(topic("compression.gzip.level"), ok),
            Ok(()),
            "{ok}"
        );
    }
    for bad in ["0", "10", "-2"] {
        assert!(
            error(topic("compression.gzip.level"), bad).contains("between 1 and 9"),
            "{bad}"
        );
    }
}

#[test]
fn throttled_replicas_validator() {
    let def = topic("leader.replication.throttled.replicas");
    for ok in ["", "*", "0:1", "0:1, 1:2"] {
        assert_eq!(validate(def, ok), Ok(()), "{ok}");
    }
    for bad in ["*,0:1", "0-1", "a:1", "0:"] {
        assert!(error(def, bad).contains("partitionId:brokerId"), "{bad}");
    }
}

#[test]
fn quorum_voters_and_bootstrap_servers() {
    let voters = broker("controller.quorum.voters");
    assert_eq!(validate(voters, "1@localhost:9093,2@[::1]:9093"), Ok(()));
    assert_eq!(
        parse_voters("1@localhost:9093"),
        Ok(vec![Voter {
            id: 1,
            host: "localhost".into(),
            port: 9093
        }])
    );
    for bad in ["localhost:9093", "x@h:1", "1@h", "1@:9093", "-1@h:1"] {
        assert!(error(voters, bad).contains("{id}@{host}:{port}"), "{bad}");
    }
    let bootstrap = broker("controller.quorum.bootstrap.servers");
    assert_eq!(validate(bootstrap, "a:1, b:2"), Ok(()));
    assert!(error(bootstrap, "a").contains("host:port"));
}

#[test]
fn endpoints_parse_like_kafka() {
    let parsed =
        parse_endpoints("plaintext://:9092, SSL://[::1]:9093,INTERNAL://broker-1.example.com:0")
            .expect("valid");
    assert_eq!(
        parsed,
        vec![
            Endpoint {
                listener: "PLAINTEXT".into(),
                host: String::new(),
                port: 9092
            },
            Endpoint {
                listener: "SSL".into(),
                host: "::1".into(),
                port: 9093
            },
            Endpoint {
                listener: "INTERNAL".into(),
                host: "broker-1.example.com".into(),
                port: 0
            },
        ]
    );
    assert_eq!(parse_endpoints(""), Ok(vec![]));
    assert_eq!(
        parse_endpoints("localhost:9092"),
        Err("Unable to parse localhost:9092 to a broker endpoint".into())
    );
    assert!(parse_endpoints("PLAINTEXT://host:70000")
        .unwrap_err()
        .contains("not a port number"));
    assert!(parse_endpoints("PLAINTEXT://ho st:1").is_err());
    assert!(error(broker("listeners"), "PLAINTEXT://host")
        .starts_with("Invalid value PLAINTEXT://host for configuration listeners"));
}

#[test]
fn protocol_map_parses_and_rejects_unknown_protocols() {
    let map = parse_protocol_map("internal:plaintext, EXTERNAL:SASL_SSL").expect("valid");
    assert_eq!(
        map,
        vec![
            ("INTERNAL".to_string(), SecurityProtocol::Plaintext),
            ("EXTERNAL".to_string(), SecurityProtocol::SaslSsl)
        ]
    );
    let def = broker("listener.security.protocol.map");
    assert!(error(def, "INTERNAL:TLS").contains("TLS is not a security protocol"));
    assert!(error(def, "INTERNAL").contains("LISTENER_NAME:SECURITY_PROTOCOL"));
    assert!(error(def, "A:SSL,a:PLAINTEXT").contains("more than once"));
}

#[test]
fn passwords_are_sensitive_and_nothing_else_is() {
    for def in broker_configs() {
        assert_eq!(
            def.sensitive,
            def.ty == ConfigType::Password,
            "{}",
            def.name
        );
    }
    assert!(broker("ssl.keystore.password").sensitive);
    assert!(broker("sasl.jaas.config").sensitive);
    assert!(topic_configs().iter().all(|t| !t.def.sensitive));
}

#[test]
fn update_modes() {
    assert!(broker("node.id").is_read_only());
    assert!(broker("log.roll.hours").is_read_only());
    assert_eq!(broker("log.roll.ms").dynamic, DynamicScope::ClusterWide);
    assert_eq!(broker("listeners").dynamic, DynamicScope::PerBroker);
    assert!(topic_configs()
        .iter()
        .all(|t| t.def.dynamic == DynamicScope::PerTopic && !t.def.is_read_only()));
}

#[test]
fn wire_codes() {
    assert_eq!(ConfigType::Boolean.code(), 1);
    assert_eq!(ConfigType::Password.code(), 9);
    assert_eq!(ConfigSource::StaticBroker.code(), 4);
    assert_eq!(ConfigSource::Default.code(), 5);
    assert_eq!(SecurityProtocol::SaslSsl.id(), 3);
    assert_eq!(
        SecurityProtocol::from_name("sasl_plaintext"),
        Some(SecurityProtocol::SaslPlaintext)
    );
}

#[test]
fn removed_configs_have_reasons() {
    assert!(removed_broker_config("zookeeper.connect").is_some_and(|r| r.contains("ZooKeeper")));
    assert!(removed_broker_config("log.message.format.version").is_some());
    assert!(removed_broker_config("log.segment.bytes").is_none());
    for def in broker_configs() {
        assert!(
            removed_broker_config(def.name).is_none(),
            "{} is both known and removed",
            def.name
        );
    }
}

#[test]
fn list_and_bool_helpers() {
    assert_eq!(parse_list(" a , b,c "), ["a", "b", "c"]);
    assert_eq!(parse_list("a,,b"), ["a", "", "b"]);
    assert!(parse_list("  ").is_empty());
    assert_eq!(parse_bool(" False "), Some(false));
    assert_eq!(parse_bool("1"), None);
}
