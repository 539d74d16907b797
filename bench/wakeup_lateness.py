#!/usr/bin/env python3
"""How late this machine wakes a sleeping thread: sleeps to each 1 ms tick for
SECONDS and reports how far past the tick it woke, as JSON
({"ticks", "p50_ms", "p99_ms", "p999_ms", "max_ms", "over_1ms"}).

bench.py runs it beside each latency measurement: a produce round trip needs
several threads (the client's, the broker's) to run on time, so when the
machine itself stalls a runnable thread for milliseconds, no broker can keep
its p99 below that. Standard library only."""
import json
import sys
import time


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    tick = 0.001
    late = []
    start = time.monotonic()
    next_tick = start + tick
    end = start + seconds
    while next_tick < end:
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        late.append(max(0.0, time.monotonic() - next_tick))
        next_tick += tick
    late.sort()
    n = len(late)
    pick = lambda q: late[min(n - 1, int(n * q))] * 1e3  # noqa: E731
    print(json.dumps({
        "ticks": n,
        "p50_ms": round(pick(0.5), 3),
        "p99_ms": round(pick(0.99), 3),
        "p999_ms": round(pick(0.999), 3),
        "max_ms": round(late[-1] * 1e3, 3),
        "over_1ms": sum(1 for x in late if x > 0.001),
    }))


if __name__ == "__main__":
    main()
