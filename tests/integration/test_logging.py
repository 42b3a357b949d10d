"""Logs are JSON lines with the FC request id, a correlation id, and per request the domain,
key tag, TaskNo and outcome."""
from __future__ import annotations

import json

import pytest

import index
from triggers.webhook import sign

from .conftest import EVENTS


def open_event(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def log_lines(captured: str) -> list:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_a_submitted_request_is_logged_with_its_ids(function, json_logs):
    context = function.cloud.context()
    index.handler(open_event("mns_topic_json.json"), context)
    lines = log_lines(json_logs.getvalue())
    [submitted] = [line for line in lines if line["message"] == "Deletion task submitted"]
    assert submitted["level"] == "INFO" and submitted["service"] == "ds-record-deleter"
    assert submitted["request_id"] == context.request_id
    assert submitted["correlation_id"] == "2F5B3C281B283D4EAC694B7425288675"
    assert (submitted["domain"], submitted["key_tag"], submitted["outcome"]) == ("example.org", 12345, "SUBMITTED")
    [task] = function.tasks("example.org")
    assert submitted["task_no"] == task["TaskNo"]


def test_the_http_request_id_correlates_a_webhook_call(function, json_logs):
    context = function.cloud.context()
    index.handler(open_event("http_post.json"), context)
    lines = log_lines(json_logs.getvalue())
    assert lines and all(line["correlation_id"] == "1-64f6cd87-http-single" for line in lines)
    assert all(line["request_id"] == context.request_id for line in lines)


WEBHOOK_SECRET = "webhook-secret-for-logging-tests-0123"
SECRET_BODY_MARK = "body-text-never-logged"


def http_event(body: str, method: str = "POST", request_id: str = "1-refused-0001", **headers: str) -> dict:
    event = json.loads(open_event("http_post.json"))
    event["body"] = body
    event["headers"].update(headers)
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = request_id
    return event


def signed(body: str) -> dict:
    timestamp = "1700000000"  # long stale: refused, however well signed
    return {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": sign(WEBHOOK_SECRET, timestamp, body.encode())}


REQUEST = {"DomainName": "example.net", "KeyTag": 31589, "IdempotencyKey": SECRET_BODY_MARK}
REFUSALS = [
    # (what the setting needs, the event, status, Code, message of the log line)
    ({}, http_event(json.dumps(REQUEST), method="GET"), 405, "MethodNotAllowed", "Request refused"),
    ({}, http_event(json.dumps([REQUEST] * 2000)), 413, "PayloadTooLarge", "Request refused"),
    ({}, http_event('{"' + SECRET_BODY_MARK), 400, "InvalidJSON", "Request refused"),
    ({}, http_event("[]"), 400, "InvalidRequest", "Request refused"),
    ({"MAX_BATCH": "2"}, http_event(json.dumps([REQUEST] * 3)), 400, "BatchTooLarge", "Request refused"),
    ({"WEBHOOK_SECRET": WEBHOOK_SECRET}, http_event(json.dumps(REQUEST), **signed(json.dumps(REQUEST))), 401,
     "Unauthorized", "Webhook request refused"),
    ({"ALLOWED_DOMAINS": "example.org"}, http_event(json.dumps(REQUEST)), 403, "DomainNotAllowed",
     "Request rejected"),
]


@pytest.mark.parametrize("settings, event, status, code, logged_as", REFUSALS,
                         ids=[f"{refusal[2]}-{refusal[3]}" for refusal in REFUSALS])
def test_every_http_refusal_is_one_warning_under_its_own_request_id(function, json_logs, monkeypatch,
                                                                    settings, event, status, code, logged_as):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    context = function.cloud.context()
    index.handler(open_event("http_post.json"), context)  # a warm instance: an earlier invocation
    json_logs.truncate(0)
    json_logs.seek(0)

    answer = index.handler(json.dumps(event).encode(), context)
    assert answer["statusCode"] == status and json.loads(answer["body"])["Code"] == code
    lines = log_lines(json_logs.getvalue())
    [warning] = [line for line in lines if line["level"] == "WARNING"]
    assert warning["message"] == logged_as
    assert warning["correlation_id"] == "1-refused-0001"  # not the earlier invocation's
    assert warning["code"] == code
    assert warning["reason"] == json.loads(answer["body"])["Message"]
    if logged_as != "Request rejected":  # the core's rejection line carries no HTTP status
        assert warning["status"] == status
    assert all(line["correlation_id"] == "1-refused-0001" for line in lines)
    logged = json_logs.getvalue()
    assert SECRET_BODY_MARK not in logged and WEBHOOK_SECRET not in logged


def test_a_refused_webhook_call_says_why_in_the_log_only(function, json_logs, monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    answer = function.invoke(http_event(json.dumps(REQUEST), **signed(json.dumps(REQUEST))))
    assert "stale" not in answer["body"]
    [warning] = [line for line in log_lines(json_logs.getvalue()) if line["level"] == "WARNING"]
    assert warning["webhook_refusal"] == "stale timestamp"


def test_a_misconfigured_function_logs_under_the_invocations_own_id(function, json_logs, monkeypatch):
    function.invoke_sample("http_post.json")
    monkeypatch.setenv("MAX_CONCURRENCY", "lots")
    monkeypatch.setattr(index, "_instance", None)  # a new instance, so FC runs the initializer again:
    function.cloud.initialized = False
    answer = function.invoke(http_event(json.dumps(REQUEST), request_id="1-misconfigured"))
    assert answer["statusCode"] == 500
    initialized, handled = [line for line in log_lines(json_logs.getvalue()) if line["level"] == "ERROR"]
    assert initialized["message"] == handled["message"] == "Function misconfigured"
    assert "correlation_id" not in initialized  # initialize(context) has no event to correlate with
    assert handled["correlation_id"] == "1-misconfigured"
