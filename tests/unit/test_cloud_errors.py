"""Classification by Code, and redaction of secrets from what a service echoes back."""
from __future__ import annotations

import pytest

from cloud.http import endpoint_url
from cloud.errors import (DOMAIN_CODES, MNS_CODES, DeferredError, OutcomeUnknownError, PermanentError,
                          RetryableError, classify, redact)


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
    ("SomethingNew", 400, True, PermanentError),
    ("InvalidParameter", 400, False, PermanentError),
    ("InvalidParameter.KeyTag", 400, True, PermanentError),
    ("MissingParameter", 400, True, PermanentError),
    # Nothing was processed, and only a later delivery can succeed: never final.
    ("SignatureDoesNotMatch", 400, True, DeferredError),
    ("InvalidTimeStamp.Expired", 400, True, DeferredError),
    ("InvalidTimeStamp.Format", 400, True, DeferredError),
    ("InvalidSecurityToken.Expired", 400, True, DeferredError),
    ("InvalidSecurityToken.MismatchWithAccessKey", 400, True, DeferredError),
    ("InvalidAccessKeyId.NotFound", 404, True, DeferredError),
    ("Forbidden.RAM", 403, True, DeferredError),
])
def test_domain_api_classification_is_by_code(code, status, mutating, expected):
    assert classify(code, status, rules=DOMAIN_CODES, mutating=mutating) is expected


@pytest.mark.parametrize("code, status, expected", [
    ("TooManyRequests", 429, RetryableError),
    ("QpsLimitExceeded", 400, RetryableError),
    ("InternalError", 500, OutcomeUnknownError),
    ("AccessDenied", 403, DeferredError),
    ("TimeExpired", 408, DeferredError),
    ("TopicNotExist", 404, DeferredError),
    ("MalformedXML", 400, PermanentError),
])
def test_mns_classification_is_by_code(code, status, expected):
    assert classify(code, status, rules=MNS_CODES, mutating=True) is expected


@pytest.mark.parametrize("status, mutating, expected", [
    (429, True, RetryableError), (503, True, RetryableError),
    (502, True, OutcomeUnknownError), (504, True, OutcomeUnknownError), (500, True, OutcomeUnknownError),
    (502, False, RetryableError),
    (403, True, DeferredError), (404, True, DeferredError),
])
def test_a_page_that_is_not_the_services_own_error_is_classified_by_its_status(status, mutating, expected):
    assert classify(None, status, rules=DOMAIN_CODES, mutating=mutating) is expected


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


def test_the_readme_classification_table_is_the_code_s():
    """Every row of every table, in order, with its kind: the README cannot drift from the code."""
    from pathlib import Path

    from cloud.errors import GATEWAY_STATUSES, TRANSPORT_CODES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = [[cell.strip().strip("`") for cell in line.split("|")[1:4]]
            for line in readme.splitlines() if line.startswith("| ") and line.count("|") == 5]
    tables = {"Domain API": DOMAIN_CODES, "MNS": MNS_CODES, "gateway page, by status": GATEWAY_STATUSES,
              "transport": TRANSPORT_CODES}
    for title, table in tables.items():
        assert [(code, kind) for where, code, kind in rows if where == title] == \
            [(code, kind) for code, kind, _ in table], title
