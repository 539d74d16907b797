//! IncrementalAlterConfigs and AlterConfigs against a real broker state:
//! topic and dynamic broker configs reach the image, the live partitions
//! and DescribeConfigs, and survive a reopen.

use gregor_protocol::kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use gregor_protocol::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use gregor_protocol::kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use gregor_protocol::kafka_protocol::messages::{AlterConfigsRequest, DescribeConfigsRequest};

use super::*;
use crate::handlers::describe_configs::{self, DescribedConfig};
use crate::handlers::test_support::{ctx, encodes, open_broker, s};
use crate::handlers::{alter_configs, metadata};

fn resource(kind: i8, name: &str, ops: &[(&str, i8, Option<&str>)]) -> AlterConfigsResource {
    AlterConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(s(name))
        .with_configs(
            ops.iter()
                .map(|(k, op, v)| {
                    AlterableConfig::default()
                        .with_name(s(k))
                        .with_config_operation(*op)
                        .with_value(v.map(s))
                })
                .collect(),
        )
}

async fn alter_one(
    broker: &Arc<Broker>,
    r: AlterConfigsResource,
    validate_only: bool,
) -> (i16, String) {
    let req = IncrementalAlterConfigsRequest::default()
        .with_resources(vec![r])
        .with_validate_only(validate_only);
    let resp = handle(broker, &ctx(1), req).await;
    encodes(&resp, 1);
    let r = &resp.responses[0];
    let msg = r.error_message.as_deref().unwrap_or("").to_string();
    (r.error_code, msg)
}

fn describe(broker: &Arc<Broker>, kind: i8, name: &str, key: &str) -> DescribedConfig {
    let req = DescribeConfigsRequest::default()
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(s(name))
            .with_configuration_keys(Some(vec![s(key)]))])
        .with_include_synonyms(true)
        .with_include_documentation(true);
    let resp = describe_configs::handle(broker, &ctx(4), req);
    encodes(&resp, 4);
    let r = &resp.results[0];
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    DescribedConfig::from(r.configs.first().expect("config described"))
}

fn segment_bytes(broker: &Broker) -> u64 {
    let p = broker.replicas.get("t", 0).expect("partition t-0");
    p.with_log(|log| log.config().segment_bytes)
        .expect("log open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_and_broker_configs_change_live_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open_broker(dir.path(), &["log.retention.hours=100"]);
    metadata::auto_create_topic(&broker, "t").expect("topic t");

    // A cluster-wide dynamic default feeds the topic's effective config.
    let r = resource(
        RESOURCE_BROKER,
        "",
        &[("log.segment.bytes", 0, Some("2000000"))],
    );
    assert_eq!(alter_one(&broker, r, false).await.0, 0);
    assert_eq!(segment_bytes(&broker), 2_000_000);
    let d = describe(&broker, RESOURCE_TOPIC, "t", "segment.bytes");
    assert_eq!(d.value.as_deref(), Some("2000000"));
    assert_eq!(d.source, 3);
    assert_eq!(
        d.synonyms,
        vec![
            ("log.segment.bytes".into(), Some("2000000".into()), 3),
            ("log.segment.bytes".into(), Some("1073741824".into()), 5),
        ]
    );
    // The per-broker value wins over the cluster default.
    let r = resource(
        RESOURCE_BROKER,
        "1",
        &[("log.segment.bytes", 0, Some("3000000"))],
    );
    assert_eq!(alter_one(&broker, r, false).await.0, 0);
    assert_eq!(segment_bytes(&broker), 3_000_000);
    let d = describe(&broker, RESOURCE_BROKER, "1", "log.segment.bytes");
    assert_eq!(d.source, 2);
    assert!(!d.read_only);
    assert_eq!(d.synonyms.len(), 3, "{:?}", d.synonyms);
    // The topic override wins over both, and validate_only changes nothing.
    let r = resource(
        RESOURCE_TOPIC,
        "t",
        &[("segment.bytes", 0, Some("4000000"))],
    );
    assert_eq!(alter_one(&broker, r.clone(), true).await.0, 0);
    assert_eq!(segment_bytes(&broker), 3_000_000);
    assert_eq!(alter_one(&broker, r, false).await.0, 0);
    assert_eq!(segment_bytes(&broker), 4_000_000);
    let d = describe(&broker, RESOURCE_TOPIC, "t", "segment.bytes");
    assert_eq!(d.source, 1);
    assert_eq!(
        d.synonyms[0],
        ("segment.bytes".into(), Some("4000000".into()), 1)
    );
    assert!(d.documentation.is_some_and(|doc| !doc.is_empty()));
    // Static synonyms in Kafka's order: retention.ms comes from log.retention.hours.
    let d = describe(&broker, RESOURCE_BROKER, "1", "log.retention.hours");
    assert_eq!(d.source, 4);
    assert!(d.read_only, "log.retention.hours is not dynamic in Kafka");
    let d = describe(&broker, RESOURCE_TOPIC, "t", "retention.ms");
    assert_eq!(d.value.as_deref(), Some("360000000"));

    // Refusals: read-only key, unknown key, bad value, other broker id.
    let r = resource(RESOURCE_BROKER, "1", &[("node.id", 0, Some("2"))]);
    let (code, msg) = alter_one(&broker, r, false).await;
    assert_eq!(code, ResponseError::InvalidRequest.code());
    assert!(
        msg.contains("Cannot update these configs dynamically: Set(node.id)"),
        "{msg}"
    );
    let r = resource(RESOURCE_TOPIC, "t", &[("segment.bytes", 0, Some("10"))]);
    let (code, msg) = alter_one(&broker, r, false).await;
    assert_eq!(code, ResponseError::InvalidConfig.code());
    assert!(msg.contains("segment.bytes"), "{msg}");
    let r = resource(
        RESOURCE_TOPIC,
        "nope",
        &[("segment.bytes", 0, Some("2000000"))],
    );
    let (code, _) = alter_one(&broker, r, false).await;
    assert_eq!(code, ResponseError::UnknownTopicOrPartition.code());

    // Legacy AlterConfigs replaces the whole set: segment.bytes goes away.
    let req = AlterConfigsRequest::default().with_resources(vec![LegacyResource::default()
        .with_resource_type(RESOURCE_TOPIC)
        .with_resource_name(s("t"))
        .with_configs(vec![LegacyConfig::default()
            .with_name(s("retention.ms"))
            .with_value(Some(s("1234")))])]);
    let resp = alter_configs::handle(&broker, &ctx(1), req).await;
    encodes(&resp, 1);
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(segment_bytes(&broker), 3_000_000);
    let d = describe(&broker, RESOURCE_TOPIC, "t", "retention.ms");
    assert_eq!((d.value.as_deref(), d.source), (Some("1234"), 1));

    // Everything is metadata: a reopened broker sees the same configs.
    broker.close().unwrap();
    drop(broker);
    let broker = open_broker(dir.path(), &["log.retention.hours=100"]);
    assert_eq!(segment_bytes(&broker), 3_000_000);
    let d = describe(&broker, RESOURCE_BROKER, "", "log.segment.bytes");
    assert_eq!(d.value.as_deref(), Some("2000000"));
    assert_eq!(
        d.synonyms,
        vec![("log.segment.bytes".into(), Some("2000000".into()), 3)]
    );
    let d = describe(&broker, RESOURCE_TOPIC, "t", "retention.ms");
    assert_eq!(d.value.as_deref(), Some("1234"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_errors_and_sensitive_values() {
    let dir = tempfile::tempdir().unwrap();
    let broker = open_broker(dir.path(), &["ssl.keystore.password=secret"]);
    let d = describe(&broker, RESOURCE_BROKER, "1", "ssl.keystore.password");
    assert!(d.sensitive);
    assert_eq!(d.value, None);
    assert_eq!(d.synonyms, vec![("ssl.keystore.password".into(), None, 4)]);
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(s("missing")),
        DescribeConfigsResource::default()
            .with_resource_type(RESOURCE_BROKER)
            .with_resource_name(s("7")),
        DescribeConfigsResource::default()
            .with_resource_type(RESOURCE_BROKER)
            .with_resource_name(s("x")),
    ]);
    let resp = describe_configs::handle(&broker, &ctx(4), req);
    let codes: Vec<i16> = resp.results.iter().map(|r| r.error_code).collect();
    assert_eq!(
        codes,
        vec![
            ResponseError::UnknownTopicOrPartition.code(),
            ResponseError::InvalidRequest.code(),
            ResponseError::InvalidRequest.code(),
        ]
    );
    assert_eq!(
        resp.results[1].error_message.as_deref(),
        Some("Unexpected broker id, expected 1 or empty string, but received 7")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_configs_are_stored_and_described() {
    use crate::handlers::describe_configs::RESOURCE_GROUP;
    let dir = tempfile::tempdir().unwrap();
    let broker = open_broker(dir.path(), &[]);
    let d = describe(&broker, RESOURCE_GROUP, "g", "consumer.session.timeout.ms");
    assert_eq!((d.value.as_deref(), d.source), (Some("45000"), 5));
    let r = resource(
        RESOURCE_GROUP,
        "g",
        &[("consumer.session.timeout.ms", 0, Some("50000"))],
    );
    assert_eq!(alter_one(&broker, r, false).await.0, 0);
    let d = describe(&broker, RESOURCE_GROUP, "g", "consumer.session.timeout.ms");
    assert_eq!((d.value.as_deref(), d.source), (Some("50000"), 8));
    let r = resource(RESOURCE_GROUP, "g", &[("nope", 0, Some("1"))]);
    assert_eq!(
        alter_one(&broker, r, false).await.0,
        ResponseError::InvalidConfig.code()
    );
}
