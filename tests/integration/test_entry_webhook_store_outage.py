"""The webhook's replay check needs the idempotency store: while Redis is down, a correctly signed
request is answered 503 (try again), never an unhandled error, and nothing reaches the cloud."""
from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote

import pytest

from triggers.webhook import sign

from .conftest import EVENTS

SECRET = "webhook-secret-for-outage-tests-0123"
REDIS_PASSWORD = "r3dis/p4ss word-never-shown"
BODY = '{"DomainName": "example.net", "KeyTag": 31589}'


def closed_port() -> int:
    """A port nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signed_event(secret: str = SECRET) -> dict:
    event = json.loads((EVENTS / "http_post.json").read_text())
    timestamp = str(int(time.time()))
    event["body"] = BODY
    event["headers"].update({"X-Webhook-Timestamp": timestamp,
                             "X-Webhook-Signature": sign(secret, timestamp, BODY.encode())})
    return event


@pytest.fixture
def store_down(function, monkeypatch):
    """The function with WEBHOOK_SECRET set and REDIS_URL naming a Redis that is not there."""
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("REDIS_URL", f"redis://:{quote(REDIS_PASSWORD, safe='')}@127.0.0.1:{closed_port()}/0")
    return function


def test_a_signed_request_while_the_store_is_down_is_a_503_with_no_cloud_call(store_down, json_logs):
    answer = store_down.invoke(signed_event())

    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "1"
    body = json.loads(answer["body"])
    assert body.keys() == {"Code", "Message"}
    assert body["Code"] == "ServiceUnavailable" and "temporarily unavailable" in body["Message"]
    assert store_down.cloud_calls() == []
    [logged] = [json.loads(line) for line in json_logs.getvalue().splitlines() if '"ERROR"' in line]
    assert logged["status"] == 503 and "store_error" in logged
    everything = json.dumps(answer) + json_logs.getvalue()
    for secret in (SECRET, REDIS_PASSWORD, quote(REDIS_PASSWORD, safe=""), "p4ss"):
        assert secret not in everything


def test_a_wrongly_signed_request_is_still_a_401_while_the_store_is_down(store_down):
    answer = store_down.invoke(signed_event(secret="another-secret-altogether-0123"))
    assert answer["statusCode"] == 401 and json.loads(answer["body"])["Code"] == "Unauthorized"
    assert store_down.cloud_calls() == []
