#!/usr/bin/env python3
"""Gregor's scale benchmark (issue 4, "Scale"); run through
`bench/run.sh --scale`, which builds the release binary first. Standard
library only. Every broker is started by this script on a fresh data dir and
a free loopback port, and stopped by its PID.

Three phases, each on its own broker:

  partitions   TOPICS x PER_TOPIC partitions made with CreateTopics (one
               request per topic, one connection); a Metadata request for all
               topics (latency, response size); idle RSS, threads and open
               files; then restarts after SIGTERM and after kill -9, timed
               from the process start to the first Metadata response that
               lists every partition.
  connections  N TCP connections, each sends one ApiVersions v3 and reads the
               answer, then stays open and idle; the broker's RSS, threads and
               CPU before and after, and the latency of ApiVersions and
               Metadata on one more, fresh connection.
  restart      1,000 partitions filled with --scale-gb GB of 1,024-byte
               records by rdkafka_performance, then kill -9 while idle and a
               restart on the same data dir, timed until Metadata lists every
               partition and a Fetch of partition 0 from offset 0 returns a
               record batch. Each of kill -9 and SIGTERM is timed twice: with
               the page cache warm (a process crash), and with the data dir's
               files written back and evicted from it (posix_fadvise
               DONTNEED on our files only, so the machine's other users keep
               their cache), as after a reboot. For the second kill -9 the
               files recovery rewrote (checkpoints, indexes, snapshots; not
               the .log files, checked by size) are put back as the first
               kill -9 left them, so it recovers the same data. Before and
               after each restart ListOffsets(latest) for every partition
               must agree, so a restart that loses records fails the phase.

Requests are written in the Kafka wire protocol by hand (ApiVersions v3,
Metadata v1, CreateTopics v2, ListOffsets v1, Fetch v4): a client library
would add its own bootstrap and retry time to every latency measured here.

The results replace the `## Scale` section of --out (from that heading to
the next `## ` heading or the end), leaving the rest of the file as it is.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

CLIENT_ID = b"gregor-scale"
RECORD_SIZE = 1024
BROKER_READY_TIMEOUT_S = 600  # a restart slower than this has hung
BROKER_STOP_TIMEOUT_S = 120  # closing 10,000 logs is allowed to take a while
REQUEST_TIMEOUT_S = 120
FILL_TIMEOUT_S = 3600
# tokio's blocking-pool threads exit after 10 s without work; idle RSS and
# thread counts are read after that, so they show what an idle broker keeps.
IDLE_SETTLE_S = 12
METADATA_REPS = 7
# Open files left for connections, the metadata log and temporary files when
# working out how many partitions fit in the broker's open-file limit.
OPEN_FILES_SPARE = 500
LATENCY_REPS = 7
RETRY_SLEEP_S = 0.005
# Disk needed for the restart phase beyond the records themselves: batch
# and record overhead, indexes, and room left for the machine's other users.
DISK_HEADROOM_FACTOR = 1.15
DISK_SPARE_BYTES = 2 << 30

# The partition whose first batch the restart phase fetches to call the broker ready.
FETCH_PARTITION = 0

API_FETCH, API_LIST_OFFSETS, API_METADATA, API_API_VERSIONS, API_CREATE_TOPICS = 1, 2, 3, 18, 19


class Sizes:
    """How big each phase is: the issue's numbers, or --quick's small ones."""

    def __init__(self, quick, scale_gb):
        self.quick = quick
        self.reps = 1 if quick else 3
        self.topics, self.per_topic = (10, 100) if quick else (100, 100)
        self.connections = 100 if quick else 1000
        self.restart_partitions = 1000
        self.scale_gb = scale_gb if scale_gb is not None else (0.5 if quick else 10.0)


def log(msg):
    print(f"[scale] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- Kafka wire protocol -------------------------------------------------


def kstring(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">h", len(b)) + b


def uvarint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


class Reader:
    """Big-endian reads over one response body."""

    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def _unpack(self, fmt, size):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return v

    def i8(self):
        return self._unpack(">b", 1)

    def i16(self):
        return self._unpack(">h", 2)

    def i32(self):
        return self._unpack(">i", 4)

    def i64(self):
        return self._unpack(">q", 8)

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = bytes(self.buf[self.pos:self.pos + n]).decode()
        self.pos += n
        return s

    def bytes_(self):
        n = self.i32()
        if n < 0:
            return None
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def array(self, item):
        n = self.i32()
        return [] if n < 0 else [item() for _ in range(n)]


class KafkaError(RuntimeError):
    pass


class Wire:
    """One blocking connection; requests go one at a time."""

    def __init__(self, port, timeout=REQUEST_TIMEOUT_S):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.correlation = 0

    def close(self):
        self.sock.close()

    def send(self, api_key, version, body, flexible=False):
        self.correlation += 1
        header = struct.pack(">hhi", api_key, version, self.correlation) + kstring(CLIENT_ID)
        if flexible:
            header += b"\x00"  # no tagged fields
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)

    def recv(self):
        """The response body (after a v0 header) and the frame's size on the wire."""
        size = struct.unpack(">i", self._read(4))[0]
        payload = self._read(size)
        correlation = struct.unpack_from(">i", payload)[0]
        if correlation != self.correlation:
            raise KafkaError(f"correlation id {correlation}, expected {self.correlation}")
        return memoryview(payload)[4:], size + 4

    def _read(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:])
            if k == 0:
                raise ConnectionError("broker closed the connection")
            got += k
        return buf

    def call(self, api_key, version, body, flexible=False):
        self.send(api_key, version, body, flexible)
        return self.recv()


def api_versions(wire):
    """ApiVersions v3 (flexible request; the response header is v0, as always for ApiVersions)."""
    body = compact_string("gregor-scale") + compact_string("1") + b"\x00"
    resp, _ = wire.call(API_API_VERSIONS, 3, body, flexible=True)
    error = struct.unpack_from(">h", resp)[0]
    if error:
        raise KafkaError(f"ApiVersions error {error}")


def metadata_all(wire):
    """Metadata v1 for all topics: (seconds until the whole response arrived,
    response bytes, {topic: [(partition, error, leader)]})."""
    t0 = time.monotonic()
    wire.send(API_METADATA, 1, struct.pack(">i", -1))  # null topics = all
    resp, size = wire.recv()
    secs = time.monotonic() - t0
    r = Reader(resp)
    r.array(lambda: (r.i32(), r.string(), r.i32(), r.string()))  # brokers
    r.i32()  # controller id

    def partition():
        error, index, leader = r.i16(), r.i32(), r.i32()
        r.array(r.i32)
        r.array(r.i32)
        return index, error, leader

    def topic():
        error, name, _internal = r.i16(), r.string(), r.i8()
        return name, error, r.array(partition)

    topics = {}
    for name, error, parts in r.array(topic):
        if error:
            raise KafkaError(f"Metadata: topic {name} error {error}")
        topics[name] = parts
    return secs, size, topics


def create_topic(wire, name, partitions):
    body = struct.pack(">i", 1) + kstring(name) + struct.pack(">ihii", partitions, 1, 0, 0)
    body += struct.pack(">ib", 60_000, 0)  # timeout_ms, validate_only
    resp, _ = wire.call(API_CREATE_TOPICS, 2, body)
    r = Reader(resp)
    r.i32()  # throttle
    for topic, error, message in r.array(lambda: (r.string(), r.i16(), r.string())):
        if error:
            raise KafkaError(f"CreateTopics {topic}: error {error}: {message}")


def latest_offsets(wire, topic, partitions):
    """ListOffsets v1, timestamp -1 (latest), for partitions 0..n-1: {partition: offset}."""
    body = struct.pack(">ii", -1, 1) + kstring(topic) + struct.pack(">i", partitions)
    body += b"".join(struct.pack(">iq", p, -1) for p in range(partitions))
    resp, _ = wire.call(API_LIST_OFFSETS, 1, body)
    r = Reader(resp)
    out = {}
    for _topic, parts in r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.i16(), r.i64(), r.i64())))):
        for index, error, _ts, offset in parts:
            if error:
                raise KafkaError(f"ListOffsets {topic}-{index}: error {error}")
            out[index] = offset
    return out


def fetch_first_batch(wire, topic, partition):
    """Fetch v4 of one partition from offset 0: (base offset, record count) of
    the first batch returned; raises if there is none."""
    body = struct.pack(">iiiib", -1, 1_000, 1, 1 << 20, 0)  # replica, max wait, min bytes, max bytes, isolation
    body += struct.pack(">i", 1) + kstring(topic) + struct.pack(">iiqi", 1, partition, 0, 1 << 20)
    resp, _ = wire.call(API_FETCH, 4, body)
    r = Reader(resp)
    r.i32()  # throttle
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            _index, error, _hw, _lso = r.i32(), r.i16(), r.i64(), r.i64()
            r.array(lambda: (r.i64(), r.i64()))  # aborted transactions
            records = r.bytes_()
            if error:
                raise KafkaError(f"Fetch {topic}-{partition}: error {error}")
            # v2 batch: base offset (8), length (4), leader epoch (4), magic (1) ... record count at 57.
            if records is None or len(records) < 61 or records[16] != 2:
                raise KafkaError(f"Fetch {topic}-{partition}: no record batch from offset 0")
            return struct.unpack_from(">q", records, 0)[0], struct.unpack_from(">i", records, 57)[0]
    raise KafkaError(f"Fetch {topic}-{partition}: partition missing from the response")


# ---- broker process ------------------------------------------------------


class Broker:
    """One `gregor broker` process on a data dir that outlives restarts.
    Started, signalled and killed by this script only, by PID."""

    def __init__(self, gregor, workdir, name):
        self.gregor = gregor
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.starts = 0
        self.proc = None
        self.log = None
        self.log_path = None

    def start(self):
        """Starts the process; returns time.monotonic() just before the exec."""
        self.starts += 1
        listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        args = [self.gregor, "broker"]
        for kv in (f"listeners={listener}", f"advertised.listeners={listener}", f"log.dirs={self.data}"):
            args += ["--override", kv]
        self.log_path = os.path.join(self.dir, f"broker-{self.starts}.log")
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, NO_COLOR="1")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=env)
        return t0

    def wait_ready(self, t0, partitions=None, fetch=None):
        """Polls from t0 until a Metadata response lists `partitions`
        partitions (any number if None) and, if `fetch` = (topic, partition)
        is given, a Fetch from offset 0 returns a batch. Returns
        {connect_s, metadata_s, ready_s, partitions}, seconds since t0."""
        deadline = t0 + BROKER_READY_TIMEOUT_S
        out = {}
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                wire = Wire(self.port, timeout=max(1.0, deadline - time.monotonic()))
            except OSError:
                time.sleep(RETRY_SLEEP_S)
                continue
            out.setdefault("connect_s", time.monotonic() - t0)
            try:
                while time.monotonic() < deadline:
                    sent = time.monotonic()
                    secs, _, topics = metadata_all(wire)
                    listed = sum(len(p) for t, p in topics.items() if not t.startswith("__"))
                    if partitions is None or listed >= partitions:
                        # When the answer arrived, not when this script had parsed it.
                        out.setdefault("metadata_s", sent + secs - t0)
                        out["partitions"] = listed
                        break
                    time.sleep(RETRY_SLEEP_S)
                fetched = fetch is None
                while not fetched and time.monotonic() < deadline:
                    try:
                        fetch_first_batch(wire, *fetch)
                        fetched = True
                    except KafkaError:
                        time.sleep(RETRY_SLEEP_S)
                if fetched and "metadata_s" in out:
                    out["ready_s"] = time.monotonic() - t0
                    return out
            except (OSError, KafkaError):
                self._check_alive()
                time.sleep(RETRY_SLEEP_S)
            finally:
                wire.close()
        raise RuntimeError(f"broker not ready after {BROKER_READY_TIMEOUT_S}s; see {self.log_path}")

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"broker exited with {self.proc.returncode}; see {self.log_path}: {self.log_tail()}")

    def log_tail(self, lines=3):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(line.strip() for line in f.readlines()[-lines:])
        except OSError:
            return ""

    def log_count(self, needle):
        with open(self.log_path, errors="replace") as f:
            return sum(needle in line for line in f)

    def stop(self):
        """SIGTERM and wait; returns how long the clean shutdown took."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(BROKER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"broker did not stop within {BROKER_STOP_TIMEOUT_S}s of SIGTERM")
        secs = time.monotonic() - t0
        self.log.close()
        if self.proc.returncode != 0:
            raise RuntimeError(f"broker exited {self.proc.returncode} on SIGTERM: {self.log_tail()}")
        return secs

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def cleanup(self):
        """Stops the process if still running and deletes the data (logs stay)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except RuntimeError as e:
                log(f"cleanup: {e}")
        shutil.rmtree(self.data, ignore_errors=True)

    def status(self):
        """VmRSS, RssAnon, RssFile (MiB) and thread count from /proc/PID/status."""
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024
                elif key == "Threads":
                    out[key] = int(value)
        out["fds"] = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        return out

    def cpu_seconds(self):
        total_ns = 0
        task_dir = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(task_dir):
            try:
                with open(f"{task_dir}/{tid}/schedstat") as f:
                    total_ns += int(f.read().split()[0])
            except OSError:
                pass  # a thread that exited meanwhile
        return total_ns / 1e9


def data_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def evict_from_page_cache(path):
    """Writes back and drops the page cache of the files under `path` only."""
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def save_crash_state(data):
    """Every file of the data dir but the segments' .log files, and the
    .log files' sizes: what a second kill -9 restart needs put back to
    recover the same unflushed data again."""
    files, sizes = {}, {}
    for root, _, names in os.walk(data):
        for name in names:
            path = os.path.join(root, name)
            if name.endswith(".log"):
                sizes[path] = os.path.getsize(path)
            else:
                with open(path, "rb") as f:
                    files[path] = f.read()
    return files, sizes


def restore_crash_state(data, saved):
    """Puts the data dir back as save_crash_state found it. Recovery after
    an idle kill -9 cuts nothing from the .log files (checked by size); it
    rewrites checkpoints, indexes and producer snapshots, which go back."""
    files, sizes = saved
    for root, _, names in os.walk(data):
        for name in names:
            path = os.path.join(root, name)
            if name.endswith(".log"):
                if os.path.getsize(path) != sizes.get(path):
                    raise RuntimeError(f"{path} changed size in recovery; cannot repeat the crash")
            elif path not in files:
                os.remove(path)
    for path, content in files.items():
        with open(path, "wb") as f:
            f.write(content)


def dirty_mib():
    """Dirty + Writeback from /proc/meminfo (the whole machine): page-cache
    data not yet on disk, which a restart that fsyncs recovered segments
    has to write first."""
    total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Dirty", "Writeback"):
                total += int(value.split()[0])
    return total / 1024


def median(values):
    return statistics.median(values) if values else None


def timed_restart(broker, how, partitions, fetch=None):
    """Stops the broker (SIGTERM or kill -9), starts it on the same data dir
    and waits until it is ready. Returns the readiness times."""
    result = {"how": how}
    if how == "kill -9":
        broker.kill9()
    else:
        result["shutdown_s"] = broker.stop()
    t0 = broker.start()
    result.update(broker.wait_ready(t0, partitions, fetch))
    return result


# ---- phases --------------------------------------------------------------


def open_files_limit(pid):
    """The process's soft RLIMIT_NOFILE, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise RuntimeError(f"no open-files limit in /proc/{pid}/limits")


def create_topics(broker, first, count, per_topic):
    """Creates topics scale-FIRST.. one request each: (seconds per request, error or None)."""
    wire = Wire(broker.port)
    per_request = []
    try:
        for t in range(first, first + count):
            t1 = time.monotonic()
            create_topic(wire, f"scale-{t:03d}", per_topic)
            per_request.append(time.monotonic() - t1)
    except (KafkaError, OSError) as e:
        return per_request, f"after {first + len(per_request):,} topics ({(first + len(per_request)) * per_topic:,} partitions): {e}"
    finally:
        wire.close()
    return per_request, None


def phase_partitions(cfg, sz):
    """Creates sz.topics x sz.per_topic partitions, or as many as fit in the
    broker's open-file limit, measured from the files the first topic took;
    when that is fewer, a second broker tries the full count to show how
    it fails (probe_partitions_limit)."""
    broker = Broker(cfg.gregor, cfg.workdir, "partitions")
    res = {"topics": sz.topics, "per_topic": sz.per_topic, "target": sz.topics * sz.per_topic}
    try:
        broker.wait_ready(broker.start())
        time.sleep(IDLE_SETTLE_S)
        res["empty"] = broker.status()
        cpu = broker.cpu_seconds()
        t0 = time.monotonic()
        per_request, error = create_topics(broker, 0, 1, sz.per_topic)
        if error:
            raise RuntimeError(error)
        limit = open_files_limit(broker.proc.pid)
        files_per_partition = (broker.status()["fds"] - res["empty"]["fds"]) / sz.per_topic
        fit = int((limit - OPEN_FILES_SPARE) / max(files_per_partition, 1e-9) / sz.per_topic)
        topics = min(sz.topics, fit)
        res.update(open_files_limit=limit, files_per_partition=files_per_partition, topics=topics)
        if topics < sz.topics:
            log(f"partitions: {files_per_partition:.2f} open files per partition; {limit:,} allowed: "
                f"measuring {topics * sz.per_topic:,} partitions instead of {sz.topics * sz.per_topic:,}")
        more, error = create_topics(broker, 1, topics - 1, sz.per_topic)
        per_request += more
        if error:
            res["create_error"] = error
            log(f"partitions: create: {error}")
        res["create_s"] = time.monotonic() - t0
        res["create_cpu_s"] = broker.cpu_seconds() - cpu
        res["create_per_topic_s"] = [min(per_request), median(per_request), max(per_request)]
        broker._check_alive()
        wire = Wire(broker.port)
        lat, sizes = [], []
        for _ in range(METADATA_REPS):
            secs, size, listing = metadata_all(wire)
            lat.append(secs)
            sizes.append(size)
        wire.close()
        listed = sum(len(p) for t, p in listing.items() if not t.startswith("__"))
        res["listed"] = listed
        res["metadata_s"] = [min(lat), median(lat), max(lat)]
        res["metadata_bytes"] = median(sizes)
        time.sleep(IDLE_SETTLE_S)
        res["idle"] = broker.status()
        log(f"partitions: {listed} listed, create {res['create_s']:.2f}s, metadata {res['metadata_s'][1] * 1e3:.1f} ms, "
            f"idle {res['idle']}")
        res["restarts"] = []
        for how in ["SIGTERM", "kill -9"] * sz.reps:
            r = timed_restart(broker, how, listed)
            res["restarts"].append(r)
            log(f"partitions: restart after {how}: {r}")
        time.sleep(IDLE_SETTLE_S)
        res["idle_after_restart"] = broker.status()
    except (RuntimeError, KafkaError, OSError, subprocess.TimeoutExpired) as e:
        res["error"] = str(e)[:500]
        log(f"partitions: FAILED: {e}")
    finally:
        broker.cleanup()
    if res.get("topics", sz.topics) < sz.topics:
        res["full_attempt"] = probe_partitions_limit(cfg, sz)
    return res


def probe_partitions_limit(cfg, sz):
    """Creates the full sz.topics x sz.per_topic on a fresh broker although
    they do not fit in its open-file limit: how far creation gets, what the
    client is told, and whether the broker starts again afterwards."""
    broker = Broker(cfg.gregor, cfg.workdir, "partitions-full")
    out = {}
    try:
        broker.wait_ready(broker.start())
        _, out["create_error"] = create_topics(broker, 0, sz.topics, sz.per_topic)
        wire = Wire(broker.port)
        _, _, listing = metadata_all(wire)
        wire.close()
        out["listed"] = sum(len(p) for t, p in listing.items() if not t.startswith("__"))
        out["fds"] = broker.status()["fds"]
        try:
            broker.stop()
        except RuntimeError as e:
            out["stop_error"] = str(e)[:500]
        t0 = broker.start()
        try:
            out["restart"] = broker.wait_ready(t0, out["listed"])
        except RuntimeError as e:
            out["restart_error"] = str(e)[:500]
    except (RuntimeError, KafkaError, OSError) as e:
        out["error"] = str(e)[:500]
    finally:
        broker.cleanup()
    log(f"partitions: full attempt: {out}")
    return out


def phase_connections(cfg, sz):
    broker = Broker(cfg.gregor, cfg.workdir, "connections")
    res = {"connections": sz.connections}
    conns = []
    try:
        broker.wait_ready(broker.start())
        time.sleep(IDLE_SETTLE_S)
        res["before"] = broker.status()
        t0 = time.monotonic()
        for _ in range(sz.connections):
            w = Wire(broker.port)
            api_versions(w)
            conns.append(w)
        res["open_s"] = time.monotonic() - t0
        res["during"] = broker.status()
        time.sleep(IDLE_SETTLE_S)
        cpu = broker.cpu_seconds()
        time.sleep(5)
        res["idle_cpu_s_per_s"] = (broker.cpu_seconds() - cpu) / 5
        res["after"] = broker.status()
        fresh = {"ApiVersions": [], "Metadata": []}
        for _ in range(LATENCY_REPS):
            t1 = time.monotonic()
            w = Wire(broker.port)
            api_versions(w)
            fresh["ApiVersions"].append(time.monotonic() - t1)
            fresh["Metadata"].append(metadata_all(w)[0])
            w.close()
        res["fresh_s"] = {k: [min(v), median(v), max(v)] for k, v in fresh.items()}
        # Every held connection must still be served after sitting idle.
        for w in conns:
            api_versions(w)
        res["all_still_served"] = True
        log(f"connections: {res}")
    except (RuntimeError, KafkaError, OSError) as e:
        res["error"] = str(e)[:500]
        log(f"connections: FAILED after {len(conns)} connections: {e}")
    finally:
        for w in conns:
            w.close()
        broker.cleanup()
    return res


def check_offsets(broker, topic, partitions, before, label):
    wire = Wire(broker.port)
    try:
        after = latest_offsets(wire, topic, partitions)
    finally:
        wire.close()
    if after != before:
        lost = sum(before.values()) - sum(after.values())
        raise RuntimeError(f"{label}: log end offsets changed across the restart ({lost:,} records fewer)")


def phase_restart(cfg, sz):
    parts = sz.restart_partitions
    records = int(sz.scale_gb * 1e9 / RECORD_SIZE)
    res = {"partitions": parts, "scale_gb": sz.scale_gb, "records": records}
    need = int(sz.scale_gb * 1e9 * DISK_HEADROOM_FACTOR) + DISK_SPARE_BYTES
    free = shutil.disk_usage(cfg.workdir).free
    if free < need:
        res["skipped"] = (f"needs {need / 1e9:.1f} GB free in {cfg.workdir}, has {free / 1e9:.1f} GB; "
                          "pass a smaller --scale-gb or another --workdir")
        log(f"restart: SKIPPED: {res['skipped']}")
        return res
    topic = "scale-restart"
    broker = Broker(cfg.gregor, cfg.workdir, "restart")
    try:
        broker.wait_ready(broker.start())
        wire = Wire(broker.port)
        create_topic(wire, topic, parts)
        wire.close()
        log(f"restart: filling {parts} partitions with {records:,} x {RECORD_SIZE} B")
        cpu = broker.cpu_seconds()
        t0 = time.monotonic()
        p = subprocess.run([cfg.rdkafka_performance, "-P", "-t", topic, "-s", str(RECORD_SIZE), "-c", str(records),
                            "-a", "1", "-X", "linger.ms=100", "-X", "sticky.partitioning.linger.ms=0", "-b", f"127.0.0.1:{broker.port}"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=FILL_TIMEOUT_S)
        res["fill_s"] = time.monotonic() - t0
        res["fill_cpu_s"] = broker.cpu_seconds() - cpu
        if p.returncode != 0:
            raise RuntimeError("rdkafka_performance failed: " + p.stdout.decode(errors="replace")[-500:])
        wire = Wire(broker.port)
        before = latest_offsets(wire, topic, parts)
        wire.close()
        res["stored_records"] = sum(before.values())
        res["data_bytes"] = data_bytes(broker.data)
        res["empty_partitions"] = sum(1 for v in before.values() if v == 0)
        res["peak_rss_fill_mib"] = broker.status()["VmHWM"]
        if res["stored_records"] < records:
            raise RuntimeError(f"only {res['stored_records']:,} of {records:,} records stored")
        if res["empty_partitions"]:
            raise RuntimeError(f"{res['empty_partitions']} partitions got no records; the fill must spread")
        log(f"restart: filled {res['data_bytes'] / 1e9:.2f} GB in {res['fill_s']:.1f}s; idling {IDLE_SETTLE_S}s")
        time.sleep(IDLE_SETTLE_S)
        res["idle"] = broker.status()
        fetch = (topic, FETCH_PARTITION)
        res["restarts"] = []
        crashed = None
        for how, cold in (("kill -9", False), ("kill -9", True), ("SIGTERM", False), ("SIGTERM", True)):
            r = {"how": how, "cold_cache": cold}
            if how == "kill -9":
                r["dirty_mib"] = dirty_mib()
                broker.kill9()
                if crashed is None:
                    crashed = save_crash_state(broker.data)
                else:
                    restore_crash_state(broker.data, crashed)
            else:
                r["shutdown_s"] = broker.stop()
            if cold:
                evict_from_page_cache(broker.data)
            t0 = broker.start()
            r.update(broker.wait_ready(t0, parts, fetch))
            r["segments_recovered"] = broker.log_count("recovering segment")
            check_offsets(broker, topic, parts, before, how)
            res["restarts"].append(r)
            log(f"restart: {r}")
    except (RuntimeError, KafkaError, OSError, subprocess.TimeoutExpired) as e:
        res["error"] = str(e)[:500]
        log(f"restart: FAILED: {e}")
    finally:
        broker.cleanup()
    return res


# ---- report --------------------------------------------------------------


def git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def ms(v):
    if v is None:
        return "—"
    v *= 1e3
    return f"{v:.3f}" if v < 1 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def mib(v):
    return "—" if v is None else f"{v:,.1f}"


def triple_ms(t):
    if not t:
        return "—"
    lo, med, hi = t
    return f"{ms(lo)} / {ms(med)} / {ms(hi)}"


def spread_s(values):
    values = [v for v in values if v is not None]
    if not values:
        return "failed"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def section_partitions(r, sz):
    lines = [f"### {r['target']:,} partitions on one broker", ""]
    if "listed" not in r:
        return lines + [f"**Failed:** {r.get('error', 'unknown')}", ""]
    listed = r["listed"]
    if listed < r["target"]:
        lines += [f"**Measured at {listed:,} partitions, not {r['target']:,}:** the broker keeps "
                  f"{r['files_per_partition']:.2f} files open per partition (measured on the first topic) and may "
                  f"open {r['open_files_limit']:,}; {listed:,} is the largest multiple of {r['per_topic']} that "
                  f"leaves {OPEN_FILES_SPARE} spare. The attempt at {r['target']:,} is at the end of this section.", ""]
    lines.append(f"{r['topics']} topics × {r['per_topic']} partitions, one CreateTopics v2 request per topic on one "
                 "connection. Metadata v1 for all topics on one connection, "
                 f"{METADATA_REPS} requests (min / median / max), timed until the whole response is read. Restarts "
                 "are timed from the process start to the first Metadata response listing every partition.")
    lines.append("")
    per = r.get("create_per_topic_s")
    empty, idle, after = r.get("empty", {}), r.get("idle", {}), r.get("idle_after_restart", {})
    lines += ["| measure | value |", "|---|---|"]
    lines.append(f"| create {listed:,} partitions: wall time | {r['create_s']:.2f} s (broker CPU {r['create_cpu_s']:.2f} s) |")
    lines.append(f"| create: one topic of {r['per_topic']} partitions | {triple_ms(per)} ms |")
    lines.append(f"| Metadata (all topics) latency | {triple_ms(r.get('metadata_s'))} ms |")
    lines.append(f"| Metadata response size | {r.get('metadata_bytes', 0):,} bytes |")
    lines.append(f"| idle RSS, empty broker | {mib(empty.get('VmRSS'))} MiB |")
    if idle:
        lines.append(f"| idle RSS with {listed:,} partitions (anon / file) | {mib(idle.get('VmRSS'))} MiB "
                     f"({mib(idle.get('RssAnon'))} / {mib(idle.get('RssFile'))}) |")
        lines.append(f"| threads / open files with {listed:,} partitions | {idle['Threads']} / {idle['fds']:,} |")
    if after:
        lines.append(f"| idle RSS after the restarts below | {mib(after.get('VmRSS'))} MiB |")
    restarts = r.get("restarts", [])
    for how, label in (("SIGTERM", "clean restart (SIGTERM)"), ("kill -9", "restart after kill -9")):
        rs = [x for x in restarts if x["how"] == how]
        if rs:
            lines.append(f"| {label}: start → Metadata lists all | {spread_s([x.get('ready_s') for x in rs])} s |")
    shut = [x["shutdown_s"] for x in restarts if "shutdown_s" in x]
    if shut:
        lines.append(f"| clean shutdown: SIGTERM → exit | {spread_s(shut)} s |")
    if "create_error" in r:
        lines += ["", f"**Creation stopped:** {r['create_error']}"]
    if "error" in r:
        lines += ["", f"**Failed:** {r['error']}"]
    lines.append("")
    if len(restarts) > 2:
        lines += [f"Restart rows are min / median / max over {len(restarts) // 2} restarts of each kind; "
                  "each row is one value when there was one restart.", ""]
    full = r.get("full_attempt")
    if full:
        lines += [f"**The attempt at {r['target']:,}** (a fresh broker): "
                  f"CreateTopics failed {full.get('create_error') or 'never'}. "
                  f"Metadata then listed {full.get('listed', 0):,} partitions with {full.get('fds', 0):,} files open."]
        if "stop_error" in full:
            lines.append(f"SIGTERM: {full['stop_error']}")
        if "restart_error" in full:
            lines.append(f"Started again on that data dir, it did not come up: {full['restart_error']}")
        elif "restart" in full:
            lines.append(f"Started again on that data dir, it served Metadata after {full['restart']['ready_s']:.2f} s.")
        if "error" in full:
            lines.append(f"Failed: {full['error']}")
        lines.append("")
    return lines


def section_connections(r):
    n = r["connections"]
    lines = [f"### {n:,} idle client connections", "",
             f"{n:,} TCP connections, each sends ApiVersions v3 and reads the answer, then stays open and idle. "
             f"Memory is read {IDLE_SETTLE_S} s after the last one opened. Fresh-connection latency: connect + "
             f"ApiVersions, then Metadata on the same connection, {LATENCY_REPS} times (min / median / max). "
             "Afterwards every held connection is asked ApiVersions once more and must answer.", ""]
    if "error" in r and "after" not in r:
        return lines + [f"**Failed:** {r['error']}", ""]
    b, d, a = r["before"], r.get("during", {}), r["after"]
    per_conn_kib = (a["VmRSS"] - b["VmRSS"]) * 1024 / n
    fresh = r.get("fresh_s", {})
    lines += ["| measure | before | with connections |", "|---|---|---|",
              f"| broker RSS MiB | {mib(b['VmRSS'])} | {mib(a['VmRSS'])} (peak while opening {mib(d.get('VmRSS'))}; "
              f"{per_conn_kib:,.1f} KiB per connection) |",
              f"| threads | {b['Threads']} | {a['Threads']} |",
              f"| open files | {b['fds']} | {a['fds']} |",
              "", "| measure | value |", "|---|---|",
              f"| open {n:,} connections, one ApiVersions each | {r['open_s']:.2f} s |",
              f"| broker CPU while they idle | {r['idle_cpu_s_per_s'] * 1e3:.1f} ms per s |",
              f"| fresh connection: connect + ApiVersions | {triple_ms(fresh.get('ApiVersions'))} ms |",
              f"| fresh connection: Metadata | {triple_ms(fresh.get('Metadata'))} ms |",
              f"| all {n:,} still answered afterwards | {'yes' if r.get('all_still_served') else 'no'} |"]
    if "error" in r:
        lines += ["", f"**Failed:** {r['error']}"]
    return lines + [""]


def section_restart(r):
    gb = r["scale_gb"]
    lines = [f"### Restart with {gb:g} GB of log in {r['partitions']:,} partitions", ""]
    if "skipped" in r:
        return lines + [f"**Skipped:** {r['skipped']}", ""]
    lines += [f"One topic of {r['partitions']:,} partitions filled by `rdkafka_performance -P -s {RECORD_SIZE} "
              f"-c {r['records']:,} -a 1 -X linger.ms=100 -X sticky.partitioning.linger.ms=0` (each record to a random "
              f"partition; with sticky partitioning on, a fill this fast lands in a handful of partitions), then {IDLE_SETTLE_S} s idle. "
              "Ready = from the process start until a Metadata response lists every partition and a Fetch v4 of "
              f"partition {FETCH_PARTITION} from offset 0 returns a record batch. ListOffsets(latest) of every partition is "
              "compared before and after each restart.", ""]
    if "data_bytes" not in r:
        return lines + [f"**Failed:** {r.get('error', 'unknown')}", ""]
    idle = r.get("idle", {})
    lines += ["| measure | value |", "|---|---|",
              f"| data on disk | {r['data_bytes'] / 1e9:,.2f} GB, {r['stored_records']:,} records "
              f"({r['empty_partitions']} partitions empty) |",
              f"| fill: wall time (broker CPU) | {r['fill_s']:.1f} s ({r['fill_cpu_s']:.1f} s), "
              f"{r['data_bytes'] / r['fill_s'] / 1e6:,.0f} MB/s |",
              f"| broker peak RSS during the fill (VmHWM) | {mib(r.get('peak_rss_fill_mib'))} MiB |",
              f"| idle RSS after the fill (anon / file) | {mib(idle.get('VmRSS'))} MiB "
              f"({mib(idle.get('RssAnon'))} / {mib(idle.get('RssFile'))}) |"]
    for x in r.get("restarts", []):
        label = {"kill -9": "kill -9 while idle", "SIGTERM": "clean (SIGTERM)"}[x["how"]]
        if x.get("cold_cache"):
            label += ", data evicted from page cache"
        extra = f"; shutdown took {x['shutdown_s']:.2f} s" if "shutdown_s" in x else ""
        if "dirty_mib" in x:
            extra += f"; {x['dirty_mib']:,.0f} MiB dirty in the page cache at the kill"
        lines.append(f"| restart, {label}: start → ready | **{x['ready_s']:.2f} s** (Metadata at "
                     f"{x['metadata_s']:.2f} s; {x['segments_recovered']:,} segments recovered{extra}) |")
    if "error" in r:
        lines += ["", f"**Failed:** {r['error']}"]
    return lines + [""]


def machine_line(cfg):
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return (f"Machine: {os.cpu_count()} CPUs, {mem_kib / 1024 / 1024:.1f} GiB RAM, Linux {platform.release()}; "
            f"open-file limit {soft:,} (hard {hard:,}) for this script and the brokers it starts. "
            f"Data dir: `{cfg.workdir}`. The clients run on the same machine.")


def load_line(r):
    load = r.get("load")
    if not load:
        return []
    return [f"Load average (1 min) at the start and end of this phase: {load[0]:.1f}, {load[1]:.1f} "
            f"on {os.cpu_count()} CPUs; the phase took {r['phase_s']:.0f} s.", ""]


def section(cfg, sz, results, started):
    lines = ["## Scale", ""]
    if sz.quick:
        lines += ["**Smoke run (--quick): small sizes; do not quote these numbers.**", ""]
    dirty = git("status", "--porcelain", "--untracked-files=no")
    lines += [f"Produced by `{cfg.command}` at {started} (commit `{git('rev-parse', '--short', 'HEAD')}`"
              f"{', with uncommitted changes' if dirty else ''}). See `bench/scale.py` for how each number is taken.",
              "", machine_line(cfg), ""]
    if "partitions" in results:
        lines += section_partitions(results["partitions"], sz) + load_line(results["partitions"])
    if "connections" in results:
        lines += section_connections(results["connections"]) + load_line(results["connections"])
    if "restart" in results:
        lines += section_restart(results["restart"]) + load_line(results["restart"])
    return "\n".join(lines)


def replace_section(path, text):
    """Replaces the `## Scale` section of `path` (to the next `## ` heading
    or the end) with `text`, or appends it; the rest stays byte for byte."""
    try:
        with open(path) as f:
            old = f.read().splitlines(keepends=True)
    except FileNotFoundError:
        old = ["# Benchmarks\n", "\n"]
    start = next((i for i, line in enumerate(old) if line.rstrip() == "## Scale"), None)
    if start is None:
        if old and old[-1].strip():
            old.append("\n")
        start = end = len(old)
    else:
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
    new = text.rstrip("\n") + "\n"
    if end < len(old):
        new += "\n"
    with open(path, "w") as f:
        f.write("".join(old[:start]) + new + "".join(old[end:]))


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


PHASES = ("partitions", "connections", "restart")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 partitions, 100 connections, 0.5 GB")
    ap.add_argument("--scale-gb", type=float, help="GB of records for the restart phase (default 10; 0.5 with --quick)")
    ap.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    ap.add_argument("--gregor", required=True)
    ap.add_argument("--rdkafka-performance", required=True)
    ap.add_argument("--workdir", help="where broker data dirs go (default: a new dir under $TMPDIR)")
    ap.add_argument("--out", required=True, help="the Markdown file whose ## Scale section is replaced")
    ap.add_argument("--command", required=True, help="the command line, for the report")
    cfg = ap.parse_args()
    phases = [p for p in cfg.phases.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        ap.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    sz = Sizes(cfg.quick, cfg.scale_gb)
    # Brokers inherit this limit: 10,000 partitions need several files each.
    raise_fd_limit()
    if cfg.workdir:
        os.makedirs(cfg.workdir, exist_ok=True)
        cfg.workdir = tempfile.mkdtemp(prefix="gregor-scale-", dir=cfg.workdir)
    else:
        cfg.workdir = tempfile.mkdtemp(prefix="gregor-scale-")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    log(f"work dir {cfg.workdir}")
    results = {}
    runners = {"partitions": phase_partitions, "connections": phase_connections, "restart": phase_restart}
    for phase in phases:
        log(f"phase {phase}")
        load_before = os.getloadavg()[0]
        t0 = time.monotonic()
        results[phase] = runners[phase](cfg, sz)
        # The machine is shared: the 1-minute load average says how much
        # else ran beside each phase.
        results[phase]["load"] = [load_before, os.getloadavg()[0]]
        results[phase]["phase_s"] = time.monotonic() - t0
        with open(os.path.join(cfg.workdir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    replace_section(cfg.out, section(cfg, sz, results, started))
    log(f"wrote the ## Scale section of {cfg.out}; raw results and broker logs in {cfg.workdir}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
