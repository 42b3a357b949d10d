"""Typed failures of cloud calls, classified by what a caller may safely do next.

Classification is by the service's error Code, not the HTTP status (one code's status differs
between products). Four outcomes matter to a caller of a non-idempotent action such as
SaveSingleTaskForDeletingDSRecord:

- RetryableError: not processed (throttled, unavailable, never connected): retried here, with
  backoff, within the invocation's deadline.
- OutcomeUnknownError: it may have been processed (InternalError, a timeout or a cut answer
  after the request was sent, a gateway's 502/504 page). Resubmitting blindly can create a
  second task: reconcile first.
- DeferredError: not processed, and this invocation cannot make it succeed (an expired token,
  a clock that is off, a permission missing, a signature the service does not accept). Never
  final: the request stays open, and a later delivery, with fresh credentials or a fixed policy,
  makes it.
- PermanentError: the service refused the request itself (bad parameters, a domain outside the
  account): asking again cannot succeed.

For read-only actions an unknown outcome is harmless, so it is reported as retryable.
The tables below are every code the clients know; the README's classification table is checked
against them.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Iterable, Optional, Tuple
from urllib.parse import quote

REDACTED = "***"

RETRYABLE, UNKNOWN, DEFERRED, FINAL = "retryable", "unknown", "deferred", "final"

# (code or glob, kind, why): the first match wins.
CodeRules = Tuple[Tuple[str, str, str], ...]

DOMAIN_CODES: CodeRules = (
    ("Throttling*", RETRYABLE, "throttled; x-acs-retry-after honoured"),
    ("ServiceUnavailable", RETRYABLE, "the service could not take the call"),
    ("SignatureNonceUsed", RETRYABLE, "sent again with a fresh nonce"),
    ("InternalError", UNKNOWN, "the service failed while it may have acted"),
    ("InternalServerError", UNKNOWN, "as InternalError"),
    ("UnknownError", UNKNOWN, "as InternalError"),
    ("InvalidSecurityToken.*", DEFERRED, "the STS token expired or is wrong: the next delivery has fresh credentials"),
    ("MissingSecurityToken", DEFERRED, "STS credentials without their token"),
    ("InvalidAccessKeyId.*", DEFERRED, "the AccessKey is unknown or disabled"),
    ("InvalidTimeStamp.*", DEFERRED, "this host's clock is off by more than 15 minutes"),
    ("SignatureDoesNotMatch", DEFERRED, "the signature was refused (a secret that changed, or a bug)"),
    ("IncompleteSignature", DEFERRED, "as SignatureDoesNotMatch"),
    ("Forbidden*", DEFERRED, "the function's role lacks the action (Forbidden.RAM)"),
    ("NoPermission*", DEFERRED, "as Forbidden.RAM"),
    ("InvalidApi.NotFound", DEFERRED, "a wrong endpoint or API version in the settings"),
    ("InvalidVersion", DEFERRED, "as InvalidApi.NotFound"),
    ("MissingParameter", FINAL, "the request lacks a parameter"),
    ("InvalidParameter*", FINAL, "a parameter breaks the API's rules"),
    ("DomainNotExist", FINAL, "the domain is not in this account (code unverified)"),
    ("*", FINAL, "any other code with a 4xx status: the service refused this request (with a 5xx "
           "status: as a gateway's page of that status)"),
)

MNS_CODES: CodeRules = (
    ("TooManyRequests", RETRYABLE, "throttled"),
    ("QpsLimitExceeded", RETRYABLE, "throttled (the older code)"),
    ("ServiceUnavailable", RETRYABLE, "the service could not take the call"),
    ("InternalError", UNKNOWN, "the message may have been accepted"),
    ("InternalServerError", UNKNOWN, "as InternalError"),
    ("AccessDenied", DEFERRED, "the role may not publish or send here, or its token expired"),
    ("InvalidAccessKeyId", DEFERRED, "the AccessKey is unknown"),
    ("SignatureDoesNotMatch", DEFERRED, "the signature was refused"),
    ("TimeExpired", DEFERRED, "this host's clock is off"),
    ("TopicNotExist", DEFERRED, "NOTIFY_TOPIC names no topic: fix the setting"),
    ("QueueNotExist", DEFERRED, "WATCH_QUEUE names no queue: fix the setting"),
    ("*", FINAL, "any other code with a 4xx status: the message itself was refused (5xx: as a gateway's page)"),
)

# What a status says when the body is not the service's own error (a gateway's page).
GATEWAY_STATUSES = (
    ("429", RETRYABLE, "a gateway's throttling page: the call did not reach the service"),
    ("503", RETRYABLE, "a gateway's unavailable page"),
    ("5xx", UNKNOWN, "a gateway's 502 or 504 page: the service may still act on the call, so a new send "
                     "waits RECONCILE_SETTLE_SECONDS"),
    ("4xx", DEFERRED, "a gateway's refusal page: the call did not reach the service"),
)

# Failures of the transport itself, named by the clients.
TRANSPORT_CODES = (
    ("ConnectionRefused", RETRYABLE, "nothing was sent"),
    ("ConnectTimeout", RETRYABLE, "nothing was sent"),
    ("DeadlineReached", RETRYABLE, "no time left in this invocation: nothing was sent"),
    ("ClientRateLimited", RETRYABLE, "no slot under MAX_REQUESTS_PER_SECOND in the time left: nothing was sent"),
    ("ReadTimeout", UNKNOWN, "no answer within the call's time budget"),
    ("ConnectionLost", UNKNOWN, "the connection broke after the request was sent"),
    ("IncompleteAnswer", UNKNOWN, "the answer was cut short mid-stream"),
    ("InvalidResponse", UNKNOWN, "a 2xx answer that cannot be read"),
    ("MissingTaskNo", UNKNOWN, "a 2xx deletion answer without a TaskNo"),
    ("TransportError", UNKNOWN, "any other failure after sending"),
)


class CloudError(Exception):
    """A failed call to a cloud service. The message never contains a secret."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        service: str,
        action: str,
        request_id: Optional[str] = None,
        http_status: Optional[int] = None,
        retry_after_seconds: Optional[float] = None,
        answered_by_service: bool = False,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.service = service
        self.action = action
        self.request_id = request_id
        self.http_status = http_status
        self.retry_after_seconds = retry_after_seconds
        # The service itself answered (its own JSON or XML error): it has finished with the call.
        # A gateway's page, a timeout or a cut answer says nothing of what the service still does.
        self.answered_by_service = answered_by_service

    def __str__(self) -> str:
        request_id = f" (RequestId {self.request_id})" if self.request_id else ""
        return f"{self.service} {self.action} failed: {self.code}: {self.message}{request_id}"


class RetryableError(CloudError):
    """Not processed: the same request may be sent again (after a backoff)."""


class OutcomeUnknownError(CloudError):
    """Possibly processed: reconcile before sending the same request again."""


class DeferredError(CloudError):
    """Not processed, and not worth retrying in this invocation: left for a later delivery."""


class PermanentError(CloudError):
    """Refused for good: sending the same request again cannot succeed."""


KIND_CLASSES = {RETRYABLE: RetryableError, UNKNOWN: OutcomeUnknownError, DEFERRED: DeferredError,
                FINAL: PermanentError}
TRANSIENT = (RetryableError, OutcomeUnknownError, DeferredError)  # the request stays open


def kind_of(code: str, rules: CodeRules) -> Tuple[str, str]:
    """The kind of a code, and the pattern that decided it."""
    return next((kind, pattern) for pattern, kind, _ in rules if fnmatchcase(code, pattern))


def _kind_of_status(http_status: int) -> str:
    if http_status in (429, 503):
        return RETRYABLE
    return UNKNOWN if http_status >= 500 else DEFERRED


def classify(code: Optional[str], http_status: int, *, rules: CodeRules, mutating: bool) -> type:
    """The error class of a failed answer: by the service's Code when the body carried one,
    else (a gateway's page) by the HTTP status. A code nobody listed with a 5xx status is not
    a refusal: the service failed while it may have acted."""
    kind, pattern = kind_of(code, rules) if code else (_kind_of_status(http_status), "")
    if pattern == "*" and http_status >= 500:
        kind = _kind_of_status(http_status)
    if kind == UNKNOWN and not mutating:
        kind = RETRYABLE  # a read that may have happened harms nothing
    return KIND_CLASSES[kind]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove secrets, also in the percent-encoded forms a service may echo back (a V1
    SignatureDoesNotMatch message quotes the string to sign, token included, encoded twice)."""
    for secret in secrets:
        if not secret:
            continue
        once = quote(secret, safe="~")
        for form in (secret, once, quote(once, safe="~")):
            text = text.replace(form, REDACTED)
    return text
