"""kcat (librdkafka's command-line client) against gregor: produce with a
key delimiter and headers, consume to end with a format string."""

import shutil
import subprocess

import pytest

TIMEOUT_S = 60
pytestmark = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed")


def kcat(*args, stdin=None):
    r = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=TIMEOUT_S)
    assert r.returncode == 0, f"kcat {args} exited {r.returncode}: {r.stderr.decode(errors='replace')}"
    return r.stdout.decode()


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_with_key_delimiter_then_consume(broker, codec):
    topic = f"kcat-{codec}"
    lines = "".join(f"key{i}:value {i}\n" for i in range(20)) + ":no key here\n"
    kcat("-b", broker.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-z", codec,
         "-X", "topic.request.required.acks=-1", stdin=lines.encode())
    out = kcat("-b", broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e",
               "-f", "%k %s %o\n")
    want = "".join(f"key{i} value {i} {i}\n" for i in range(20)) + " no key here 20\n"
    assert out == want


def test_headers_and_metadata(broker):
    topic = "kcat-headers"
    kcat("-b", broker.bootstrap, "-P", "-t", topic, "-p", "0", "-H", "a=1", "-H", "a=2",
         "-H", "trace=xyz", stdin=b"with headers\n")
    out = kcat("-b", broker.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e",
               "-f", "%h|%s|%p|%o\n")
    assert out == "a=1,a=2,trace=xyz|with headers|0|0\n"
    md = kcat("-b", broker.bootstrap, "-L", "-t", topic)
    assert f'topic "{topic}" with 1 partitions:' in md
    assert "partition 0, leader 1, replicas: 1, isrs: 1" in md
