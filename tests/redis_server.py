"""Real redis-server processes for tests: each on a free 127.0.0.1 port, nothing saved to disk.

Use the fixtures by importing them into a test module (pytest finds fixtures by name there):

    from tests.redis_server import redis_server, redis_server_factory, redis_url  # noqa: F401

    def test_shared(redis_url):                 # "redis://127.0.0.1:PORT", one server per session
        store = RedisIdempotencyStore(RedisClient(redis_url), prefix=f"{uuid.uuid4().hex}:")

    def test_outage(redis_server_factory):      # private servers, killed when the test ends
        server = redis_server_factory(password="s3cret")   # server.url carries the password
        ...
        server.stop()                           # Redis goes away (clients now fail)
        server.start()                          # and comes back on the same port, empty

Fixtures:
- `redis_server` (session): the shared `RedisServer`. Tests share it, so isolate them with a key
  prefix of their own, or call `redis_server.flush()` first.
- `redis_url` (session): `redis_server.url`.
- `redis_server_factory` (per test): `redis_server_factory(password=None, *extra_args)` starts
  another server (extra_args go to redis-server, e.g. "--maxmemory", "1mb").

`RedisServer` also works without pytest's fixtures: `with RedisServer() as server: ...`.
`server.cli(*args)` runs redis-cli against it: an out-of-band view of the server (CLIENT KILL,
SCRIPT FLUSH, reading a key) that does not go through the client under test.

redis-server not installed: the test is skipped on a developer's machine, and fails under CI
(CI set), where .ci/run installs Debian's redis-server.
"""
from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional
from urllib.parse import quote

import pytest

START_TIMEOUT_SECONDS = 10.0
_RUNNING: set = set()  # killed at exit too, should a test run end without its finalizers


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_RUNNING):
        process.kill()


def require_redis_server() -> str:
    """The redis-server executable; else skip the test (fail it under CI)."""
    executable = shutil.which("redis-server")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: CI must install Debian's redis-server "
                        "(.ci/run does: apt-get install redis-server)", pytrace=False)
        pytest.skip("redis-server is not installed (apt install redis-server); CI installs it")
    return executable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One redis-server process. `start()` picks a free port the first time and keeps it."""

    def __init__(self, password: Optional[str] = None, *extra_args: str) -> None:
        self.password = password
        self.port: Optional[int] = None
        self._extra_args = list(extra_args)
        self._dir: Optional[str] = None  # its working directory (and log), made by start()
        self._process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, running={self.running})"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> "RedisServer":
        executable = require_redis_server()
        self._dir = self._dir or tempfile.mkdtemp(prefix="redis-test-")
        for _ in range(3):  # a free port can be taken between probing it and binding it
            port = self.port or _free_port()
            args = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--dir", self._dir, "--logfile", "redis.log", *self._extra_args]
            if self.password:
                args += ["--requirepass", self.password]
            self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.STDOUT)
            _RUNNING.add(self._process)
            if self._answers_ping(port):
                self.port = port
                return self
            self.stop()
        log = self.log()
        self.__exit__(None, None, None)
        raise RuntimeError(f"redis-server did not start; its log:\n{log}")

    def stop(self) -> None:
        """Kill the server (clients see their connections drop and new ones refused)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            _RUNNING.discard(self._process)
            self._process = None

    def flush(self) -> None:
        """Empty every database."""
        assert self.cli("FLUSHALL") == "OK"

    def cli(self, *args: str) -> str:
        """redis-cli's answer (stripped), e.g. cli("-n", "3", "GET", "key")."""
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *auth, *args],
                                capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    def log(self) -> str:
        path = Path(self._dir, "redis.log") if self._dir else None
        return path.read_text(errors="replace") if path and path.exists() else "(no log)"

    def _answers_ping(self, port: int) -> bool:
        """Up when it answers PING (NOAUTH counts: it is listening and speaking RESP)."""
        give_up = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < give_up and self.running:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return True
            except OSError:
                pass
            time.sleep(0.01)
        return False

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


@pytest.fixture(scope="session")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    return redis_server.url


@pytest.fixture
def redis_server_factory() -> Callable[..., RedisServer]:
    servers: List[RedisServer] = []

    def start(password: Optional[str] = None, *extra_args: str) -> RedisServer:
        server = RedisServer(password, *extra_args)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.__exit__(None, None, None)
