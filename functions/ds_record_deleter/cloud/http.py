"""The one pooled HTTP session an instance shares, each call's total time budget, and transport
failures as typed errors."""
from __future__ import annotations

import io
import logging
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Optional, Tuple

import requests
import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from .errors import OutcomeUnknownError, RetryableError

# urllib3 logs every request line at DEBUG, and with the V1 signature that line carries the
# SecurityToken in its query string: whatever level the runtime gives the root logger, not here.
logging.getLogger("urllib3").setLevel(logging.WARNING)

Timeout = Tuple[float, float]  # (connect, read) seconds
TimeLeft = Callable[[], float]  # seconds the invocation still has for this call
MIN_CALL_SECONDS = 0.05  # less than this left: the call is not started at all


def endpoint_url(endpoint: str) -> str:
    """'domain-intl.aliyuncs.com' and 'https://domain-intl.aliyuncs.com/' alike -> a base URL."""
    endpoint = endpoint.strip().rstrip("/")
    return endpoint if "://" in endpoint else f"https://{endpoint}"


def utc_now() -> datetime:
    """The clients' default clock (signatures carry the time; tests pass their own clock)."""
    return datetime.now(timezone.utc)


class _CallBudget(threading.local):
    """The monotonic time by which this thread's current call must be over (None: no call)."""
    ends_at: Optional[float] = None


_budget = _CallBudget()


class _BudgetedSocket:
    """A connection's socket whose every blocking operation is cut to what the current call's
    total budget has left: a server that dribbles an answer byte by byte, or stalls mid-body,
    cannot keep a call past it (a socket timeout alone restarts with every byte)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()  # what urllib3 asked for; the budget may cut it

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def settimeout(self, timeout: Optional[float]) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def _cut(self) -> None:
        ends_at = _budget.ends_at
        if ends_at is None:
            return
        left = ends_at - time.monotonic()
        if left <= 0:
            raise socket.timeout("the call's time budget is spent")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        self._cut()
        return self._sock.recv_into(buffer, nbytes, flags)

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._cut()
        return self._sock.recv(size, flags)

    def sendall(self, data, flags: int = 0) -> None:
        self._cut()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "r", buffering: Optional[int] = None, **kwargs):
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)
        return io.BufferedReader(_BudgetedReader(self), buffering or io.DEFAULT_BUFFER_SIZE)


class _BudgetedReader(io.RawIOBase):
    """What http.client reads an answer from: every read through the budgeted socket."""

    def __init__(self, sock: _BudgetedSocket) -> None:
        super().__init__()
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._sock.recv_into(buffer)


class _BudgetedHTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _BudgetedSocket(self.sock)


class _BudgetedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # the TLS handshake is bounded by the connect timeout
        self.sock = _BudgetedSocket(self.sock)


class _BudgetedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _BudgetedHTTPConnection


class _BudgetedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _BudgetedHTTPSConnection


def _origin_and_path(url: str) -> Tuple[str, str]:
    """'http://host:port/path?query' -> ('http://host:port', '/path?query')."""
    start = url.find("/", url.find("//") + 2)
    return (url, "/") if start < 0 else (url[:start], url[start:])


class _Response(requests.Response):
    """A requests.Response without the cookie jar every Response makes (an answer's cookies are
    never read here): the jar is made only if something asks for it."""

    def __init__(self) -> None:  # requests.Response.__init__, less the jar
        self._content = False
        self._content_consumed = False
        self._next = None
        self.status_code = None
        self.headers = CaseInsensitiveDict()
        self.raw = None
        self.url = None
        self.encoding = None
        self.history = []
        self.reason = None
        self.elapsed = timedelta(0)
        self.request = None

    @property
    def cookies(self):
        jar = self.__dict__.get("_cookies")
        if jar is None:
            jar = self.__dict__["_cookies"] = requests.cookies.RequestsCookieJar()
        return jar

    @cookies.setter
    def cookies(self, jar) -> None:
        self.__dict__["_cookies"] = jar


class BudgetedAdapter(HTTPAdapter):
    """requests' adapter over pools whose connections honour the current call's budget, cut to
    what signed calls to two fixed hosts need. HTTPAdapter.send still sends and maps every
    urllib3 failure to requests' exceptions; per call it no longer selects a proxy (a signed call
    goes straight to its endpoint: the session never read the environment's proxies anyway),
    looks up its pool and the CA bundle's path (one pool per origin, kept), nor fills a cookie
    jar (make bench: about 0.05 ms of CPU per call)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _BudgetedHTTPPool, "https": _BudgetedHTTPSPool}
        self._pools: dict = {}

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        origin = _origin_and_path(request.url)[0]
        pool = self._pools.get((origin, verify, cert))
        if pool is None or pool.pool is None:  # new, or closed (evicted by the pool manager)
            pool = super().get_connection_with_tls_context(request, verify, proxies=None, cert=cert)
            super().cert_verify(pool, request.url, verify, cert)
            self._pools[(origin, verify, cert)] = pool
        return pool

    def cert_verify(self, conn, url, verify, cert) -> None:
        """Done once, when the origin's pool is first taken (get_connection_with_tls_context)."""

    def request_url(self, request, proxies) -> str:
        """The path and query: the clients build absolute URLs that no proxy ever rewrites."""
        return _origin_and_path(request.url)[1]

    def build_response(self, req, resp) -> requests.Response:
        response = _Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response


def new_session(pool_size: int) -> requests.Session:
    """Keep-alive connections for as many calls as a batch keeps in flight. The adapter never
    retries by itself: whether a retry is safe is decided above, by what the error means."""
    session = requests.Session()
    adapter = BudgetedAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _never_connected(error: requests.ConnectionError) -> bool:
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _timed_out(error: requests.ConnectionError) -> bool:
    """A read that ran out of time while the body streamed (requests reports it as a
    ConnectionError)."""
    cause = error.args[0] if error.args else None
    return isinstance(cause, ReadTimeoutError) or isinstance(getattr(cause, "reason", None), ReadTimeoutError)


def _prepared(method: str, url: str, headers: Mapping[str, str], body: bytes) -> requests.PreparedRequest:
    """The request exactly as the adapter sends it. The clients build the URL and every header
    themselves (the URL already percent-encoded, the host ASCII), so requests' general-purpose
    preparation (URL re-parsing, IDNA, cookies, auth, hooks) is skipped."""
    prepared = requests.PreparedRequest()
    prepared.method = method
    prepared.url = url
    prepared.headers = CaseInsensitiveDict(headers)
    if body or method not in ("GET", "HEAD"):  # what requests itself sends for a body
        prepared.headers["Content-Length"] = str(len(body))
        prepared.body = body
    return prepared


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    timeout: Timeout,
    service: str,
    action: str,
    mutating: bool,
    time_left: Optional[TimeLeft] = None,
) -> requests.Response:
    """Send one request and read its whole answer, within one total time budget: connect, send
    and every read together take at most connect + read timeout, and never more than time_left()
    (no call outlives the invocation). A failure before the request left is retryable; after it
    left, the outcome of a mutating call is unknown, also when the answer is cut mid-stream."""
    budget = timeout[0] + timeout[1]
    if time_left is not None:
        budget = min(budget, time_left())
        if budget < MIN_CALL_SECONDS:
            raise RetryableError("DeadlineReached", "No time is left in this invocation for the call",
                                 service=service, action=action)
    timeout = (min(timeout[0], budget), min(timeout[1], budget))
    after_sending = OutcomeUnknownError if mutating else RetryableError
    where = url.split("/", 3)[2]  # host:port, so that a failure says which endpoint it came from
    prepared = _prepared(method, url, headers, body)
    _budget.ends_at = time.monotonic() + budget
    try:
        # Straight to the transport adapter: a signed call is never redirected and carries no
        # cookies, so Session.send's redirect, cookie, hook and proxy handling is work for nothing.
        response = session.get_adapter(url).send(prepared, timeout=timeout)
        response.content  # the body is read here: a cut or stalled one is this call's failure
        return response
    except requests.ConnectTimeout:
        raise RetryableError("ConnectTimeout", f"Connecting to {where} timed out",
                             service=service, action=action) from None
    except requests.ConnectionError as error:
        if _never_connected(error):
            raise RetryableError("ConnectionRefused", f"{where} refused the connection (nothing listens there?)",
                                 service=service, action=action) from None
        if _timed_out(error):
            raise after_sending("ReadTimeout", f"No whole answer from {where} within the call's {budget:.3g} s",
                                service=service, action=action) from None
        raise after_sending("ConnectionLost", f"The connection to {where} broke after the request was sent",
                            service=service, action=action) from None
    except requests.Timeout:
        raise after_sending("ReadTimeout", f"No whole answer from {where} within the call's {budget:.3g} s",
                            service=service, action=action) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        raise after_sending("IncompleteAnswer", f"The answer from {where} was cut short mid-stream",
                            service=service, action=action) from None
    except requests.RequestException as error:
        raise after_sending("TransportError", f"{type(error).__name__} talking to {where}",
                            service=service, action=action) from None
    finally:
        _budget.ends_at = None


def retry_after_seconds(response: requests.Response) -> Optional[float]:
    """x-acs-retry-after is in milliseconds; absent, malformed or non-positive means none."""
    value = response.headers.get("x-acs-retry-after")
    try:
        milliseconds = int(value) if value is not None else 0
    except ValueError:
        return None
    return milliseconds / 1000 if milliseconds > 0 else None
