"""A defect inside the core while one request of a batch is processed (an exception nobody
expected) fails that request alone: the others of the batch are still submitted and answered."""
from __future__ import annotations

import json
import os

import pytest

import index
from deleter.idempotency import InMemoryStore
from deleter.settings import Settings
from triggers.common import RedeliveryRequired
from wiring import FunctionInstance

from .conftest import EVENTS

BROKEN_DOMAIN = "example.org"


class Defect(Exception):
    """What a bug raises: no part of the function expects or handles it."""


class StoreWithADefect(InMemoryStore):
    """The real in-memory store, except that taking one domain's lock fails with a bug's
    exception: the only stand-in here, since no real input can make the core raise."""

    def lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        if name == f"domain:{BROKEN_DOMAIN}":
            raise Defect("a bug in the store")
        return super().lock(name, owner, ttl_ms)


@pytest.fixture
def instance(function):
    """An instance of the function on the emulator, built as FC builds it but for its store."""
    built = FunctionInstance(Settings.from_environ(os.environ), store=StoreWithADefect())
    yield built
    built.executor.shutdown()


def http_batch(requests: list) -> dict:
    event = json.loads((EVENTS / "http_post.json").read_text())
    event["body"] = json.dumps(requests)
    return event


def test_one_request_raising_a_defect_fails_alone_and_the_others_are_submitted(function, instance, json_logs):
    requests = [{"DomainName": "example.net", "KeyTag": 31589},
                {"DomainName": BROKEN_DOMAIN, "KeyTag": 12345},
                {"DomainName": "example.com", "KeyTag": 2371}]
    answer = index.handle(json.dumps(http_batch(requests)).encode(), function.cloud.context(), lambda: instance)

    assert answer["statusCode"] == 207
    first, broken, third = json.loads(answer["body"])
    assert first["Status"] == third["Status"] == 202
    assert (first["DomainName"], third["DomainName"]) == ("example.net", "example.com")
    # Whether a call went out before the defect is not known: 504, as for an unknown outcome.
    assert broken == {"Status": 504, "Code": "UnexpectedError", "Message": "Defect"}
    assert {task["TaskNo"] for task in function.tasks()} == {first["TaskNo"], third["TaskNo"]}
    assert function.tasks(BROKEN_DOMAIN) == []
    [logged] = [json.loads(line) for line in json_logs.getvalue().splitlines() if '"Unexpected error"' in line]
    assert logged["level"] == "ERROR" and "Defect" in logged["exception"]


def test_a_queue_message_raising_a_defect_is_redelivered_and_the_other_is_submitted(function, instance):
    event = json.loads((EVENTS / "mns_queue_eventbridge.json").read_text())  # example.com, then example.org
    with pytest.raises(RedeliveryRequired, match="1 of 2 requests failed transiently") as failed:
        index.handle(json.dumps(event).encode(), function.cloud.context(), lambda: instance)
    assert '"Code": "UnexpectedError"' in str(failed.value)
    [task] = function.tasks()
    assert task["DomainName"] == "example.com"
