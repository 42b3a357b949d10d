"""schemathesis hooks for the webhook's OpenAPI document (tests/e2e/schemathesis.toml names
this module; test_openapi_schemathesis.py runs the CLI with it).

- With WEBHOOK_SECRET in the environment, every request is signed as the document's security
  schemes say, over the exact bytes sent: `X-Webhook-Timestamp` and `X-Webhook-Signature:
  v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. Written from the document, not from
  the function's code, so the recipe people read is what is proven.
- Bodies with a float that is a whole number (12.0) are not generated: JSON Schema cannot tell
  12.0 from 12 (both are "integer"), while the function reads a KeyTag only as written without a
  fraction or an exponent, as the document says.
- `batch_items_refused`: an array that breaks the request schema in one of its items is answered
  `207` (each item has its own result), so schemathesis's negative_data_rejection accepts a `207`;
  this check makes sure some item was then refused in its own result.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

import requests
import schemathesis
from schemathesis.core.parameters import ParameterLocation

WINDOW_SECONDS = 300  # the document: a timestamp within 300 s of the function's clock


class WebhookSigner(requests.auth.AuthBase):
    """Signs each prepared request. A signature is accepted once, and it covers only the timestamp
    and the body (not the path or the method), so two requests with the same body (every GET) get
    different timestamps within the window."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode("utf-8")
        self.used: set = set()
        self.lock = threading.Lock()

    def timestamp(self, body: bytes) -> int:
        now = int(time.time())
        with self.lock:
            for offset in range(WINDOW_SECONDS - 30):
                for candidate in (now - offset, now + offset):
                    if (candidate, body) not in self.used:
                        self.used.add((candidate, body))
                        return candidate
        raise RuntimeError("no unused timestamp left in the window for this body")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        timestamp = str(self.timestamp(body))
        digest = hmac.new(self.secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
        request.headers["X-Webhook-Timestamp"] = timestamp
        request.headers["X-Webhook-Signature"] = f"v1={digest}"
        return request


SIGNER = WebhookSigner(os.environ["WEBHOOK_SECRET"]) if os.environ.get("WEBHOOK_SECRET") else None


if SIGNER is not None:
    @schemathesis.auth(refresh_interval=None)
    class SignedWebhook:
        """Every case signed as it is sent, except one whose headers break the document on purpose
        (no signature, or a malformed one): the function must refuse that one (401)."""

        def get(self, case, context):
            return SIGNER

        def set(self, case, signer, context):
            header = case.meta.components.get(ParameterLocation.HEADER) if case.meta is not None else None
            if header is None or not header.mode.is_negative:
                case._auth = signer  # requests calls it with the prepared request: its exact body


def has_whole_float(value) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(has_whole_float(item) for item in value.values())
    if isinstance(value, list):
        return any(has_whole_float(item) for item in value)
    return False


@schemathesis.hook
def filter_body(context, body):
    return not has_whole_float(body)


@schemathesis.check
def batch_items_refused(ctx, response, case):
    """A body that breaks the schema and is answered 207 must have an item refused (4xx) in it."""
    meta = case.meta
    if meta is None or response.status_code != 207:
        return None
    body = meta.components.get(ParameterLocation.BODY)
    if body is None or not body.mode.is_negative:
        return None
    statuses = [item.get("Status") for item in response.json() if isinstance(item, dict)]
    if not any(isinstance(status, int) and 400 <= status < 500 for status in statuses):
        raise AssertionError(f"An array that breaks the request schema was answered 207 with no item refused "
                             f"(statuses {statuses})")
    return None
