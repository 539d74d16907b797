#!/usr/bin/env python3
"""Gregor's benchmark matrix; run through bench/run.sh, which builds the
binaries first. Standard library only.

For each scenario (record size x acks x partitions) and repetition it starts
a fresh `gregor broker` on an empty data dir, creates the topic, and runs
librdkafka's rdkafka_performance three times against it:

  produce   -P -s SIZE -c COUNT -a ACKS -X linger.ms=5   as fast as possible
  consume   -C -p 0..P-1 -o beginning -c COUNT -e
  latency   gregor perf produce --throughput 20000   per-record send->ack,
            once with linger.ms=0 (the latency target's setting) and once
            with linger.ms=5 (librdkafka's default)

rdkafka_performance sets linger.ms=1000 unless told otherwise, which made
every short produce run last about a second and put its -l latencies at
300-1000 ms; the producer gets -X linger.ms=5 (librdkafka's and Kafka 4's
default) so batching is what real clients see. Latency comes from
`gregor perf produce` (librdkafka underneath, client defaults), which prints
p50/p99/p99.9 directly from a histogram of every record, instead of
post-processing rdkafka_performance's -A file.

Broker CPU seconds are the delta over each phase of the time the broker's
threads spent on a CPU, summed over /proc/PID/task/*/schedstat (ns
resolution); /proc/PID/stat's utime+stime counts in 10 ms ticks and read
0.00 for whole phases. Peak RSS is VmHWM from
/proc/PID/status when the scenario ends, i.e. the peak over the whole
scenario, since every scenario has its own broker.

Before the matrix, an untimed warm-up writes and deletes a few GiB in the
work dir. On a freshly booted VM the guest's free memory has never been
touched, and the first time the page cache grows into it every page costs
a host-side fault: a first run measured 1 KB produce at 618 MB/s with the
broker's CPU in copy_folio_from_iter_atomic, against 1,335 MB/s once those
pages had been used once. Real brokers run warm, so the matrix does too.

Before the matrix, dd measures the buffered sequential write bandwidth of
the data dir's disk (conv=fdatasync) three times; throughputs are reported
as a fraction of the median. MB is 10^6 bytes everywhere in this report, as
in dd and rdkafka_performance.
"""

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

TOPIC = "bench"
LATENCY_RATE = 20_000  # records/s for the latency phase
LATENCY_LINGERS_MS = (0, 5)  # the target is at 0; 5 is librdkafka's default
WARMUP_GIB = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")
PHASE_TIMEOUT_S = 600  # a phase that takes longer has hung
BROKER_READY_TIMEOUT_S = 30
BROKER_STOP_TIMEOUT_S = 20


class Matrix:
    """What to run: the full matrix, or --quick's two small scenarios."""

    def __init__(self, quick):
        self.quick = quick
        self.reps = 1 if quick else 3
        if quick:
            self.scenarios = [(100, "1", 1), (1024, "all", 8)]
            self.records = {100: 100_000, 1024: 30_000}
            self.latency_secs = 2
            self.dd_mb = 128
        else:
            self.scenarios = [
                (size, acks, parts)
                for size in (100, 1024)
                for acks in ("1", "all")
                for parts in (1, 8)
            ]
            self.records = {100: 5_000_000, 1024: 1_000_000}
            self.latency_secs = 10
            self.dd_mb = 1024


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One `gregor broker` process with its own data dir, started and
    stopped by this script only (by PID)."""

    def __init__(self, gregor, workdir, name):
        self.gregor = gregor
        self.port = free_port()
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        data = os.path.join(self.dir, "data")
        listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        args = [gregor, "broker"]
        for kv in (f"listeners={listener}", f"advertised.listeners={listener}", f"log.dirs={data}"):
            args += ["--override", kv]
        self.log_path = os.path.join(self.dir, "broker.log")
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, NO_COLOR="1")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=env)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + BROKER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"broker not listening after {BROKER_READY_TIMEOUT_S}s; see {self.log_path}")

    def cpu_seconds(self):
        """On-CPU time of all live threads; the broker's threads live as
        long as it does, so deltas are exact. Falls back to utime+stime."""
        task_dir = f"/proc/{self.proc.pid}/task"
        try:
            total_ns = 0
            for tid in os.listdir(task_dir):
                with open(f"{task_dir}/{tid}/schedstat") as f:
                    total_ns += int(f.read().split()[0])
            return total_ns / 1e9
        except (OSError, ValueError, IndexError):
            pass
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is stat field 3 (state); utime and stime are fields 14, 15.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(BROKER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run(args, timeout=PHASE_TIMEOUT_S):
    """Runs a command, returns its stdout+stderr; raises with the tail of
    the output when it fails."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        tail = "\n".join(out.splitlines()[-15:])
        raise RuntimeError(f"{shlex.join(args)} exited {p.returncode}:\n{tail}")
    return out


PRODUCED = re.compile(
    r"% (\d+) messages produced \((\d+) bytes\), (\d+) delivered \(offset -?\d+, (\d+) failed\) "
    r"in (\d+)ms: (\d+) msgs/s and ([\d.]+) MB/s"
)
CONSUMED = re.compile(r"% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs/s \(([\d.]+) MB/s\)")


def parse_produce(out):
    m = PRODUCED.findall(out)
    if not m:
        raise RuntimeError("no producer summary in rdkafka_performance output:\n" + out[-1500:])
    produced, produced_bytes, delivered, failed, ms, _, _ = (int(v) if "." not in v else v for v in m[-1])
    if failed:
        raise RuntimeError(f"{failed} records failed delivery")
    # Every record has the same size, so delivered bytes follow from the count.
    return summarize(delivered, produced_bytes * delivered // max(1, produced), ms)


def parse_consume(out):
    m = CONSUMED.findall(out)
    if not m:
        raise RuntimeError("no consumer summary in rdkafka_performance output:\n" + out[-1500:])
    msgs, nbytes, ms, _, _ = m[-1]
    return summarize(int(msgs), int(nbytes), int(ms))


def summarize(msgs, nbytes, ms):
    secs = max(ms, 1) / 1000
    return {"msgs": msgs, "bytes": nbytes, "secs": secs, "msgs_s": msgs / secs, "mb_s": nbytes / secs / 1e6}


PERF_SUMMARY = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec .* ([\d.]+) ms 50th, ([\d.]+) ms 95th, "
    r"([\d.]+) ms 99th, ([\d.]+) ms 99\.9th\."
)


WAKEUP_PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wakeup_lateness.py")


def parse_perf_latency(out):
    m = PERF_SUMMARY.findall(out)
    if not m:
        raise RuntimeError("no summary in gregor perf produce output:\n" + out[-1500:])
    n, rate, p50, _, p99, p999 = m[-1]
    return {"n": int(n), "rate": float(rate), "p50": float(p50), "p99": float(p99), "p999": float(p999)}


def dd_bandwidth(workdir, mb):
    """Buffered sequential write, flushed to disk before dd reports."""
    path = os.path.join(workdir, "dd.bin")
    try:
        out = run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mb}", "conv=fdatasync"])
    finally:
        if os.path.exists(path):
            os.remove(path)
    m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", out)
    if not m:
        raise RuntimeError("cannot parse dd output: " + out)
    return int(m.group(1)) / float(m.group(2)) / 1e6


def warm_up(workdir, gib):
    """Writes and deletes `gib` GiB so the page cache has been in every page
    the matrix will use (see the module comment)."""
    path = os.path.join(workdir, "warmup.bin")
    try:
        run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={gib * 1024}"])
    finally:
        if os.path.exists(path):
            os.remove(path)


def scenario_name(size, acks, parts):
    return f"{size}B acks={acks} p={parts}"


def run_scenario(cfg, m, size, acks, parts, rep):
    perf = cfg.rdkafka_performance
    name = f"s{size}-a{acks}-p{parts}-r{rep}"
    broker = Broker(cfg.gregor, cfg.workdir, name)
    result = {"size": size, "acks": acks, "parts": parts, "rep": rep, "load_start": os.getloadavg()[0]}
    try:
        run([cfg.gregor, "topics", "create", "--bootstrap-server", broker.bootstrap, "--topic", TOPIC,
             "--partitions", str(parts), "--replication-factor", "1"])
        common = ["-t", TOPIC, "-b", broker.bootstrap]
        ack_flag = "-1" if acks == "all" else acks
        count = m.records[size]

        cpu = broker.cpu_seconds()
        result["produce"] = parse_produce(run([perf, "-P", *common, "-s", str(size), "-c", str(count), "-a", ack_flag,
                                               "-X", "linger.ms=5"]))
        result["produce"]["cpu_s"] = broker.cpu_seconds() - cpu

        cpu = broker.cpu_seconds()
        partitions = [a for p in range(parts) for a in ("-p", str(p))]
        result["consume"] = parse_consume(run([perf, "-C", *common, *partitions, "-o", "beginning", "-c", str(count), "-e"]))
        result["consume"]["cpu_s"] = broker.cpu_seconds() - cpu

        lat_count = LATENCY_RATE * m.latency_secs
        for linger in LATENCY_LINGERS_MS:
            cpu = broker.cpu_seconds()
            phase = f"latency_l{linger}"
            # The machine's own scheduling stalls over the same seconds.
            probe = subprocess.Popen([sys.executable, WAKEUP_PROBE, str(m.latency_secs)],
                                     stdout=subprocess.PIPE, text=True)
            result[phase] = parse_perf_latency(run([
                cfg.gregor, "perf", "produce", "--bootstrap-server", broker.bootstrap, "--topic", TOPIC,
                "--num-records", str(lat_count), "--record-size", str(size), "--acks", acks,
                "--throughput", str(LATENCY_RATE), "--producer-props", f"linger.ms={linger}",
                "--print-interval-ms", "3600000"]))
            result[phase]["cpu_s"] = broker.cpu_seconds() - cpu
            out, _ = probe.communicate(timeout=m.latency_secs + 30)
            machine_probe = json.loads(out)
            result[phase]["stalls"] = machine_probe["over_1ms"]
            result[phase]["stall_max_ms"] = machine_probe["max_ms"]
        result["peak_rss_mib"] = broker.peak_rss_mib()
        result["load_end"] = os.getloadavg()[0]
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        result["error"] = str(e).splitlines()[0][:300]
        log(f"{name}: FAILED: {e}")
    finally:
        broker.stop()
        # Up to a GB per scenario; the broker log stays for post-mortems.
        shutil.rmtree(os.path.join(broker.dir, "data"), ignore_errors=True)
    return result


def machine():
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
    }


def git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (min(values), statistics.median(values), max(values))


def cell(values, fmt="{:,.0f}"):
    s = stats(values)
    if s is None:
        return "failed"
    lo, med, hi = s
    if lo == hi:
        return fmt.format(med)
    return f"{fmt.format(lo)} / {fmt.format(med)} / {fmt.format(hi)}"


def pick(results, *path):
    out = []
    for r in results:
        v = r
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        out.append(v)
    return out


def report(cfg, m, dd_mb_s, results, started, command):
    mach = machine()
    med_dd = statistics.median(dd_mb_s)
    lines = []
    if m.quick:
        lines += ["# Benchmarks — SMOKE RUN (--quick)", "",
                  "**This is a smoke run: one repetition of a two-scenario matrix with small counts. "
                  "Do not quote these numbers; run `bench/run.sh` without `--quick` for the real matrix.**", ""]
    else:
        lines += ["# Benchmarks", ""]
    lines += [
        f"Produced by `{command}` at {started} (commit `{git('rev-parse', '--short', 'HEAD')}`"
        f"{', with uncommitted changes' if git('status', '--porcelain', '--untracked-files=no') else ''}).",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['mem_gib']} GiB RAM, Linux {mach['kernel']}. "
        f"Data dir: `{cfg.workdir}`. The broker and the load generator share the machine.",
        "",
        f"Client: librdkafka {cfg.librdkafka_version} `examples/rdkafka_performance` from "
        "`scripts/compat/librdkafka/build.sh`, with `-X linger.ms=5` (the tool's own default is 1000 ms). "
        f"Each scenario × repetition gets a fresh broker and data dir. {m.reps} repetition(s); "
        "cells are min / median / max (one value when they agree or with one repetition). MB = 10^6 bytes.",
        "",
        f"Disk baseline: `dd if=/dev/zero bs=1M count={m.dd_mb} conv=fdatasync` on the data dir's filesystem: "
        + ", ".join(f"{v:,.0f}" for v in dd_mb_s) + f" MB/s (median {med_dd:,.0f} MB/s). "
        "\"of dd\" is the median throughput as a fraction of the median dd bandwidth.",
        "",
        "## Throughput",
        "",
        f"Produce: `-P -s SIZE -c N -a ACKS -X linger.ms=5` (N = {m.records[100]:,} for 100 B, {m.records[1024]:,} for 1,024 B), "
        "unthrottled. Consume: `-C -p 0..P-1 -o beginning -c N -e` (rdkafka_performance times consumption from the "
        "first record). Broker CPU is the seconds the broker's threads spent on a CPU during the phase "
        "(/proc/PID/task/*/schedstat).",
        "",
        "| scenario | phase | msgs/s | MB/s | of dd | broker CPU s |",
        "|---|---|---|---|---|---|",
    ]
    by_scenario = {}
    for r in results:
        by_scenario.setdefault((r["size"], r["acks"], r["parts"]), []).append(r)
    for key, rs in by_scenario.items():
        for phase in ("produce", "consume"):
            mb = pick(rs, phase, "mb_s")
            med = stats(mb)
            frac = f"{med[1] / med_dd:.1%}" if med else "failed"
            lines.append(f"| {scenario_name(*key)} | {phase} | {cell(pick(rs, phase, 'msgs_s'))} | "
                         f"{cell(mb, '{:,.1f}')} | {frac} | {cell(pick(rs, phase, 'cpu_s'), '{:.2f}')} |")
    lines += [
        "",
        "## Produce latency at a fixed rate",
        "",
        f"`gregor perf produce --throughput {LATENCY_RATE} --num-records {LATENCY_RATE * m.latency_secs} "
        f"--acks ACKS --record-size SIZE --producer-props linger.ms=L`: {LATENCY_RATE:,} records/s for "
        f"{m.latency_secs} s, after the throughput phases (so the partition already holds N records); latency is "
        "from the record's hand-off to librdkafka to its delivery report (linger, request, broker ack), per record, "
        "percentiles over all records of the run (histogram, within 1.6%).",
        "",
        "The last two columns come from `bench/wakeup_lateness.py`, run beside each measurement: how many of its "
        "1 ms sleeps woke more than 1 ms late, and the latest wake-up, i.e. how often and how long the machine "
        "itself kept a runnable thread off the CPU during the run.",
        "",
        "| scenario | linger ms | achieved rec/s | p50 ms | p99 ms | p99.9 ms | broker CPU s | machine stalls > 1 ms | longest stall ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, rs in by_scenario.items():
        for linger in LATENCY_LINGERS_MS:
            phase = f"latency_l{linger}"
            lines.append(f"| {scenario_name(*key)} | {linger} | {cell(pick(rs, phase, 'rate'))} | "
                         f"{cell(pick(rs, phase, 'p50'), '{:.2f}')} | "
                         f"{cell(pick(rs, phase, 'p99'), '{:.2f}')} | {cell(pick(rs, phase, 'p999'), '{:.2f}')} | "
                         f"{cell(pick(rs, phase, 'cpu_s'), '{:.2f}')} | {cell(pick(rs, phase, 'stalls'))} | "
                         f"{cell(pick(rs, phase, 'stall_max_ms'), '{:.1f}')} |")
    loads = [v for r in results for v in (r.get("load_start"), r.get("load_end")) if v is not None]
    if loads:
        lines += ["", f"Load average (1 min) at the start and end of the scenarios: {min(loads):.1f} to "
                  f"{max(loads):.1f} on {mach['nproc']} CPUs (the benchmark's own broker and client count "
                  "towards it)."]
    lines += [
        "",
        "## Peak memory",
        "",
        "The broker's VmHWM at the end of each scenario (throughput, consume and both latency phases).",
        "",
        "| scenario | peak RSS MiB |",
        "|---|---|",
    ]
    for key, rs in by_scenario.items():
        lines.append(f"| {scenario_name(*key)} | {cell(pick(rs, 'peak_rss_mib'), '{:,.0f}')} |")
    failures = [r for r in results if "error" in r]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {scenario_name(r['size'], r['acks'], r['parts'])} rep {r['rep']}: {r['error']}" for r in failures]
    lines.append("")
    kept = kept_sections(cfg.out)
    with open(cfg.out, "w") as f:
        f.write("\n".join(lines))
        if kept:
            f.write("\n" + kept)


# Sections of an existing report that this script does not produce and must
# not drop: the scale results (bench/scale.py) and the written analysis.
KEPT_SECTIONS = ("## Scale", "## Analysis")


def kept_sections(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return ""
    parts = re.split(r"(?m)^(?=## )", text)
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p.startswith(KEPT_SECTIONS))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one repetition of a tiny matrix (smoke test)")
    ap.add_argument("--gregor", required=True)
    ap.add_argument("--rdkafka-performance", required=True)
    ap.add_argument("--librdkafka-version", default="unknown")
    ap.add_argument("--workdir", help="where broker data dirs go (default: a new dir under $TMPDIR)")
    ap.add_argument("--out", required=True, help="the Markdown report to write")
    ap.add_argument("--command", required=True, help="the command line, for the report")
    cfg = ap.parse_args()
    m = Matrix(cfg.quick)
    if cfg.workdir:
        os.makedirs(cfg.workdir, exist_ok=True)
        cfg.workdir = tempfile.mkdtemp(prefix="gregor-bench-", dir=cfg.workdir)
    else:
        cfg.workdir = tempfile.mkdtemp(prefix="gregor-bench-")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    log(f"work dir {cfg.workdir}")
    log(f"warm-up: writing and deleting {WARMUP_GIB} GiB")
    warm_up(cfg.workdir, WARMUP_GIB if not m.quick else 1)
    dd = [dd_bandwidth(cfg.workdir, m.dd_mb) for _ in range(m.reps)]
    log("dd: " + ", ".join(f"{v:,.0f} MB/s" for v in dd))
    results = []
    for rep in range(1, m.reps + 1):
        for size, acks, parts in m.scenarios:
            log(f"rep {rep}/{m.reps}: {scenario_name(size, acks, parts)}")
            r = run_scenario(cfg, m, size, acks, parts, rep)
            results.append(r)
            log(json.dumps(r))
    with open(os.path.join(cfg.workdir, "results.json"), "w") as f:
        json.dump({"dd_mb_s": dd, "results": results}, f, indent=1)
    report(cfg, m, dd, results, started, cfg.command)
    log(f"wrote {cfg.out}; raw results in {cfg.workdir}/results.json")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
