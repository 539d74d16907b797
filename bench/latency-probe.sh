#!/bin/bash
# bench/latency-probe.sh: produce latency at linger 0 (1 KB, acks=all, 20,000/s, 10 s)
# on a fresh broker, first into an empty partition, then right after 1 GB was
# written to another one (page cache dirty), then after sync. Needs
# `cargo build --release -p gregor`. Ad-hoc companion to bench/run.sh.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
G="$(mktemp -d)/gregor"; cp "$root/target/release/gregor" "$G"
P="$("$root/scripts/compat/librdkafka/build.sh")/examples/rdkafka_performance"
D=$(mktemp -d); PORT=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
$G broker --override log.dirs=$D --override listeners=PLAINTEXT://127.0.0.1:$PORT --override advertised.listeners=PLAINTEXT://127.0.0.1:$PORT > $D/b.log 2>&1 &
B=$!; sleep 1
$G topics create --bootstrap-server 127.0.0.1:$PORT --topic e --partitions 1 --replication-factor 1 >/dev/null
$G topics create --bootstrap-server 127.0.0.1:$PORT --topic f --partitions 1 --replication-factor 1 >/dev/null
lat() { $G perf produce --bootstrap-server 127.0.0.1:$PORT --topic $1 --num-records 200000 --record-size 1024 --throughput 20000 --acks all --producer-props linger.ms=0 --print-interval-ms 100000 2>&1 | tail -1 | sed -E 's/.*avg latency, ([0-9.]+ ms max).*, ([0-9.]+ ms 50th).*, ([0-9.]+ ms 99th), ([0-9.]+ ms 99.9th).*/\1 \2 \3 \4/'; }
echo "empty partition:"; for i in 1 2; do echo "  $(lat e) dirty=$(grep Dirty: /proc/meminfo | awk '{print $2}')kB"; done
$P -P -t f -p 0 -s 1024 -c 1000000 -a -1 -X linger.ms=5 -b 127.0.0.1:$PORT >/dev/null 2>&1
echo "right after 1 GB into partition f (dirty=$(grep Dirty: /proc/meminfo | awk '{print $2}')kB):"; for i in 1 2; do echo "  $(lat f) dirty=$(grep Dirty: /proc/meminfo | awk '{print $2}')kB"; done
sync; echo "after sync:"; echo "  $(lat f)"
kill $B; wait $B 2>/dev/null; rm -rf $D
