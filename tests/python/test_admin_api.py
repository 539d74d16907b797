"""Admin API answers through confluent-kafka's AdminClient, checked as a
Kafka operator would read them: DescribeConfigs sources and defaults,
ListOffsets by timestamp and max timestamp, DeleteRecords, CreatePartitions,
IncrementalAlterConfigs, DescribeCluster and auto-created topics."""

import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

TIMEOUT_S = 15


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(a, name, partitions=1, config=None):
    fs = a.create_topics([NewTopic(name, partitions, 1, config=config or {})])
    fs[name].result(TIMEOUT_S)


def produce(broker, topic, values, timestamps=None, partition=0):
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i, v in enumerate(values):
        kw = {"timestamp": timestamps[i]} if timestamps else {}
        p.produce(topic, value=v, key=b"k%d" % i, partition=partition, **kw)
        p.flush(TIMEOUT_S)  # one batch each, so per-batch timestamps are distinct
    assert p.flush(TIMEOUT_S) == 0


def test_describe_configs_reports_values_sources_and_defaults(broker):
    a = admin(broker)
    create(a, "cfg", config={"retention.ms": "12345"})
    res = ConfigResource(ConfigResource.Type.TOPIC, "cfg")
    entries = a.describe_configs([res])[res].result(TIMEOUT_S)
    assert entries["retention.ms"].value == "12345"
    assert entries["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert entries["segment.bytes"].value == "1073741824"
    assert entries["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert entries["cleanup.policy"].value == "delete"
    assert len(entries) > 25, sorted(entries)

    broker_res = ConfigResource(ConfigResource.Type.BROKER, "1")
    b = a.describe_configs([broker_res])[broker_res].result(TIMEOUT_S)
    assert b["log.dirs"].source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert b["num.partitions"].value == "1"
    assert b["message.max.bytes"].value == "1048588"


def test_describe_configs_of_missing_topic_fails(broker):
    a = admin(broker)
    res = ConfigResource(ConfigResource.Type.TOPIC, "nope")
    with pytest.raises(KafkaException) as e:
        a.describe_configs([res])[res].result(TIMEOUT_S)
    assert "UNKNOWN_TOPIC_OR_PART" in str(e.value)


def test_incremental_alter_configs_set_append_delete(broker):
    a = admin(broker)
    create(a, "alter")
    res = ConfigResource(ConfigResource.Type.TOPIC, "alter", incremental_configs=[
        ConfigEntry("retention.ms", "999", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ])
    a.incremental_alter_configs([res])[res].result(TIMEOUT_S)
    desc = ConfigResource(ConfigResource.Type.TOPIC, "alter")
    entries = a.describe_configs([desc])[desc].result(TIMEOUT_S)
    assert entries["retention.ms"].value == "999"
    assert entries["cleanup.policy"].value == "delete,compact"

    bad = ConfigResource(ConfigResource.Type.TOPIC, "alter", incremental_configs=[
        ConfigEntry("segment.bytes", "not-a-number", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as e:
        a.incremental_alter_configs([bad])[bad].result(TIMEOUT_S)
    assert "segment.bytes" in str(e.value)


def test_list_offsets_earliest_latest_by_time_and_max_timestamp(broker):
    a = admin(broker)
    create(a, "times")
    base = int(time.time() * 1000) - 100_000
    stamps = [base + 10, base + 30, base + 20]
    produce(broker, "times", [b"a", b"b", b"c"], stamps)
    tp = TopicPartition("times", 0)

    def offset(spec):
        return a.list_offsets({tp: spec})[tp].result(TIMEOUT_S)

    assert offset(OffsetSpec.earliest()).offset == 0
    assert offset(OffsetSpec.latest()).offset == 3
    assert offset(OffsetSpec.for_timestamp(base + 15)).offset == 1
    assert offset(OffsetSpec.for_timestamp(base + 31)).offset == -1
    mx = offset(OffsetSpec.max_timestamp())
    assert (mx.offset, mx.timestamp) == (1, base + 30)


def test_delete_records_moves_log_start_and_consumers_see_it(broker):
    a = admin(broker)
    create(a, "del")
    produce(broker, "del", [b"%d" % i for i in range(5)])
    tp = TopicPartition("del", 0, 3)
    result = a.delete_records([tp])[tp].result(TIMEOUT_S)
    assert result.low_watermark == 3
    low = a.list_offsets({TopicPartition("del", 0): OffsetSpec.earliest()})
    assert low[TopicPartition("del", 0)].result(TIMEOUT_S).offset == 3

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition("del", 0, 0)])  # below the log start: reset to earliest
    got = []
    deadline = time.time() + TIMEOUT_S
    while len(got) < 2 and time.time() < deadline:
        m = c.poll(1)
        if m is not None and not m.error():
            got.append((m.offset(), m.value()))
    c.close()
    assert got == [(3, b"3"), (4, b"4")]


def test_create_partitions_and_describe_cluster(broker):
    a = admin(broker)
    create(a, "grow", partitions=2)
    a.create_partitions([NewPartitions("grow", 5)])["grow"].result(TIMEOUT_S)
    md = a.list_topics(timeout=TIMEOUT_S)
    assert len(md.topics["grow"].partitions) == 5
    with pytest.raises(KafkaException) as e:
        a.create_partitions([NewPartitions("grow", 3)])["grow"].result(TIMEOUT_S)
    assert "INVALID_PARTITIONS" in str(e.value)

    cluster = a.describe_cluster().result(TIMEOUT_S)
    assert [n.id for n in cluster.nodes] == [1]
    assert cluster.controller.id == 1
    assert cluster.cluster_id and len(cluster.cluster_id) == 22


def test_create_topics_validate_only_and_errors(broker):
    a = admin(broker)
    fs = a.create_topics([NewTopic("dry", 3, 1)], validate_only=True)
    fs["dry"].result(TIMEOUT_S)
    assert "dry" not in a.list_topics(timeout=TIMEOUT_S).topics
    create(a, "dup")
    for topic, expected in [(NewTopic("dup", 1, 1), "TOPIC_ALREADY_EXISTS"),
                            (NewTopic("bad name!", 1, 1), "TOPIC_EXCEPTION"),
                            (NewTopic("rf", 1, 3), "INVALID_REPLICATION_FACTOR"),
                            (NewTopic("cfg", 1, 1, config={"no.such": "1"}), "INVALID_CONFIG")]:
        with pytest.raises(KafkaException) as e:
            a.create_topics([topic])[topic.topic].result(TIMEOUT_S)
        assert expected in str(e.value), (topic.topic, str(e.value))


def test_elect_leaders_finds_nothing_to_elect_on_one_broker(broker):
    """ElectLeaders as Kafka answers it when the preferred replica already
    leads: ELECTION_NOT_NEEDED per named partition, unknown partitions
    refused, and an all-partitions request that lists nothing."""
    from confluent_kafka import ElectionType, KafkaError

    a = admin(broker)
    create(a, "elect", partitions=2)
    wanted = [TopicPartition("elect", 0), TopicPartition("elect", 1), TopicPartition("elect", 9)]
    result = a.elect_leaders(ElectionType.PREFERRED, wanted).result(TIMEOUT_S)
    codes = {(tp.topic, tp.partition): (err.code() if err else None) for tp, err in result.items()}
    assert codes == {
        ("elect", 0): KafkaError.ELECTION_NOT_NEEDED,
        ("elect", 1): KafkaError.ELECTION_NOT_NEEDED,
        ("elect", 9): KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
    unclean = a.elect_leaders(ElectionType.UNCLEAN, wanted[:1]).result(TIMEOUT_S)
    [(tp, err)] = unclean.items()
    assert err.code() == KafkaError.ELECTION_NOT_NEEDED
    assert a.elect_leaders(ElectionType.PREFERRED, None).result(TIMEOUT_S) == {}
