"""kafka-python (pure Python client) against gregor: admin create, produce
with keys/headers/codecs, a group-less consumer using assign +
seek_to_beginning reads back exactly what was produced, and the controller
mutation quota as a client with CreateTopics v7 meets it."""

import subprocess
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import ThrottlingQuotaExceededError

from conftest import gregor_bin

TIMEOUT_S = 30


def create_topic(bootstrap, name, partitions=1):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=10_000)
        assert name in admin.list_topics()
    finally:
        admin.close()


def read_partition(bootstrap, topic, partition, n):
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      request_timeout_ms=TIMEOUT_S * 1000 + 1000)
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek_to_beginning(tp)
        out = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(out) < n and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                out.extend(recs)
        assert len(out) == n, f"read {len(out)} of {n} records from {topic}/{partition}"
        # nothing beyond what was produced
        extra = [r for recs in c.poll(timeout_ms=500).values() for r in recs]
        assert extra == []
        return out
    finally:
        c.close()


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_produce_consume_keys_headers(broker, codec):
    topic = f"kp-{codec or 'none'}"
    create_topic(broker.bootstrap, topic)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, linger_ms=10,
                      acks="all")
    sent = []
    t0 = int(time.time() * 1000)
    for i in range(200):
        key = None if i % 10 == 3 else f"key-{i % 5}".encode()
        value = b"" if i % 10 == 5 else (f"value-{i}-" + "z" * (i % 40)).encode()
        headers = [("seq", str(i).encode()), ("dup", b"a"), ("dup", b"b")] if i % 2 == 0 else []
        ts = 1_700_000_000_000 + i if i % 4 == 0 else None
        fut = p.send(topic, key=key, value=value, headers=headers, partition=0, timestamp_ms=ts)
        sent.append((key, value, headers, ts, fut))
    p.send(topic, key=b"tombstone", value=None, partition=0)
    p.flush(timeout=TIMEOUT_S)
    offsets = [f.get(timeout=TIMEOUT_S).offset for (*_, f) in sent]
    assert offsets == list(range(200))
    t1 = int(time.time() * 1000)
    p.close()

    got = read_partition(broker.bootstrap, topic, 0, 201)
    for i, (r, (key, value, headers, ts, _)) in enumerate(zip(got, sent)):
        assert r.offset == i
        assert (r.key, r.value, list(r.headers)) == (key, value, headers), f"record {i}"
        if ts is not None:
            assert r.timestamp == ts
        else:
            assert t0 - 1000 <= r.timestamp <= t1 + 1000
    assert (got[200].key, got[200].value, got[200].offset) == (b"tombstone", None, 200)


def test_multi_partition_and_end_offsets(broker):
    topic = "kp-parts"
    create_topic(broker.bootstrap, topic, partitions=3)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks=1)
    for i in range(30):
        p.send(topic, value=f"v{i}".encode(), partition=i % 3)
    p.flush(timeout=TIMEOUT_S)
    p.close()
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    try:
        tps = [TopicPartition(topic, i) for i in range(3)]
        assert c.partitions_for_topic(topic) == {0, 1, 2}
        assert c.beginning_offsets(tps) == {tp: 0 for tp in tps}
        assert c.end_offsets(tps) == {tp: 10 for tp in tps}
    finally:
        c.close()
    for part in range(3):
        vals = [r.value for r in read_partition(broker.bootstrap, topic, part, 10)]
        assert vals == [f"v{i}".encode() for i in range(part, 30, 3)]


def test_group_consumer_subscribes_commits_and_a_successor_resumes(broker):
    """A kafka-python group member (JoinGroup/SyncGroup/Heartbeat/commit)
    reads every partition of a topic; after it commits and closes, a new
    member of the same group starts where it stopped."""
    topic, group = "kp-group", "kp-group-g"
    create_topic(broker.bootstrap, topic, partitions=3)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for i in range(30):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 3)
    producer.flush(TIMEOUT_S)

    def member():
        return KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=10_000, heartbeat_interval_ms=1_000,
                             request_timeout_ms=TIMEOUT_S * 1000 + 1000)

    def drain(c, n, window_s=TIMEOUT_S):
        got = []
        deadline = time.monotonic() + window_s
        while len(got) < n and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(recs)
        return got

    first = member()
    got = drain(first, 30)
    assert sorted(r.value for r in got) == sorted(b"v%d" % i for i in range(30))
    assert first.assignment() == {TopicPartition(topic, p) for p in range(3)}
    first.commit()
    committed = {p: first.committed(TopicPartition(topic, p)) for p in range(3)}
    assert committed == {0: 10, 1: 10, 2: 10}
    first.close()

    for i in range(30, 33):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 3)
    producer.flush(TIMEOUT_S)
    producer.close()
    second = member()
    try:
        got = drain(second, 3)
        assert sorted(r.value for r in got) == [b"v30", b"v31", b"v32"]
        assert drain(second, 1, window_s=2) == [], "records read again after the commit"
    finally:
        second.close()


def test_controller_mutation_quota_refuses_topics_over_the_rate(broker):
    # 1 partition per second for client id "ops": the bucket holds 11
    # (quota.window.num 11 x 1 s) and starts full.
    subprocess.run([gregor_bin(), "quotas", "alter", "--bootstrap-server", broker.bootstrap,
                    "--client", "ops", "--add-config", "controller_mutation_rate=1"],
                   check=True, capture_output=True, timeout=60)
    ops = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="ops",
                           request_timeout_ms=TIMEOUT_S * 1000)
    other = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="other",
                             request_timeout_ms=TIMEOUT_S * 1000)
    try:
        ops.create_topics([NewTopic("q1", 10, 1)], timeout_ms=10_000)
        # One token left: admitted, and the bucket goes to about -4.
        ops.create_topics([NewTopic("q2", 5, 1)], timeout_ms=10_000)
        # Below zero: CreateTopics v6+ refuses with THROTTLING_QUOTA_EXCEEDED,
        # and the response's throttle time pauses the client (KIP-219).
        with pytest.raises(ThrottlingQuotaExceededError):
            ops.create_topics([NewTopic("q3", 1, 1)], timeout_ms=10_000)
        # Another client id has no quota.
        other.create_topics([NewTopic("q4", 20, 1)], timeout_ms=10_000)
        topics = set(other.list_topics())
        assert {"q1", "q2", "q4"} <= topics and "q3" not in topics, topics
        # About 4 s later the bucket is back at zero: the next mutation is
        # admitted. Deleting q1 takes its 10 partitions...
        time.sleep(4.5)
        ops.delete_topics(["q1"], timeout_ms=10_000)
        assert "q1" not in set(other.list_topics())
        # ...so the bucket is below zero again and q3 is still refused.
        with pytest.raises(ThrottlingQuotaExceededError):
            ops.create_topics([NewTopic("q3", 1, 1)], timeout_ms=10_000)
    finally:
        ops.close()
        other.close()
