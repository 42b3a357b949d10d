"""Typed failures of cloud calls, classified by what a caller may safely do next.

Classification is by the service's error Code, not the HTTP status (one code's status differs
between products). Three outcomes matter to a caller of a non-idempotent action such as
SaveSingleTaskForDeletingDSRecord:

- RetryableError: the request was not processed (throttled, unavailable, never connected).
- OutcomeUnknownError: it may have been processed (InternalError, a timeout or reset after the
  request was sent). Resubmitting blindly can create a second task.
- PermanentError: retrying the same request cannot help (bad parameters, auth, config).

For read-only actions an unknown outcome is harmless, so it is reported as retryable.
"""
from __future__ import annotations

from typing import Iterable, Optional
from urllib.parse import quote

REDACTED = "***"


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
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.service = service
        self.action = action
        self.request_id = request_id
        self.http_status = http_status
        self.retry_after_seconds = retry_after_seconds

    def __str__(self) -> str:
        request_id = f" (RequestId {self.request_id})" if self.request_id else ""
        return f"{self.service} {self.action} failed: {self.code}: {self.message}{request_id}"


class RetryableError(CloudError):
    """Not processed: the same request may be sent again (after a backoff)."""


class OutcomeUnknownError(CloudError):
    """Possibly processed: reconcile before sending the same request again."""


class PermanentError(CloudError):
    """Refused for good: sending the same request again cannot succeed."""


def classify(
    code: str,
    http_status: Optional[int],
    *,
    retryable_codes: Iterable[str],
    unknown_codes: Iterable[str],
    mutating: bool,
) -> type:
    """The error class for a service error Code (the HTTP status only breaks ties)."""
    if code in retryable_codes or code.startswith("Throttling") or http_status == 429:
        return RetryableError
    if code in unknown_codes or (http_status is not None and http_status >= 500 and http_status != 503):
        return OutcomeUnknownError if mutating else RetryableError
    if http_status == 503:
        return RetryableError
    return PermanentError


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
