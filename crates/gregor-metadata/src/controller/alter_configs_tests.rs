use super::*;
use crate::controller::{create_topic, ClusterContext, NewTopic};

fn image_with(topic: &str) -> MetadataImage {
    let mut image = MetadataImage::default();
    let ctx = ClusterContext {
        broker_ids: vec![1],
        default_partitions: 1,
        default_replication_factor: 1,
    };
    let req = NewTopic {
        name: topic.into(),
        num_partitions: 1,
        replication_factor: 1,
        ..Default::default()
    };
    create_topic(&image, &ctx, &req)
        .unwrap()
        .records
        .iter()
        .for_each(|r| image.apply(r));
    image
}

fn changes(changes: &[(&str, AlterOp, Option<&str>)]) -> Vec<ConfigChange> {
    changes
        .iter()
        .map(|(k, o, v)| (k.to_string(), *o, v.map(str::to_string)))
        .collect()
}

fn apply(
    image: &mut MetadataImage,
    list: &[(&str, AlterOp, Option<&str>)],
) -> Result<(), ApiError> {
    alter_topic_configs(image, "t", &changes(list))?
        .iter()
        .for_each(|r| image.apply(r));
    Ok(())
}

fn apply_broker(
    image: &mut MetadataImage,
    name: &str,
    list: &[(&str, AlterOp, Option<&str>)],
) -> Result<(), ApiError> {
    alter_broker_configs(image, name, &changes(list))?
        .iter()
        .for_each(|r| image.apply(r));
    Ok(())
}

#[test]
fn set_append_subtract_delete() {
    let mut image = image_with("t");
    apply(
        &mut image,
        &[("cleanup.policy", AlterOp::Append, Some("compact"))],
    )
    .unwrap();
    assert_eq!(
        image.topic("t").unwrap().configs["cleanup.policy"],
        "delete,compact"
    );
    // Appending what is already there changes nothing.
    apply(
        &mut image,
        &[("cleanup.policy", AlterOp::Append, Some("delete"))],
    )
    .unwrap();
    assert_eq!(
        image.topic("t").unwrap().configs["cleanup.policy"],
        "delete,compact"
    );
    apply(
        &mut image,
        &[("cleanup.policy", AlterOp::Subtract, Some("delete"))],
    )
    .unwrap();
    assert_eq!(
        image.topic("t").unwrap().configs["cleanup.policy"],
        "compact"
    );
    apply(&mut image, &[("retention.ms", AlterOp::Set, Some("1000"))]).unwrap();
    assert_eq!(image.topic("t").unwrap().configs["retention.ms"], "1000");
    apply(&mut image, &[("retention.ms", AlterOp::Delete, None)]).unwrap();
    assert!(!image
        .topic("t")
        .unwrap()
        .configs
        .contains_key("retention.ms"));
}

#[test]
fn refuses_bad_topic_requests() {
    let mut image = image_with("t");
    let err = |r: Result<(), ApiError>| r.unwrap_err();
    let e = err(apply(&mut image, &[("nope", AlterOp::Set, Some("1"))]));
    assert_eq!(e.code, ResponseError::InvalidConfig);
    assert_eq!(e.message, "Unknown topic config name: nope");
    let e = err(apply(
        &mut image,
        &[("retention.ms", AlterOp::Set, Some("x"))],
    ));
    assert_eq!(e.code, ResponseError::InvalidConfig);
    assert!(e.message.contains("retention.ms"), "{}", e.message);
    let e = err(apply(
        &mut image,
        &[("retention.ms", AlterOp::Append, Some("1"))],
    ));
    assert_eq!(e.code, ResponseError::InvalidConfig);
    assert_eq!(
        e.message,
        "Config value append is not allowed for config key: retention.ms"
    );
    let e = err(apply(
        &mut image,
        &[("cleanup.policy", AlterOp::Append, Some("shred"))],
    ));
    assert_eq!(e.code, ResponseError::InvalidConfig);
    let e = err(apply(
        &mut image,
        &[
            ("retention.ms", AlterOp::Set, Some("1")),
            ("retention.ms", AlterOp::Delete, None),
        ],
    ));
    assert_eq!(e.code, ResponseError::InvalidRequest);
    let e = err(apply(&mut image, &[("retention.ms", AlterOp::Set, None)]));
    assert_eq!(e.code, ResponseError::InvalidRequest);
    assert_eq!(
        alter_topic_configs(&image, "missing", &[])
            .unwrap_err()
            .code,
        ResponseError::UnknownTopicOrPartition
    );
    // Nothing of the refused requests reached the image.
    assert!(image.topic("t").unwrap().configs.is_empty());
}

#[test]
fn dynamic_broker_configs_per_broker_and_cluster_default() {
    let mut image = MetadataImage::default();
    apply_broker(
        &mut image,
        "",
        &[("log.retention.ms", AlterOp::Set, Some("5000"))],
    )
    .unwrap();
    apply_broker(
        &mut image,
        "1",
        &[
            ("log.cleanup.policy", AlterOp::Append, Some("compact")),
            (
                "advertised.listeners",
                AlterOp::Set,
                Some("PLAINTEXT://h:1"),
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        image.broker_configs("").unwrap()["log.retention.ms"],
        "5000"
    );
    let b1 = image.broker_configs("1").unwrap();
    assert_eq!(b1["log.cleanup.policy"], "delete,compact");
    assert_eq!(b1["advertised.listeners"], "PLAINTEXT://h:1");
    apply_broker(
        &mut image,
        "1",
        &[("log.cleanup.policy", AlterOp::Subtract, Some("delete"))],
    )
    .unwrap();
    assert_eq!(
        image.broker_configs("1").unwrap()["log.cleanup.policy"],
        "compact"
    );
    apply_broker(
        &mut image,
        "",
        &[("log.retention.ms", AlterOp::Delete, None)],
    )
    .unwrap();
    assert!(image.broker_configs("").unwrap().is_empty());
}

#[test]
fn dynamic_broker_configs_refused() {
    let mut image = MetadataImage::default();
    let e = apply_broker(&mut image, "1", &[("log.dirs", AlterOp::Set, Some("/x"))]).unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidRequest);
    assert_eq!(
        e.message,
        "Invalid config value for resource ConfigResource(type=BROKER, name='1'): \
         Cannot update these configs dynamically: Set(log.dirs)"
    );
    let e = apply_broker(
        &mut image,
        "",
        &[(
            "advertised.listeners",
            AlterOp::Set,
            Some("PLAINTEXT://h:1"),
        )],
    )
    .unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidRequest);
    assert!(
        e.message
            .contains("Cannot update these configs at default cluster level"),
        "{}",
        e.message
    );
    let e = apply_broker(
        &mut image,
        "1",
        &[("log.retention.ms", AlterOp::Set, Some("soon"))],
    )
    .unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidConfig);
    assert!(e.message.contains("log.retention.ms"), "{}", e.message);
    let e = apply_broker(&mut image, "1", &[("no.such.key", AlterOp::Set, Some("1"))]).unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidConfig);
    let e = apply_broker(
        &mut image,
        "1",
        &[("message.max.bytes", AlterOp::Append, Some("1"))],
    )
    .unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidConfig);
    let e = apply_broker(&mut image, "one", &[]).unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidRequest);
    assert_eq!(e.message, "Broker id must be an integer, but it is: one");
    assert!(image.broker_configs("1").is_none_or(|c| c.is_empty()));
}

#[test]
fn legacy_alter_replaces_every_override() {
    let mut image = image_with("t");
    apply(
        &mut image,
        &[
            ("retention.ms", AlterOp::Set, Some("1000")),
            ("segment.bytes", AlterOp::Set, Some("2000000")),
        ],
    )
    .unwrap();
    let given = vec![("max.message.bytes".to_string(), Some("5000".to_string()))];
    replace_configs(&image, ConfigResource::Topic, "t", &given)
        .unwrap()
        .iter()
        .for_each(|r| image.apply(r));
    let configs = &image.topic("t").unwrap().configs;
    assert_eq!(configs.len(), 1, "{configs:?}");
    assert_eq!(configs["max.message.bytes"], "5000");

    let bad = vec![("segment.bytes".to_string(), Some("1".to_string()))];
    assert_eq!(
        replace_configs(&image, ConfigResource::Topic, "t", &bad)
            .unwrap_err()
            .code,
        ResponseError::InvalidConfig
    );
    let read_only = vec![("node.id".to_string(), Some("3".to_string()))];
    assert_eq!(
        replace_configs(&image, ConfigResource::Broker, "1", &read_only)
            .unwrap_err()
            .code,
        ResponseError::InvalidRequest
    );
    let broker = vec![("log.segment.bytes".to_string(), Some("2000000".to_string()))];
    replace_configs(&image, ConfigResource::Broker, "", &broker)
        .unwrap()
        .iter()
        .for_each(|r| image.apply(r));
    assert_eq!(
        image.broker_configs("").unwrap()["log.segment.bytes"],
        "2000000"
    );
    replace_configs(&image, ConfigResource::Broker, "", &[])
        .unwrap()
        .iter()
        .for_each(|r| image.apply(r));
    assert!(image.broker_configs("").unwrap().is_empty());
}

#[test]
fn group_configs_set_and_delete_for_any_group() {
    let limits = GroupConfigLimits::default();
    let mut image = MetadataImage::default();
    let set = changes(&[("consumer.session.timeout.ms", AlterOp::Set, Some("50000"))]);
    alter_group_configs(&image, "g", &set, &limits)
        .unwrap()
        .iter()
        .for_each(|r| image.apply(r));
    assert_eq!(
        image.group_configs("g").unwrap()["consumer.session.timeout.ms"],
        "50000"
    );
    let bad = changes(&[("consumer.session.timeout.ms", AlterOp::Set, Some("x"))]);
    assert_eq!(
        alter_group_configs(&image, "g", &bad, &limits)
            .unwrap_err()
            .code,
        ResponseError::InvalidConfig
    );
    let unknown = changes(&[("retention.ms", AlterOp::Set, Some("1"))]);
    assert_eq!(
        alter_group_configs(&image, "g", &unknown, &limits)
            .unwrap_err()
            .code,
        ResponseError::InvalidConfig
    );
    let delete = changes(&[("consumer.session.timeout.ms", AlterOp::Delete, None)]);
    alter_group_configs(&image, "g", &delete, &limits)
        .unwrap()
        .iter()
        .for_each(|r| image.apply(r));
    assert!(image.group_configs("g").unwrap().is_empty());
}

#[test]
fn group_configs_stay_within_the_brokers_bounds() {
    let limits = GroupConfigLimits::default();
    let image = MetadataImage::default();
    let refused = |key: &str, value: &str| {
        let set = changes(&[(key, AlterOp::Set, Some(value))]);
        let e = alter_group_configs(&image, "g", &set, &limits).unwrap_err();
        assert_eq!(e.code, ResponseError::InvalidConfig, "{key}={value}");
        e.message
    };
    assert_eq!(
        refused("consumer.heartbeat.interval.ms", "1"),
        "consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms"
    );
    assert_eq!(
        refused("consumer.session.timeout.ms", "60001"),
        "consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms"
    );
    assert_eq!(
        refused("share.record.lock.duration.ms", "1000"),
        "share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms"
    );
    // Wider bounds from the broker admit what the defaults refuse, but a
    // session timeout must still exceed the heartbeat interval.
    let wide = GroupConfigLimits {
        consumer_heartbeat_interval_ms: (1, 100_000),
        consumer_session_timeout_ms: (1, 100_000),
    };
    let fast = changes(&[("consumer.heartbeat.interval.ms", AlterOp::Set, Some("1"))]);
    assert!(alter_group_configs(&image, "g", &fast, &wide).is_ok());
    let inverted = changes(&[
        (
            "consumer.heartbeat.interval.ms",
            AlterOp::Set,
            Some("50000"),
        ),
        ("consumer.session.timeout.ms", AlterOp::Set, Some("50000")),
    ]);
    let e = alter_group_configs(&image, "g", &inverted, &wide).unwrap_err();
    assert_eq!(
        e.message,
        "consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms"
    );
}
