"""Classification by Code, and redaction of secrets from what a service echoes back."""
from __future__ import annotations

import pytest

from cloud.domain_api import RETRYABLE_CODES, UNKNOWN_OUTCOME_CODES
from cloud.http import endpoint_url
from cloud.errors import OutcomeUnknownError, PermanentError, RetryableError, classify, redact


@pytest.mark.parametrize("code, status, mutating, expected", [
    ("Throttling.User", 400, True, RetryableError),
    ("Throttling.Api", 400, True, RetryableError),
    ("Throttling", 503, True, RetryableError),
    ("ServiceUnavailable", 503, True, RetryableError),
    ("SignatureNonceUsed", 400, True, RetryableError),
    ("InternalError", 500, True, OutcomeUnknownError),
    ("InternalError", 500, False, RetryableError),
    ("SomethingNew", 502, True, OutcomeUnknownError),
    ("SomethingNew", 503, True, RetryableError),
    ("TooManyRequests", 429, True, RetryableError),
    ("SignatureDoesNotMatch", 400, True, PermanentError),
    ("InvalidTimeStamp.Expired", 400, True, PermanentError),
    ("Forbidden.RAM", 403, True, PermanentError),
    ("InvalidParameter", 400, False, PermanentError),
])
def test_classification_is_by_code(code, status, mutating, expected):
    assert classify(code, status, retryable_codes=RETRYABLE_CODES, unknown_codes=UNKNOWN_OUTCOME_CODES,
                    mutating=mutating) is expected


def test_redaction_covers_raw_and_percent_encoded_forms():
    token = "CAIS+tok/en=="
    text = f"string to sign is:POST&%2F&SecurityToken%3DCAIS%252Btok%252Fen%253D%253D and {token} and CAIS%2Btok%2Fen%3D%3D"
    cleaned = redact(text, [token, None])
    assert "tok" not in cleaned and cleaned.count("***") == 3


@pytest.mark.parametrize("given, url", [
    ("domain.aliyuncs.com", "https://domain.aliyuncs.com"),
    ("https://domain-intl.aliyuncs.com/", "https://domain-intl.aliyuncs.com"),
    ("http://127.0.0.1:9100", "http://127.0.0.1:9100"),
])
def test_endpoints_become_base_urls(given, url):
    assert endpoint_url(given) == url
