"""The one pooled HTTP session an instance shares, and transport failures as typed errors."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable, Mapping, Optional, Tuple

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError

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


def new_session(pool_size: int) -> requests.Session:
    """Keep-alive connections for as many calls as a batch keeps in flight. The adapter never
    retries by itself: whether a retry is safe is decided above, by what the error means."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _never_connected(error: requests.ConnectionError) -> bool:
    cause = error.args[0] if error.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


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
    """Send one request. A failure before the request left is retryable; after it left, the
    outcome of a mutating call is unknown. With time_left, no call outlives the invocation."""
    if time_left is not None:
        budget = time_left()
        if budget < MIN_CALL_SECONDS:
            raise RetryableError("DeadlineReached", "No time is left in this invocation for the call",
                                 service=service, action=action)
        timeout = (min(timeout[0], budget), min(timeout[1], budget))
    after_sending = OutcomeUnknownError if mutating else RetryableError
    prepared = _prepared(method, url, headers, body)
    try:
        # Straight to the transport adapter: a signed call is never redirected and carries no
        # cookies, so Session.send's redirect, cookie, hook and proxy handling is work for nothing.
        return session.get_adapter(url).send(prepared, timeout=timeout)
    except requests.ConnectTimeout:
        raise RetryableError("ConnectTimeout", "Connecting to the service timed out",
                             service=service, action=action) from None
    except requests.ConnectionError as error:
        if _never_connected(error):
            raise RetryableError("ConnectionRefused", "The service refused the connection",
                                 service=service, action=action) from None
        raise after_sending("ConnectionLost", "The connection broke after the request was sent",
                            service=service, action=action) from None
    except requests.Timeout:
        raise after_sending("ReadTimeout", f"No answer within {timeout[1]:g} s of sending",
                            service=service, action=action) from None
    except requests.RequestException as error:
        raise after_sending("TransportError", type(error).__name__,
                            service=service, action=action) from None


def retry_after_seconds(response: requests.Response) -> Optional[float]:
    """x-acs-retry-after is in milliseconds; absent, malformed or non-positive means none."""
    value = response.headers.get("x-acs-retry-after")
    try:
        milliseconds = int(value) if value is not None else 0
    except ValueError:
        return None
    return milliseconds / 1000 if milliseconds > 0 else None
