"""A consume-transform-produce application with exactly-once semantics, the
loop confluent-kafka documents for transactions (KIP-98/KIP-447): a
read_committed consumer in a group, a transactional producer, and each batch
of output records committed in one transaction together with the input
offsets that produced them (send_offsets_to_transaction).

    python eos_app.py --bootstrap H:P --input IN --output OUT --group G \
        --transactional-id ID [--records-per-txn 500] [--txn-pause-ms 0]

Each input record is copied to the output with the same key and value.
Errors are handled as librdkafka prescribes:
  * retriable: retry the same call;
  * abortable (txn_requires_abort): abort, then rewind the consumer to the
    group's committed offsets, so the aborted batch is read again;
  * fatal (fenced, or the producer is unusable): drop the producer, create
    a new one with the same transactional.id (init_transactions fences the
    old epoch and aborts its open transaction), and rewind.
SIGTERM or SIGINT: abort an open transaction and exit 0. The test kills the
process with SIGKILL too; a new instance with the same transactional.id then
takes over. Progress goes to stdout, one line per few transactions.
"""

import argparse
import os
import signal
import sys
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

CALL_TIMEOUT_S = 10
# How long a call may keep failing with retriable errors (the broker being
# restarted, say) before the application gives up and exits 1.
RETRY_BUDGET_S = 120
POLL_TIMEOUT_S = 0.2

stopping = False


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def on_signal(_signo, _frame):
    global stopping
    stopping = True


class Fatal(Exception):
    """The producer must be replaced."""


class Abortable(Exception):
    """The transaction must be aborted and the batch redone."""


def retrying(what, call):
    """Runs `call` until it succeeds, retrying retriable errors; raises
    Abortable or Fatal for the others."""
    deadline = time.monotonic() + RETRY_BUDGET_S
    while True:
        try:
            return call()
        except KafkaException as e:
            err = e.args[0]
            if err.fatal():
                raise Fatal(f"{what}: {err.name()} {err.str()}") from e
            if err.txn_requires_abort():
                raise Abortable(f"{what}: {err.name()} {err.str()}") from e
            if not err.retriable() and err.code() != KafkaError._TIMED_OUT:
                raise Fatal(f"{what}: {err.name()} {err.str()} (not retriable)") from e
            if time.monotonic() > deadline:
                raise SystemExit(f"{what}: still failing after {RETRY_BUDGET_S} s: {err.str()}")
            log(f"{what}: {err.name()} (retrying)")
            time.sleep(0.2)


class App:
    def __init__(self, args):
        self.args = args
        self.producer = None
        self.in_txn = False
        self.pending = {}  # partition -> next input offset, for the open txn
        self.count = 0
        self.committed_records = 0
        self.txns = 0
        self.consumer = Consumer({
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 60000,
        })

    def new_producer(self):
        self.producer = None  # the old one, if any, is destroyed first
        conf = {
            "bootstrap.servers": self.args.bootstrap,
            # librdkafka >= 2.10 "re-bootstraps" when every broker is down
            # (KIP-899); with the single broker killed under it, the
            # producer then kept a decommissioned handle for the group
            # coordinator and send_offsets_to_transaction waited forever
            # (librdkafka 2.16.0, seen with this test). A one-broker
            # cluster has nothing to re-bootstrap to.
            "metadata.recovery.strategy": "none",
            "transactional.id": self.args.transactional_id,
            "transaction.timeout.ms": self.args.transaction_timeout_ms,
            "linger.ms": 5,
        }
        # EOS_APP_DEBUG=eos,protocol: librdkafka's debug log into the app log.
        if os.environ.get("EOS_APP_DEBUG"):
            conf["debug"] = os.environ["EOS_APP_DEBUG"]
        p = Producer(conf)
        deadline = time.monotonic() + RETRY_BUDGET_S
        while True:
            try:
                retrying("init_transactions", lambda: p.init_transactions(CALL_TIMEOUT_S))
                break
            except (Fatal, Abortable) as e:
                if time.monotonic() > deadline:
                    raise SystemExit(f"init_transactions kept failing: {e}")
                log(f"init_transactions: {e}; retrying")
                time.sleep(0.5)
        self.producer = p
        self.in_txn = False
        log("producer ready", self.args.transactional_id)

    def on_revoke(self, _consumer, partitions):
        # The offsets of an open transaction belong to partitions this
        # instance is losing: abort it, the new owner redoes the records.
        log(f"revoked {[p.partition for p in partitions]}")
        if self.in_txn:
            self.abort_and_rewind(rewind=False)

    def on_assign(self, _consumer, partitions):
        log(f"assigned {[p.partition for p in partitions]}")

    def rewind(self):
        """Positions every assigned partition at the group's committed offset
        (the start for partitions without one), dropping fetched records."""
        assignment = self.consumer.assignment()
        if not assignment:
            return
        committed = retrying("committed",
                             lambda: self.consumer.committed(assignment, CALL_TIMEOUT_S))
        for tp in committed:
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            try:
                self.consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
            except KafkaException as e:
                # Not fetching yet: assigning with an offset sets the position.
                log(f"seek {tp.partition}: {e.args[0].name()}; reassigning")
                self.consumer.assign([TopicPartition(t.topic, t.partition,
                                                     t.offset if t.offset >= 0 else OFFSET_BEGINNING)
                                      for t in committed])
                break
        log("rewound to", {tp.partition: tp.offset for tp in committed})

    def abort_and_rewind(self, rewind=True):
        try:
            retrying("abort_transaction", lambda: self.producer.abort_transaction(CALL_TIMEOUT_S))
        except (Fatal, Abortable) as e:
            log(f"abort failed ({e}); new producer")
            self.new_producer()
        self.in_txn = False
        self.pending.clear()
        self.count = 0
        if rewind:
            self.rewind()

    def commit(self):
        offsets = [TopicPartition(self.args.input, p, o) for p, o in sorted(self.pending.items())]
        meta = self.consumer.consumer_group_metadata()
        retrying("send_offsets_to_transaction",
                 lambda: self.producer.send_offsets_to_transaction(offsets, meta, CALL_TIMEOUT_S))
        retrying("commit_transaction", lambda: self.producer.commit_transaction(CALL_TIMEOUT_S))
        self.in_txn = False
        self.committed_records += self.count
        self.txns += 1
        if self.txns % 20 == 0:
            log(f"committed {self.txns} transactions, {self.committed_records} records"
                f" (this instance); offsets {dict(self.pending)}")
        self.pending.clear()
        self.count = 0

    def process(self, msgs):
        for m in msgs:
            if m.error():
                if m.error().fatal():
                    raise SystemExit(f"consumer: {m.error().str()}")
                log(f"consumer: {m.error().name()}")
                continue
            if not self.in_txn:
                self.producer.begin_transaction()
                self.in_txn = True
            while True:
                try:
                    self.producer.produce(self.args.output, key=m.key(), value=m.value())
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.pending[m.partition()] = m.offset() + 1
            self.count += 1
        self.producer.poll(0)

    def step(self):
        want = self.args.records_per_txn - self.count
        msgs = self.consumer.consume(num_messages=want, timeout=POLL_TIMEOUT_S)
        try:
            self.process(msgs)
            if self.in_txn and (self.count >= self.args.records_per_txn or not msgs):
                self.commit()
                if self.args.txn_pause_ms:
                    time.sleep(self.args.txn_pause_ms / 1000)
        except KafkaException as e:  # from begin_transaction or produce
            err = e.args[0]
            if err.txn_requires_abort() and not err.fatal():
                log(f"abortable: {err.name()}; aborting")
                self.abort_and_rewind()
            else:
                self.replace_producer(f"{err.name()} {err.str()}")
        except Abortable as e:
            log(f"abortable: {e}; aborting")
            self.abort_and_rewind()
        except Fatal as e:
            self.replace_producer(str(e))

    def replace_producer(self, why):
        log(f"fatal: {why}; new producer")
        self.new_producer()
        self.pending.clear()
        self.count = 0
        self.rewind()

    def run(self):
        self.new_producer()
        self.consumer.subscribe([self.args.input], on_assign=self.on_assign,
                                on_revoke=self.on_revoke)
        while not stopping:
            self.step()
        if self.in_txn:
            try:
                self.producer.abort_transaction(CALL_TIMEOUT_S)
            except KafkaException as e:
                log(f"abort at exit: {e}")
        self.consumer.close()
        log("stopped")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--transactional-id", required=True)
    ap.add_argument("--records-per-txn", type=int, default=500)
    ap.add_argument("--txn-pause-ms", type=int, default=0)
    ap.add_argument("--transaction-timeout-ms", type=int, default=10000)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    App(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
