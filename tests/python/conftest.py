"""Fixtures for end-to-end tests with Python Kafka clients and kcat.

Each test gets its own `gregor broker` process on a free loopback port with a
private data directory; it is stopped with SIGTERM at the end of the test and
its log is printed if the test failed. The binary comes from $GREGOR_BIN
(default: target/release/gregor in this repository).
"""

import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 60


def gregor_bin() -> str:
    return os.environ.get("GREGOR_BIN", str(REPO / "target" / "release" / "gregor"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_versions_v0(correlation_id: int) -> bytes:
    client = b"gregor-pytest"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client)) + client
    return struct.pack(">i", len(body)) + body


def answers_api_versions(port: int) -> bool:
    """True if a broker on `port` answers ApiVersions v0 with our correlation id."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(api_versions_v0(4711))
            head = b""
            while len(head) < 8:
                chunk = s.recv(8 - len(head))
                if not chunk:
                    return False
                head += chunk
            return struct.unpack(">i", head[4:8])[0] == 4711
    except OSError:
        return False


class Broker:
    def __init__(self, tmp: Path, overrides=()):
        self.overrides = list(overrides)
        self.port = free_port()
        self.dir = tmp
        self.data = tmp / "data"
        self.data.mkdir()
        self.log_path = tmp / "broker.log"
        self.proc = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        listener = f"PLAINTEXT://127.0.0.1:{self.port}"
        args = [gregor_bin(), "broker",
                "--override", f"listeners={listener}",
                "--override", f"advertised.listeners={listener}",
                "--override", f"log.dirs={self.data}"]
        for o in self.overrides:
            args += ["--override", o]
        log = open(self.log_path, "ab")
        env = dict(os.environ, NO_COLOR="1")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir, env=env)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}\n{self.log_tail()}")
            if answers_api_versions(self.port):
                return
            time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError(f"broker not ready within {READY_TIMEOUT_S}s\n{self.log_tail()}")

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"broker ignored SIGTERM for {STOP_TIMEOUT_S}s\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError as e:
            return f"(no broker log: {e})"
        return "\n".join(["---- gregor broker log tail ----", *lines[-LOG_TAIL_LINES:]])


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def broker(tmp_path, request):
    b = Broker(tmp_path)
    b.start()
    yield b
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(b.log_tail())
    code = b.stop()
    assert code == 0, f"broker exit status after SIGTERM: {code}\n{b.log_tail()}"
