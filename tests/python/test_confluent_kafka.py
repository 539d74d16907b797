"""confluent-kafka (librdkafka) from Python against gregor: admin create and
metadata, produce with keys/headers (duplicate keys, null values)/codecs, and
an assigned consumer without a group."""

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMEOUT_S = 30


def create_topic(bootstrap, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                             operation_timeout=10)
    fs[name].result(timeout=TIMEOUT_S)
    md = admin.list_topics(topic=name, timeout=TIMEOUT_S)
    assert md.topics[name].error is None
    assert sorted(md.topics[name].partitions) == list(range(partitions))


def consume(bootstrap, topic, partition, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-assign-only",
                  "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
        out, errors = [], []
        deadline = time.monotonic() + TIMEOUT_S
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                errors.append(m.error())
                continue
            out.append(m)
        assert len(out) == n, f"read {len(out)} of {n}; errors {errors}"
        return out
    finally:
        c.close()


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_consume(broker, codec):
    topic = f"ck-{codec}"
    create_topic(broker.bootstrap, topic)
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec,
                  "enable.idempotence": True, "linger.ms": 10})
    reports = {}

    def on_delivery(err, msg, i):
        reports[i] = err or msg.offset()

    sent = []
    for i in range(150):
        key = None if i % 7 == 0 else f"k{i % 3}".encode()
        value = None if i % 11 == 0 else f"payload-{i}".encode() * (1 + i % 20)
        headers = [("h", b"1"), ("h", b"2"), ("null", None), ("empty", b"")] if i % 3 == 0 else None
        p.produce(topic, value=value, key=key, headers=headers, partition=0,
                  on_delivery=lambda err, msg, i=i: on_delivery(err, msg, i))
        sent.append((key, value, headers))
    assert p.flush(TIMEOUT_S) == 0
    assert reports == {i: i for i in range(150)}

    got = consume(broker.bootstrap, topic, 0, 150)
    for i, (m, (key, value, headers)) in enumerate(zip(got, sent)):
        assert m.offset() == i
        assert (m.key(), m.value(), m.headers()) == (key, value, headers), f"record {i}"
        kind, ts = m.timestamp()
        assert kind == 1 and ts > 0  # TIMESTAMP_CREATE_TIME


def test_metadata_lists_broker_and_topics(broker):
    create_topic(broker.bootstrap, "ck-meta", partitions=4)
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=TIMEOUT_S)
    assert [(b.host, b.port) for b in md.brokers.values()] == [("127.0.0.1", broker.port)]
    assert "ck-meta" in md.topics
    t = md.topics["ck-meta"]
    assert len(t.partitions) == 4
    for p in t.partitions.values():
        assert p.leader in md.brokers and p.replicas == [p.leader] and p.isrs == [p.leader]
