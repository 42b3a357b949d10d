"""The webhook signature check and the domain allowlist, on their own."""
from __future__ import annotations

import pytest

from deleter.allowlist import DomainAllowlist
from deleter.idempotency import InMemoryStore
from deleter.settings import ConfigurationError, Settings
from triggers.webhook import WebhookVerifier, sign

SECRET = "a-webhook-secret-of-some-length-32+"
BODY = b'{"DomainName": "example.com", "KeyTag": 1}'
NOW = 1_800_000_000


def verifier(now=NOW):
    return WebhookVerifier(SECRET, InMemoryStore().first_use, clock=lambda: now)


def headers(timestamp=NOW, body=BODY, secret=SECRET):
    return {"X-Webhook-Timestamp": str(timestamp), "X-Webhook-Signature": sign(secret, str(timestamp), body)}


def test_signature_is_v1_hex_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1800000000", BODY) == "v1=" + expected


def test_a_signed_fresh_request_passes_once():
    check = verifier()
    assert check.refusal(headers(), BODY) is None
    assert check.refusal(headers(), BODY) == "replayed signature"


def test_header_names_are_case_insensitive():
    given = {name.lower(): value for name, value in headers().items()}
    assert verifier().refusal(given, BODY) is None


@pytest.mark.parametrize("given, reason", [
    ({}, "unsigned"),
    ({"X-Webhook-Timestamp": str(NOW)}, "unsigned"),
    ({"X-Webhook-Timestamp": "soon", "X-Webhook-Signature": "v1=00"}, "malformed timestamp"),
    (headers(timestamp=NOW - 301), "stale timestamp"),
    (headers(timestamp=NOW + 301), "stale timestamp"),
    (headers(secret="another-secret-entirely"), "wrong signature"),
    (headers(body=b"{}"), "wrong signature"),
    ({**headers(), "X-Webhook-Signature": headers()["X-Webhook-Signature"].replace("v1=", "v2=")}, "wrong signature"),
])
def test_each_failure_is_refused(given, reason):
    assert verifier().refusal(given, BODY) == reason


def test_the_edges_of_the_window_pass():
    assert verifier().refusal(headers(timestamp=NOW - 300), BODY) is None
    assert verifier().refusal(headers(timestamp=NOW + 300), BODY) is None


def test_a_refused_signature_is_not_remembered():
    check = verifier()
    assert check.refusal(headers(secret="another-secret-entirely"), BODY) == "wrong signature"
    assert check.refusal(headers(), BODY) is None


def test_the_secret_is_not_in_the_repr():
    assert SECRET not in repr(verifier())


@pytest.mark.parametrize("domain, allowed", [
    ("example.com", True), ("www.example.com", False), ("a.b.example.net", True), ("example.net", False),
    ("xn--bcher-kva.example", True), ("notexample.net", False), ("other.org", False),
])
def test_allowlist_exact_names_and_suffix_patterns(domain, allowed):
    settings = Settings.from_environ({"NOTIFY_TOPIC": "t", "ALLOWED_DOMAINS": "Example.COM., *.example.net, Bücher.example"})
    assert settings.allowed_domains == ("example.com", "*.example.net", "xn--bcher-kva.example")
    assert DomainAllowlist(settings.allowed_domains).allows(domain) is allowed


def test_an_empty_allowlist_allows_everything():
    assert DomainAllowlist(()).allows("anything.example")


def test_bad_allowlist_entries_and_short_secrets_are_configuration_errors():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({"NOTIFY_TOPIC": "t", "ALLOWED_DOMAINS": "example.com, *.com, bad_name.org",
                               "WEBHOOK_SECRET": "short"})
    message = str(caught.value)
    assert "ALLOWED_DOMAINS has an entry" in message and "WEBHOOK_SECRET must be at least 32" in message
    assert "short" not in message.replace("WEBHOOK_SECRET", "")


def test_secrets_are_not_in_the_settings_repr():
    settings = Settings.from_environ({"NOTIFY_TOPIC": "t", "WEBHOOK_SECRET": SECRET,
                                      "REDIS_URL": "redis://:p4ssw0rd@tair.example:6379/0"})
    assert SECRET not in repr(settings) and "p4ssw0rd" not in repr(settings)
