"""GET /tasks/<TaskNo> on the webhook: how one task stands, asked of the service (the real
handler against the emulator over HTTP); signed like a POST when the webhook requires it."""
from __future__ import annotations

import json
import os
import time
import uuid

import pytest

import index
from deleter.settings import Settings
from triggers.webhook import sign
from wiring import FunctionInstance

from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)

from .conftest import EVENTS

HTTP_EVENT = json.loads((EVENTS / "http_post.json").read_text())
SECRET = "a-webhook-secret-of-32-characters-at-least"


def http_event(method: str, path: str, body: str = "", headers: dict = None) -> dict:
    event = json.loads(json.dumps(HTTP_EVENT))
    event.update(rawPath=path, body=body)
    event["requestContext"]["http"].update(method=method, path=path)
    event["requestContext"]["requestId"] = f"1-{uuid.uuid4().hex[:8]}"
    event["headers"] = {**event["headers"], **(headers or {})}
    return event


def ask(function, task_no: str, headers: dict = None, method: str = "GET") -> tuple:
    answer = function.invoke(http_event(method, f"/tasks/{task_no}", headers=headers))
    return answer["statusCode"], answer["headers"], json.loads(answer["body"])


def delete(function, domain: str = "example.net", key_tag: int = 31589) -> str:
    answer = function.invoke(http_event("POST", "/", json.dumps({"DomainName": domain, "KeyTag": key_tag})))
    assert answer["statusCode"] == 202, answer
    return json.loads(answer["body"])["TaskNo"]


@pytest.mark.parametrize("delays, status, code", [((600, 600), "WAITING_EXECUTE", 0), ((0, 600), "EXECUTING", 1)])
def test_a_pending_task_and_its_key_tag_still_listed(function, emulator, delays, status, code):
    emulator.set_task_delays(*delays)
    task_no = delete(function)
    answered, _, body = ask(function, task_no)
    assert answered == 200
    assert (body["TaskNo"], body["DomainName"], body["TaskStatus"], body["TaskStatusCode"]) == (
        task_no, "example.net", status, code)
    assert (body["KeyTag"], body["KeyTagListed"]) == (31589, True)
    assert body["CreateTime"] and body["UpdateTime"] and body["ErrorMsg"] is None


def test_a_task_that_succeeded_and_its_key_tag_gone(function):
    task_no = delete(function)
    answered, _, body = ask(function, task_no)
    assert (answered, body["TaskStatus"], body["TaskStatusCode"]) == (200, "EXECUTE_SUCCESS", 2)
    assert (body["KeyTag"], body["KeyTagListed"], body["ErrorMsg"], body["TryCount"]) == (31589, False, None, 1)


def test_a_task_that_failed_with_its_error_message_and_tries(function, emulator):
    emulator.put_domain({"DomainName": "example.org", "DSRecords": [
        {"KeyTag": 12345, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}],
        "TaskOutcome": "failure", "ErrorMsg": "2304 Object status prohibits operation"})
    task_no = delete(function, "example.org", 12345)
    answered, _, body = ask(function, task_no)
    assert (answered, body["TaskStatus"], body["TaskStatusCode"]) == (200, "EXECUTE_FAILURE", 3)
    assert (body["ErrorMsg"], body["FailReason"], body["TryCount"]) == (
        "2304 Object status prohibits operation", "2304 Object status prohibits operation", 6)
    assert body["KeyTagListed"] is True


def test_a_task_this_function_did_not_make_has_no_key_tag_to_tell(function, emulator):
    [task_no] = emulator.create_tasks("example.com", 2371, 1)
    answered, _, body = ask(function, task_no)
    assert answered == 200 and body["DomainName"] == "example.com"
    assert (body["KeyTag"], body["KeyTagListed"]) == (None, None)


def test_a_task_the_account_does_not_have_is_a_404(function):
    answered, _, body = ask(function, "e893148f-6343-4ae1-9eba-6e2a4116e142")
    assert (answered, body["Code"]) == (404, "TaskNotFound")
    assert "e893148f-6343-4ae1-9eba-6e2a4116e142" in body["Message"]


@pytest.mark.parametrize("task_no", ["", "not_a_task!", "x" * 65, "%2e%2e"])
def test_a_malformed_task_no_is_a_400_naming_the_rule(function, task_no):
    answered, _, body = ask(function, task_no)
    assert (answered, body["Code"], body["Message"]) == (400, "InvalidTaskNo",
                                                         "TaskNo must be 1 to 64 letters, digits or hyphens")
    assert function.cloud_calls() == []


def test_other_methods_and_paths_keep_their_answers(function):
    answered, headers, body = ask(function, "e893148f", method="PUT")
    assert (answered, headers["Allow"], body["Code"]) == (405, "GET, POST", "MethodNotAllowed")
    answer = function.invoke(http_event("GET", "/"))
    assert (answer["statusCode"], answer["headers"]["Allow"]) == (405, "POST")
    answer = function.invoke(http_event("GET", "/tasks"))
    assert answer["statusCode"] == 405
    assert function.cloud_calls() == []


def test_a_throttled_lookup_is_a_503_to_try_again(function, emulator):
    task_no = delete(function)
    emulator.set_faults({"rules": [{"service": "domain", "action": "QueryTaskDetailList", "fault": "throttling",
                                    "rate": 1}]})
    answered, headers, body = ask(function, task_no)
    assert (answered, headers["Retry-After"], body["Code"]) == (503, "1", "Throttling.User")


def signed(body: str = "", secret: str = SECRET, timestamp: str = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    return {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": sign(secret, timestamp, body.encode())}


def test_with_a_webhook_secret_the_lookup_is_signed_over_its_empty_body(function, monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    monkeypatch.setattr(index, "_instance", None)
    headers = signed(json.dumps({"DomainName": "example.net", "KeyTag": 31589}))
    created = function.invoke(http_event("POST", "/", json.dumps({"DomainName": "example.net", "KeyTag": 31589}),
                                         headers))
    task_no = json.loads(created["body"])["TaskNo"]
    calls = len(function.cloud_calls())
    assert ask(function, task_no)[0] == 401  # unsigned
    assert ask(function, task_no, signed(secret="another-secret-of-32-characters-or-more"))[0] == 401
    assert ask(function, task_no, signed(body="{}"))[0] == 401  # signed over another body
    assert ask(function, "not_valid!")[0] == 401  # nothing is told an unsigned caller, not even the rule
    assert len(function.cloud_calls()) == calls
    good = signed()
    answered, _, body = ask(function, task_no, good)
    assert (answered, body["TaskNo"]) == (200, task_no)
    assert ask(function, task_no, good)[0] == 401  # the same signature again is a replay


def test_the_key_tag_is_known_to_another_instance_sharing_redis(function, redis_url, monkeypatch):
    from cloud.redis import RedisClient
    from cloud.redis_store import RedisIdempotencyStore

    prefix = f"q-{uuid.uuid4().hex}:"
    settings = Settings.from_environ(os.environ)
    first, second = (FunctionInstance(settings, RedisIdempotencyStore(RedisClient(redis_url), prefix=prefix))
                     for _ in "ab")

    def invoke(instance, event):
        return index.handle(json.dumps(event).encode(), function.cloud.context(), lambda: instance)

    created = invoke(first, http_event("POST", "/", json.dumps({"DomainName": "example.org", "KeyTag": 54321})))
    task_no = json.loads(created["body"])["TaskNo"]
    body = json.loads(invoke(second, http_event("GET", f"/tasks/{task_no}"))["body"])
    assert (body["KeyTag"], body["KeyTagListed"], body["TaskStatus"]) == (54321, False, "EXECUTE_SUCCESS")
