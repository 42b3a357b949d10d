"""A minimal Redis (RESP2) client: enough for the idempotency store's atomic scripts.

Tair speaks the same protocol. A client library would be the only other run-time dependency and
weighs more than this whole file; the store needs AUTH, SELECT, EVALSHA/EVAL, GET and SET.
URL: redis://[[user]:password@]host[:port][/db], or rediss:// for TLS.
"""
from __future__ import annotations

import functools
import hashlib
import select
import socket
import ssl
import threading
from typing import Any, List, Optional, Sequence, Tuple, Union
from urllib.parse import unquote, urlsplit

Reply = Union[None, int, bytes, List[Any], "RedisError"]


class RedisError(Exception):
    """The server answered with an error, or the connection failed. Never carries the password."""


def pairs(flat: List[bytes]) -> dict:
    """A flat [field, value, ...] reply (HGETALL's) as {field: value}."""
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


@functools.lru_cache(maxsize=None)
def _digest(script: str) -> str:
    """A script's SHA-1, as EVALSHA names it: the scripts are constants, hashed once."""
    return hashlib.sha1(script.encode("utf-8")).hexdigest()


URL_RULE = "must look like redis://[:password@]host[:port][/db] (or rediss://), the password URL-encoded"


def parse_url(url: str) -> Tuple[str, int, bool, Optional[str], Optional[str], int]:
    """(host, port, tls, username, password, db); a ValueError saying the rule, never the URL."""
    rule = f"REDIS_URL {URL_RULE}"
    try:
        parts = urlsplit(url)
        port = parts.port
        db = int(parts.path.lstrip("/") or 0)
    except ValueError:
        raise ValueError(rule) from None  # the parser's own message may quote the password
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(rule)
    return (parts.hostname, port or 6379, parts.scheme == "rediss", unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None, db)


class RedisClient:
    """One connection per thread (a batch runs on worker threads), opened lazily."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self._host, self._port, self._tls, self._username, self._password, self._db = parse_url(url)
        self._timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:  # never the password
        return f"RedisClient({'rediss' if self._tls else 'redis'}://{self._host}:{self._port}/{self._db})"

    # --- commands ---------------------------------------------------------------------------

    def execute(self, *args: Union[str, bytes, int]) -> Reply:
        """One command. A connection the server closed while idle is replaced before sending;
        a failure after sending is not retried here (the command may have run)."""
        try:
            return self._round_trip(args)
        except (OSError, ConnectionError) as error:
            self._drop()
            raise RedisError(f"Redis at {self._host}:{self._port} unreachable: {type(error).__name__}") from None

    def eval_script(self, script: str, keys: Sequence[str], args: Sequence[Union[str, int]]) -> Reply:
        """EVALSHA, loading the script with EVAL the first time the server has not seen it."""
        digest = _digest(script)
        try:
            return self.execute("EVALSHA", digest, len(keys), *keys, *args)
        except RedisError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
            return self.execute("EVAL", script, len(keys), *keys, *args)

    def hgetall(self, key: str) -> dict:
        return pairs(self.execute("HGETALL", key) or [])

    # --- connection -------------------------------------------------------------------------

    def _connection(self) -> Any:
        stream = getattr(self._local, "stream", None)
        if stream is not None and self._closed_by_server():
            self._drop()
            stream = None
        if stream is None:
            sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
            try:
                if self._tls:
                    sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self._host)
                stream = sock.makefile("rwb")
                if self._password:
                    credentials = [self._username, self._password] if self._username else [self._password]
                    self._send_and_read(stream, ("AUTH", *credentials))
                if self._db:
                    self._send_and_read(stream, ("SELECT", self._db))
            except BaseException:
                sock.close()  # never keep a connection that is not logged in or in the right db
                raise
            self._local.sock, self._local.stream = sock, stream
        return stream

    def _closed_by_server(self) -> bool:
        """An idle connection with something to read has been closed (or spoken to) by the server."""
        sock = self._local.sock
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _drop(self) -> None:
        sock = getattr(self._local, "sock", None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        self._local.sock = self._local.stream = None

    def _round_trip(self, args: Sequence[Any]) -> Reply:
        return self._send_and_read(self._connection(), args)

    def _send_and_read(self, stream: Any, args: Sequence[Any]) -> Reply:
        stream.write(_encode(args))
        stream.flush()
        reply = _read(stream)
        if isinstance(reply, RedisError):
            raise reply
        return reply


def _encode(args: Sequence[Any]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _read(stream: Any) -> Reply:
    """One whole reply. Errors come back as RedisError values (raised by the caller once the
    reply is read to its end, so the connection stays in step)."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body
    if kind == b"-":
        return RedisError(body.decode("utf-8", "replace"))
    if kind == b":":
        return int(body)
    if kind == b"$":
        length = int(body)
        if length < 0:
            return None
        data = stream.read(length + 2)
        if len(data) != length + 2:
            raise ConnectionError("connection closed")
        return data[:-2]
    if kind == b"*":
        count = int(body)
        if count < 0:
            return None
        items = [_read(stream) for _ in range(count)]
        error = next((item for item in items if isinstance(item, RedisError)), None)
        return error if error is not None else items
    raise ConnectionError(f"unexpected reply type {kind!r}")

