"""The webhook as an operator calls it: a deletion request POSTed and GET /tasks/<TaskNo>, each
signed as triggers/webhook.py checks it, and a POST sent again (bounded) after a 503, a 504, a
request still in progress or a timeout: with a new timestamp and signature (each is good for one
request) and the same body, so its IdempotencyKey makes it the same request."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import quote, urlsplit

import requests

from cloud.errors import OutcomeUnknownError, RetryableError
from cloud.http import new_session, send
from triggers.webhook import sign

from .errors import NOT_DONE, Problem

SERVICE = "webhook"
MAX_RETRY_DELAY_SECONDS = 30.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: Optional[dict]  # the JSON object answered; None when it was not one (a gateway's page)
    text: str = ""
    headers: dict = field(default_factory=dict)

    @property
    def code(self) -> str:
        return str((self.body or {}).get("Code") or "")

    def describe(self) -> str:
        """'409 DeletionWouldBreakDNSSEC: <Message>', or the status and the start of a page."""
        if self.body is None:
            return f"{self.status} (not JSON: {self.text[:120]!r})"
        message = (self.body or {}).get("Message")
        return f"{self.status} {self.code}: {message}" if self.code else str(self.status)


def webhook_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Problem(f"--webhook must be an http(s) URL such as http://127.0.0.1:9000/ (got {text[:80]!r})")
    return text.strip()


class Webhook:
    def __init__(self, url: str, secret: Optional[str], *, session: Optional[requests.Session] = None,
                 request_timeout: float = 65.0, retries: int = 3, report: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = webhook_url(url)
        parts = urlsplit(self.url)
        self._origin = f"{parts.scheme}://{parts.netloc}"  # GET /tasks/<TaskNo> is routed at the root
        self._secret = secret
        self._session = session or new_session(1)
        self._timeout = (min(5.0, request_timeout), request_timeout)
        self._retries = retries
        self._report = report
        self._clock = clock
        self._sleep = sleep
        self._last_timestamp = 0

    def __repr__(self) -> str:
        return f"Webhook({self.url!r}, secret=***)"

    def post(self, request: dict) -> Answer:
        """The request POSTed; sent again, re-signed, while the answer says to try again."""
        body = json.dumps(request).encode("utf-8")
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                answer = self._call("POST", self.url, body, mutating=True)
            except (RetryableError, OutcomeUnknownError) as error:
                # Nothing listens, and nothing ever did: the URL (or make run) is wrong. Once a POST
                # may have arrived, a refused retry leaves its outcome unknown, as any other failure.
                if error.code == "ConnectionRefused" and attempt == 0:
                    raise Problem(f"cannot reach the webhook: {error.message}") from None
                if last:
                    raise Problem(f"no answer from the webhook after {attempt + 1} attempts ({error.code}: "
                                  f"{error.message}); whether the deletion was made is not known: send it again "
                                  "with the same --idempotency-key", NOT_DONE) from None
                self._retry_after(attempt, None, f"{error.code}: {error.message}")
                continue
            if last or not self._try_again(answer):
                return answer
            self._retry_after(attempt, answer.headers.get("retry-after"), answer.describe())
        raise AssertionError("unreachable")

    def task(self, task_no: str) -> Answer:
        """GET /tasks/<TaskNo>, signed over the empty body; one try (follow asks again)."""
        return self._call("GET", f"{self._origin}/tasks/{quote(task_no, safe='')}", b"", mutating=False)

    @staticmethod
    def _try_again(answer: Answer) -> bool:
        """Unavailable, throttled, an unknown outcome (the same key reconciles it), or the same
        request still in progress elsewhere; any other refusal (a 409 of the safety check) is final."""
        return answer.status in (429, 503, 504) or (answer.status == 409 and answer.code == "RequestInProgress")

    def _retry_after(self, attempt: int, retry_after: Optional[str], why: str) -> None:
        try:
            delay = float(retry_after) if retry_after else 2.0 ** attempt
        except ValueError:
            delay = 2.0 ** attempt
        delay = min(max(delay, 1.0), MAX_RETRY_DELAY_SECONDS)
        self._report(f"webhook: {why}; sending it again in {delay:g} s (attempt {attempt + 2} of {self._retries + 1})")
        self._sleep(delay)

    def _call(self, method: str, url: str, body: bytes, *, mutating: bool) -> Answer:
        """One request; a 401 once more, signed in a later second: the same body signed in the
        same second (a GET's empty body, a dry run asked twice, by this process or another) has
        the same signature, refused as a replay. A 401 means nothing was done, so it is safe."""
        answer = self._call_once(method, url, body, mutating=mutating)
        if answer.status == 401 and self._secret is not None:
            self._report("webhook: 401; signing it again with a later timestamp (a signature is good for one request)")
            answer = self._call_once(method, url, body, mutating=mutating)
        return answer

    def _call_once(self, method: str, url: str, body: bytes, *, mutating: bool) -> Answer:
        headers = {"Content-Type": "application/json"} if body else {}
        if self._secret is not None:
            timestamp = str(self._fresh_timestamp())
            headers.update({"X-Webhook-Timestamp": timestamp,
                            "X-Webhook-Signature": sign(self._secret, timestamp, body)})
        response = send(self._session, method, url, headers=headers, body=body, timeout=self._timeout,
                        service=SERVICE, action=f"{method} {urlsplit(url).path or '/'}", mutating=mutating)
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return Answer(response.status_code, parsed if isinstance(parsed, dict) else None,
                      response.text, {name.lower(): value for name, value in response.headers.items()})

    def _fresh_timestamp(self) -> int:
        """A second not used before: the same body signed twice in one second gives the same
        signature, which the webhook refuses as a replay."""
        now = int(self._clock())
        while now <= self._last_timestamp:
            self._sleep(self._last_timestamp + 1 - self._clock())
            now = int(self._clock())
        self._last_timestamp = now
        return now


def unsigned_refusal() -> Problem:
    """A 401: the webhook tells no detail, so the line names what to check."""
    return Problem("the webhook refused the request as not signed as it requires (401): is WEBHOOK_SECRET the "
                   "function's secret (and was it set for this webhook), and this machine's clock right?")
