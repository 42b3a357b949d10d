"""Who may ask: the webhook's HMAC signature, ALLOWED_DOMAINS, size and shape limits; and no secret
in any log line, error or notification of a run full of failures."""
from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote

import pytest

from triggers.webhook import sign

from .conftest import EVENTS

SECRET = "webhook-secret-for-tests-0123456789"
HTTP_EVENT = json.loads((EVENTS / "http_post.json").read_text())
BODY = '{"DomainName": "example.net", "KeyTag": 31589}'


def signed_event(body: str = BODY, *, secret: str = SECRET, timestamp: int = None, signature: str = None) -> dict:
    event = json.loads(json.dumps(HTTP_EVENT))
    timestamp = int(time.time()) if timestamp is None else timestamp
    event["body"] = body
    event["headers"]["X-Webhook-Timestamp"] = str(timestamp)
    event["headers"]["X-Webhook-Signature"] = signature or sign(secret, str(timestamp), body.encode())
    return event


@pytest.fixture
def webhook(function, monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    return function


def assert_unauthorized(function, answer):
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"]) == {"Code": "Unauthorized",
                                          "Message": "The request is not signed as this webhook requires"}
    assert function.cloud_calls() == []


def test_a_signed_request_is_accepted(webhook):
    answer = webhook.invoke(signed_event())
    assert answer["statusCode"] == 202 and len(webhook.tasks()) == 1


def test_a_signature_over_a_base64_body_covers_the_raw_bytes(webhook):
    event = signed_event()
    event["body"], event["isBase64Encoded"] = base64.b64encode(BODY.encode()).decode(), True
    assert webhook.invoke(event)["statusCode"] == 202


@pytest.mark.parametrize("spoil", [
    lambda e: e["headers"].pop("X-Webhook-Signature"),                           # unsigned
    lambda e: e["headers"].update({"X-Webhook-Signature": "v1=" + "0" * 64}),   # wrong signature
    lambda e: e.update(body=BODY.replace("31589", "2371")),                       # body changed after signing
    lambda e: e["headers"].update({"X-Webhook-Timestamp": "yesterday"}),
], ids=["unsigned", "wrong-signature", "tampered-body", "malformed-timestamp"])
def test_unsigned_or_wrongly_signed_requests_are_401_with_no_cloud_call(webhook, spoil):
    event = signed_event()
    spoil(event)
    assert_unauthorized(webhook, webhook.invoke(event))


def test_a_stale_request_is_refused(webhook):
    assert_unauthorized(webhook, webhook.invoke(signed_event(timestamp=int(time.time()) - 301)))


def test_a_replayed_request_is_refused(webhook):
    event = signed_event()
    assert webhook.invoke(event)["statusCode"] == 202
    calls = len(webhook.cloud_calls())
    answer = webhook.invoke(event)
    assert answer["statusCode"] == 401 and len(webhook.cloud_calls()) == calls


def test_a_webhook_secret_does_not_affect_queue_triggers(webhook):
    assert webhook.invoke_sample("mns_queue_eventbridge.json")["Results"][0]["Status"] == "SUBMITTED"


def test_allowlist_403_over_http_and_rejected_elsewhere_with_no_domain_call(function, monkeypatch):
    monkeypatch.setenv("ALLOWED_DOMAINS", "*.example.com,example.org")
    answer = function.invoke_sample("http_post.json")  # example.net
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"]) == {"Code": "DomainNotAllowed",
                                          "Message": "DomainName example.net is not in ALLOWED_DOMAINS"}
    results = function.invoke_sample("mns_queue_eventbridge.json")["Results"]  # example.com, example.org
    assert [(r["Status"], r.get("Code")) for r in results] == [("REJECTED", "DomainNotAllowed"), ("SUBMITTED", None)]
    assert [t["DomainName"] for t in function.tasks()] == ["example.org"]
    [rejected] = [n for n in function.notifications() if n["Event"] == "DSRecordDeletionRejected"]
    assert (rejected["Code"], rejected["Field"]) == ("DomainNotAllowed", "DomainName")


def test_batch_length_and_json_depth_limits(function, monkeypatch):
    monkeypatch.setenv("MAX_BATCH", "3")
    event = json.loads(json.dumps(HTTP_EVENT))
    event["body"] = json.dumps([{"DomainName": "example.org", "KeyTag": 1}] * 4)
    answer = function.invoke(event)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]) == {"Code": "BatchTooLarge",
                                          "Message": "An array holds at most 3 requests (MAX_BATCH), not 4"}
    event["body"] = "[" * 9 + "]" * 9
    answer = function.invoke(event)
    assert answer["statusCode"] == 400 and "deeper than 8 levels" in json.loads(answer["body"])["Message"]
    event["body"] = "[" * 100000 + "]" * 100000  # over 64 KiB too: refused before parsing
    assert function.invoke(event)["statusCode"] == 413
    results = function.invoke({"DomainName": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}},
                               "KeyTag": 1})["Results"]
    assert results[0]["Code"] == "InvalidRequest" and "deeper than 8" in results[0]["Message"]
    assert function.domain_api_calls() == []


def test_client_side_rate_limit_spaces_a_batch(function, emulator, monkeypatch):
    monkeypatch.setenv("MAX_REQUESTS_PER_SECOND", "4")
    for index in range(6):
        emulator.put_domain({"DomainName": f"rate-{index}.example", "DSRecords": [
            {"KeyTag": 1, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    results = function.invoke([{"DomainName": f"rate-{i}.example", "KeyTag": 1} for i in range(6)])["Results"]
    assert all(r["Status"] == "SUBMITTED" for r in results)
    arrivals = sorted(entry["time_ms"] for entry in function.domain_api_calls())
    # The bucket (burst 4, 4 per second) held the last two back by about 250 ms each.
    assert arrivals[-1] - arrivals[0] >= 400


def test_no_secret_appears_in_logs_errors_or_notifications(function, emulator, monkeypatch, json_logs):
    sts = emulator.sts_credentials
    redis_password = "r3dis-p4ssword-never-shown"
    secrets = [sts["AccessKeySecret"], sts["SecurityToken"], SECRET, redis_password, "wrong-secret-value"]
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    answers = []

    def attempt(invocation):
        try:
            answers.append(invocation())
        except Exception as error:  # a failed invocation's message is read by operators too
            answers.append(f"{type(error).__name__}: {error}")

    # A wrong secret with V1: the service echoes its string to sign, token included.
    monkeypatch.setenv("DOMAIN_API_SIGNATURE", "v1")
    good = function.cloud.credentials
    function.cloud.credentials = type(good)(good.access_key_id, "wrong-secret-value", good.security_token)
    attempt(lambda: function.invoke(signed_event()))
    attempt(lambda: function.invoke_sample("mns_queue_eventbridge.json"))
    function.cloud.credentials = good
    attempt(lambda: function.invoke(signed_event(signature="v1=" + "f" * 64)))  # a refused webhook call
    emulator.set_faults({"rules": [{"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord",
                                    "fault": "internal_error", "rate": 1, "times": 1},
                                   {"service": "mns", "action": "*", "fault": "internal_error", "rate": 1, "times": 1}]})
    attempt(lambda: function.invoke_sample("timer.json"))
    emulator.set_faults(None)
    monkeypatch.setenv("REDIS_URL", f"redis://:{redis_password}@127.0.0.1:1/0")  # a store that is down
    import index
    monkeypatch.setattr(index, "_instance", None)
    attempt(lambda: function.invoke_sample("http_post.json"))
    attempt(lambda: function.invoke_sample("direct.json"))

    logged = json_logs.getvalue()
    for failure in ("SignatureDoesNotMatch", "Webhook request refused", "InternalError", "StoreUnavailable"):
        assert failure in logged  # the failures did happen, so the check below means something
    everything = logged + json.dumps(answers, default=str) + json.dumps(function.notifications())
    for secret in secrets:
        for form in (secret, quote(secret, safe=""), quote(quote(secret, safe=""), safe="")):
            assert form not in everything, f"a secret leaked in the form {form[:6]}..."
