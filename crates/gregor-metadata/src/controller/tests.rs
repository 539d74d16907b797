use super::*;

fn ctx(brokers: &[i32]) -> ClusterContext {
    ClusterContext {
        broker_ids: brokers.to_vec(),
        default_partitions: 3,
        default_replication_factor: 1,
    }
}

fn create(
    image: &mut MetadataImage,
    ctx: &ClusterContext,
    req: NewTopic,
) -> Result<CreatedTopic, ApiError> {
    let created = create_topic(image, ctx, &req)?;
    for r in &created.records {
        image.apply(r);
    }
    Ok(created)
}

fn topic(name: &str, partitions: i32, rf: i16) -> NewTopic {
    NewTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        ..Default::default()
    }
}

#[test]
fn creates_topic_with_defaults_and_replays_into_image() {
    let mut image = MetadataImage::default();
    let c = create(&mut image, &ctx(&[1]), topic("orders", -1, -1)).unwrap();
    assert_eq!((c.num_partitions, c.replication_factor), (3, 1));
    let t = image.topic("orders").unwrap();
    assert_eq!(t.topic_id, c.topic_id);
    assert_eq!(
        t.partitions.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(t.partitions[&2].leader, 1);
    assert_eq!(image.topic_by_id(&c.topic_id).unwrap().name, "orders");
}

#[test]
fn refuses_duplicates_collisions_and_bad_names() {
    let mut image = MetadataImage::default();
    let ctx = ctx(&[1]);
    create(&mut image, &ctx, topic("a.b", 1, 1)).unwrap();
    assert_eq!(
        create(&mut image, &ctx, topic("a.b", 1, 1))
            .unwrap_err()
            .code,
        ResponseError::TopicAlreadyExists
    );
    assert_eq!(
        create(&mut image, &ctx, topic("a_b", 1, 1))
            .unwrap_err()
            .code,
        ResponseError::InvalidTopicException
    );
    for bad in ["", ".", "..", "a b", "ä", &"x".repeat(250)] {
        assert_eq!(
            create(&mut image, &ctx, topic(bad, 1, 1)).unwrap_err().code,
            ResponseError::InvalidTopicException,
            "{bad:?}"
        );
    }
    assert!(validate_topic_name(&"x".repeat(249)).is_ok());
}

#[test]
fn refuses_bad_partition_counts_and_replication_factors() {
    let mut image = MetadataImage::default();
    let ctx = ctx(&[1]);
    assert_eq!(
        create(&mut image, &ctx, topic("t", 0, 1)).unwrap_err().code,
        ResponseError::InvalidPartitions
    );
    assert_eq!(
        create(&mut image, &ctx, topic("t", -5, 1))
            .unwrap_err()
            .code,
        ResponseError::InvalidPartitions
    );
    let e = create(&mut image, &ctx, topic("t", 1, 3)).unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidReplicationFactor);
    assert!(e.message.contains("only 1 broker(s)"), "{}", e.message);
    assert_eq!(
        create(&mut image, &ctx, topic("t", 1, 0)).unwrap_err().code,
        ResponseError::InvalidReplicationFactor
    );
    assert!(image.topic("t").is_none());
}

#[test]
fn validates_manual_assignments() {
    let mut image = MetadataImage::default();
    let ctx = ctx(&[1, 2, 3]);
    let mut req = topic("m", -1, -1);
    req.assignments = vec![(1, vec![2, 3]), (0, vec![1, 2])];
    let c = create(&mut image, &ctx, req.clone()).unwrap();
    assert_eq!((c.num_partitions, c.replication_factor), (2, 2));
    assert_eq!(image.topic("m").unwrap().partitions[&1].leader, 2);
    for bad in [
        vec![(0, vec![1, 1])],
        vec![(0, vec![9])],
        vec![(1, vec![1])],
        vec![(0, vec![1]), (1, vec![1, 2])],
    ] {
        req.name = "n".into();
        req.assignments = bad.clone();
        assert_eq!(
            create(&mut image, &ctx, req.clone()).unwrap_err().code,
            ResponseError::InvalidReplicaAssignment,
            "{bad:?}"
        );
    }
    req.num_partitions = 2;
    assert_eq!(
        create(&mut image, &ctx, req).unwrap_err().code,
        ResponseError::InvalidRequest
    );
}

#[test]
fn validates_topic_configs() {
    let mut image = MetadataImage::default();
    let ctx = ctx(&[1]);
    let mut req = topic("c", 1, 1);
    req.configs = vec![("no.such.config".into(), Some("1".into()))];
    assert_eq!(
        create(&mut image, &ctx, req.clone()).unwrap_err().code,
        ResponseError::InvalidConfig
    );
    req.configs = vec![("segment.bytes".into(), Some("abc".into()))];
    let e = create(&mut image, &ctx, req.clone()).unwrap_err();
    assert_eq!(e.code, ResponseError::InvalidConfig);
    assert!(e.message.contains("segment.bytes"), "{}", e.message);
    req.configs = vec![("retention.ms".into(), Some("1000".into()))];
    create(&mut image, &ctx, req).unwrap();
    assert_eq!(image.topic("c").unwrap().configs["retention.ms"], "1000");
}

#[test]
fn grows_partitions_and_deletes_topics() {
    let mut image = MetadataImage::default();
    let ctx = ctx(&[1]);
    create(&mut image, &ctx, topic("g", 2, 1)).unwrap();
    assert_eq!(
        create_partitions(&image, &ctx, "g", 2, None)
            .unwrap_err()
            .code,
        ResponseError::InvalidPartitions
    );
    assert_eq!(
        create_partitions(&image, &ctx, "g", 1, None)
            .unwrap_err()
            .code,
        ResponseError::InvalidPartitions
    );
    assert_eq!(
        create_partitions(&image, &ctx, "nope", 3, None)
            .unwrap_err()
            .code,
        ResponseError::UnknownTopicOrPartition
    );
    assert_eq!(
        create_partitions(&image, &ctx, "g", 4, Some(&[vec![1]]))
            .unwrap_err()
            .code,
        ResponseError::InvalidReplicaAssignment
    );
    for r in create_partitions(&image, &ctx, "g", 4, None).unwrap() {
        image.apply(&r);
    }
    assert_eq!(image.topic("g").unwrap().partitions.len(), 4);
    for r in delete_topic(&image, "g").unwrap() {
        image.apply(&r);
    }
    assert!(image.topic("g").is_none());
    assert_eq!(
        delete_topic(&image, "g").unwrap_err().code,
        ResponseError::UnknownTopicOrPartition
    );
}

#[test]
fn producer_ids_are_handed_out_once() {
    let mut image = MetadataImage::default();
    let (records, first) = allocate_producer_ids(&image, 1000);
    records.iter().for_each(|r| image.apply(r));
    let (records2, second) = allocate_producer_ids(&image, 1000);
    records2.iter().for_each(|r| image.apply(r));
    assert_eq!((first, second, image.next_producer_id), (0, 1000, 2000));
}
