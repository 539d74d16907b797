"""Transactions (KIP-98) through confluent-kafka's transactional producer and
read_committed consumers, checked as an application would see them: committed
transactions visible, aborted ones never; the last stable offset (LSO) held
back by an open transaction; zombie fencing by transactional.id; the broker
aborting a transaction that outlives its timeout; transaction.max.timeout.ms;
consumer offsets committed through a transaction; and a kill -9 of the broker
with a committed and an open transaction.

Every assertion here holds against Apache Kafka; they are written to Kafka's
semantics, not to what gregor happens to do.
"""

import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from conftest import Broker

TIMEOUT_S = 30
# How long the broker may take to abort a timed-out transaction, on top of
# the transaction timeout itself: a few cleanup intervals and a restart.
ABORT_GRACE_S = 30
CLEANUP_INTERVAL_MS = 500
FENCING_ERRORS = {
    KafkaError._FENCED,
    KafkaError.PRODUCER_FENCED,
    KafkaError.INVALID_PRODUCER_EPOCH,
}
# librdkafka's defaults need three replicas for __transaction_state; a single
# broker must be allowed to host it (as on librdkafka's own test clusters).
TXN_OVERRIDES = [
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=4",
    f"transaction.abort.timed.out.transaction.cleanup.interval.ms={CLEANUP_INTERVAL_MS}",
    "group.initial.rebalance.delay.ms=0",
]


def txn_broker(tmp_path, request, extra=()):
    b = Broker(tmp_path, TXN_OVERRIDES + list(extra))
    b.start()
    request.addfinalizer(lambda: finish(b, request))
    return b


def finish(b, request):
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(b.log_tail())
    code = b.stop()
    assert code == 0, f"broker exit status after SIGTERM: {code}\n{b.log_tail()}"


@pytest.fixture
def tbroker(tmp_path, request):
    return txn_broker(tmp_path, request)


def admin(b):
    return AdminClient({"bootstrap.servers": b.bootstrap})


def create_topic(b, name, partitions):
    a = admin(b)  # the client must outlive its futures
    fs = a.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10)
    fs[name].result(TIMEOUT_S)


def txn_producer(b, txn_id, **extra):
    conf = {"bootstrap.servers": b.bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(TIMEOUT_S)
    return p


def produce_all(p, topic, keys, partitions):
    """Produces one record per key (value = key), spread over the partitions,
    and waits until every one is acknowledged."""
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(err)

    for i, k in enumerate(keys):
        p.produce(topic, key=k.encode(), value=k.encode(), partition=i % partitions,
                  on_delivery=report)
    assert p.flush(TIMEOUT_S) == 0
    assert errors == []


def end_offsets(b, topic, partitions, isolation):
    """Per partition: the high watermark (READ_UNCOMMITTED) or the last
    stable offset (READ_COMMITTED), from ListOffsets(latest)."""
    req = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)}
    a = admin(b)
    fs = a.list_offsets(req, isolation_level=isolation, request_timeout=TIMEOUT_S)
    return {tp.partition: f.result(TIMEOUT_S).offset for tp, f in fs.items()}


def read_to_end(b, topic, partitions, isolation):
    """Every record of `topic` an `isolation` consumer can see, as a list of
    keys: read from the beginning until each partition reports end-of-partition
    at (or beyond) the end offset ListOffsets gave for that isolation level."""
    level = "read_committed" if isolation == IsolationLevel.READ_COMMITTED else "read_uncommitted"
    ends = end_offsets(b, topic, partitions, isolation)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "txn-test-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": level})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        keys, at_end = [], {}
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if all(at_end.get(p, -1) >= ends[p] for p in range(partitions)):
                return keys
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end[m.partition()] = m.offset()
                    continue
                raise KafkaException(m.error())
            keys.append(m.key().decode())
            at_end.pop(m.partition(), None)
        raise AssertionError(f"{level} reader of {topic} did not reach {ends}: "
                             f"end-of-partition at {at_end}, {len(keys)} records")
    finally:
        c.close()


def wait_until(cond, what, timeout_s):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        ok, last = cond()
        if ok:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s} s; last seen: {last}")


def lso_reaches_hw(b, topic, partitions):
    def cond():
        hw = end_offsets(b, topic, partitions, IsolationLevel.READ_UNCOMMITTED)
        lso = end_offsets(b, topic, partitions, IsolationLevel.READ_COMMITTED)
        return lso == hw, {"lso": lso, "hw": hw}
    return cond


def is_fencing(err: KafkaError) -> bool:
    return err.code() in FENCING_ERRORS or (
        err.code() == KafkaError._FATAL and "fenc" in err.str().lower())


def test_committed_visible_aborted_invisible(tbroker):
    topic = "txn-visibility"
    create_topic(tbroker, topic, 3)
    p = txn_producer(tbroker, "txn-vis")
    a = [f"a{i}" for i in range(30)]
    bb = [f"b{i}" for i in range(30)]
    p.begin_transaction()
    produce_all(p, topic, a, 3)
    p.commit_transaction(TIMEOUT_S)
    p.begin_transaction()
    produce_all(p, topic, bb, 3)
    p.abort_transaction(TIMEOUT_S)

    committed = read_to_end(tbroker, topic, 3, IsolationLevel.READ_COMMITTED)
    assert sorted(committed) == sorted(a)
    uncommitted = read_to_end(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)
    assert sorted(uncommitted) == sorted(a + bb)
    # Both transactions ended: nothing holds the stable offset back, and each
    # partition holds 10 + 10 records and two markers.
    hw = end_offsets(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)
    assert hw == {0: 22, 1: 22, 2: 22}
    assert end_offsets(tbroker, topic, 3, IsolationLevel.READ_COMMITTED) == hw


def test_open_transaction_holds_back_the_last_stable_offset(tbroker):
    topic = "txn-lso"
    create_topic(tbroker, topic, 3)
    p = txn_producer(tbroker, "txn-lso")
    done = [f"done{i}" for i in range(9)]
    p.begin_transaction()
    produce_all(p, topic, done, 3)
    p.commit_transaction(TIMEOUT_S)
    committed_end = end_offsets(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)
    assert committed_end == {0: 4, 1: 4, 2: 4}  # 3 records and a marker each

    p.begin_transaction()
    pending = [f"open{i}" for i in range(9)]
    produce_all(p, topic, pending, 3)
    hw = end_offsets(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)
    lso = end_offsets(tbroker, topic, 3, IsolationLevel.READ_COMMITTED)
    assert hw == {0: 7, 1: 7, 2: 7}
    # The LSO is the first offset of the open transaction.
    assert lso == committed_end
    assert all(lso[q] < hw[q] for q in range(3))
    assert sorted(read_to_end(tbroker, topic, 3, IsolationLevel.READ_COMMITTED)) == sorted(done)
    assert sorted(read_to_end(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)) == \
        sorted(done + pending)

    p.commit_transaction(TIMEOUT_S)
    wait_until(lso_reaches_hw(tbroker, topic, 3), "LSO reaches the high watermark", TIMEOUT_S)
    assert sorted(read_to_end(tbroker, topic, 3, IsolationLevel.READ_COMMITTED)) == \
        sorted(done + pending)


def test_zombie_producer_is_fenced(tbroker):
    topic = "txn-fence"
    create_topic(tbroker, topic, 3)
    p1 = txn_producer(tbroker, "txn-fence-id")
    p1.begin_transaction()
    zombie = [f"zombie{i}" for i in range(6)]
    produce_all(p1, topic, zombie, 3)

    # A second instance with the same transactional.id fences the first and
    # aborts its open transaction.
    p2 = txn_producer(tbroker, "txn-fence-id")

    late = []
    try:
        p1.produce(topic, key=b"zombie-late", value=b"zombie-late", partition=0,
                   on_delivery=lambda err, msg: late.append(err))
        p1.flush(TIMEOUT_S)
    except (KafkaException, SystemError) as refused:
        # Already known to be fenced: confluent-kafka raises the fatal error
        # from produce, or from inside flush's delivery callback (which then
        # surfaces as a SystemError around the callback's own call).
        late.append(refused)
    with pytest.raises(KafkaException) as e:
        p1.commit_transaction(TIMEOUT_S)
    err = e.value.args[0]
    assert is_fencing(err), f"P1's commit failed with {err.name()} ({err.str()}), not a fencing error"
    assert err.fatal(), f"fencing must be fatal, got {err.name()}"
    assert late and late[0] is not None, f"P1's produce after fencing succeeded: {late}"

    p2.begin_transaction()
    fresh = [f"fresh{i}" for i in range(6)]
    produce_all(p2, topic, fresh, 3)
    p2.commit_transaction(TIMEOUT_S)

    wait_until(lso_reaches_hw(tbroker, topic, 3), "LSO reaches the high watermark", TIMEOUT_S)
    assert sorted(read_to_end(tbroker, topic, 3, IsolationLevel.READ_COMMITTED)) == sorted(fresh)


def test_timed_out_transaction_is_aborted_by_the_broker(tbroker):
    topic = "txn-timeout"
    create_topic(tbroker, topic, 3)
    timeout_ms = 3000
    p = txn_producer(tbroker, "txn-timeout-id", **{"transaction.timeout.ms": timeout_ms})
    p.begin_transaction()
    stalled = [f"stalled{i}" for i in range(6)]
    produce_all(p, topic, stalled, 3)
    hw = end_offsets(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)
    assert end_offsets(tbroker, topic, 3, IsolationLevel.READ_COMMITTED) == {0: 0, 1: 0, 2: 0}

    # The producer stalls; the coordinator aborts the transaction: abort
    # markers are written, so the LSO moves past the stalled records.
    lso = wait_until(lso_reaches_hw(tbroker, topic, 3),
                     "the broker aborts the timed-out transaction",
                     timeout_ms / 1000 + ABORT_GRACE_S)
    assert all(lso["hw"][q] > hw[q] for q in range(3)), f"no abort marker after {hw}: {lso}"
    assert read_to_end(tbroker, topic, 3, IsolationLevel.READ_COMMITTED) == []
    assert sorted(read_to_end(tbroker, topic, 3, IsolationLevel.READ_UNCOMMITTED)) == sorted(stalled)

    with pytest.raises(KafkaException):
        p.commit_transaction(TIMEOUT_S)
    assert read_to_end(tbroker, topic, 3, IsolationLevel.READ_COMMITTED) == []


def test_timeout_above_broker_maximum_is_refused(tmp_path, request):
    b = txn_broker(tmp_path, request, ["transaction.max.timeout.ms=5000"])
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "txn-too-long",
                  "transaction.timeout.ms": 60000})
    with pytest.raises(KafkaException) as e:
        p.init_transactions(TIMEOUT_S)
    err = e.value.args[0]
    assert err.code() == KafkaError.INVALID_TRANSACTION_TIMEOUT or \
        "INVALID_TRANSACTION_TIMEOUT" in err.str(), f"{err.name()}: {err.str()}"


def committed_offset(b, group, topic, partition):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        return c.committed([TopicPartition(topic, partition)], TIMEOUT_S)[0].offset
    finally:
        c.close()


def test_offsets_sent_to_transaction_commit_only_with_it(tbroker):
    src, dst, group = "txn-offsets-in", "txn-offsets-out", "txn-offsets-group"
    create_topic(tbroker, src, 1)
    create_topic(tbroker, dst, 1)
    plain = Producer({"bootstrap.servers": tbroker.bootstrap})
    for i in range(20):
        plain.produce(src, key=b"%d" % i, value=b"%d" % i, partition=0)
    assert plain.flush(TIMEOUT_S) == 0

    c = Consumer({"bootstrap.servers": tbroker.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        c.assign([TopicPartition(src, 0, OFFSET_BEGINNING)])
        p = txn_producer(tbroker, "txn-offsets-id")

        p.begin_transaction()
        produce_all(p, dst, ["x0", "x1"], 1)
        p.send_offsets_to_transaction([TopicPartition(src, 0, 5)],
                                      c.consumer_group_metadata(), TIMEOUT_S)
        p.abort_transaction(TIMEOUT_S)
        assert committed_offset(tbroker, group, src, 0) < 0, "offsets of an aborted txn committed"

        p.begin_transaction()
        produce_all(p, dst, ["y0", "y1"], 1)
        p.send_offsets_to_transaction([TopicPartition(src, 0, 7)],
                                      c.consumer_group_metadata(), TIMEOUT_S)
        p.commit_transaction(TIMEOUT_S)
        assert committed_offset(tbroker, group, src, 0) == 7

        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 0, 12)],
                                      c.consumer_group_metadata(), TIMEOUT_S)
        p.abort_transaction(TIMEOUT_S)
        assert committed_offset(tbroker, group, src, 0) == 7
    finally:
        c.close()
    assert read_to_end(tbroker, dst, 1, IsolationLevel.READ_COMMITTED) == ["y0", "y1"]


def test_committed_and_open_transactions_survive_kill9(tmp_path, request):
    b = txn_broker(tmp_path, request)
    topic = "txn-restart"
    create_topic(b, topic, 3)
    done = [f"done{i}" for i in range(9)]
    pa = txn_producer(b, "txn-restart-a")
    pa.begin_transaction()
    produce_all(pa, topic, done, 3)
    pa.commit_transaction(TIMEOUT_S)

    timeout_ms = 5000
    pb = txn_producer(b, "txn-restart-b", **{"transaction.timeout.ms": timeout_ms})
    pb.begin_transaction()
    hanging = [f"open{i}" for i in range(9)]
    produce_all(pb, topic, hanging, 3)

    b.proc.kill()
    b.proc.wait()
    b.start()

    # The open transaction's producer never comes back: after the restart
    # the coordinator must still time it out and abort it.
    wait_until(lso_reaches_hw(b, topic, 3), "the open transaction ends after the restart",
               timeout_ms / 1000 + ABORT_GRACE_S)
    assert sorted(read_to_end(b, topic, 3, IsolationLevel.READ_COMMITTED)) == sorted(done)
    assert sorted(read_to_end(b, topic, 3, IsolationLevel.READ_UNCOMMITTED)) == \
        sorted(done + hanging)
