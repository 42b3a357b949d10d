"""Who may call the webhook: with WEBHOOK_SECRET set, every request carries

    X-Webhook-Timestamp: <unix seconds>
    X-Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The timestamp must be within 300 seconds of now, the signature is compared in constant time, and
a signature already used within the window is refused (a replay). The caller learns none of
which part failed; the reason goes to the log only.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable, Mapping, Optional

TIMESTAMP_HEADER = "x-webhook-timestamp"
SIGNATURE_HEADER = "x-webhook-signature"
WINDOW_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


class WebhookVerifier:
    def __init__(self, secret: str, first_use: Callable[[str, int], bool],
                 clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._first_use = first_use  # (token, ttl_ms) -> True the first time a token is seen
        self._clock = clock

    def __repr__(self) -> str:
        return "WebhookVerifier(secret=***)"

    def refusal(self, headers: Mapping[str, str], body: bytes) -> Optional[str]:
        """None if the request is signed, fresh and new; else why not (for the log only)."""
        lowered = {str(name).lower(): str(value) for name, value in headers.items()}
        timestamp, given = lowered.get(TIMESTAMP_HEADER, ""), lowered.get(SIGNATURE_HEADER, "")
        if not timestamp or not given:
            return "unsigned"
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            return "malformed timestamp"
        if abs(self._clock() - int(timestamp)) > WINDOW_SECONDS:
            return "stale timestamp"
        if not hmac.compare_digest(sign(self._secret, timestamp, body).encode(), given.strip().encode("utf-8", "replace")):
            return "wrong signature"
        if not self._first_use(f"webhook:{given.strip()}", 2 * WINDOW_SECONDS * 1000):
            return "replayed signature"
        return None
