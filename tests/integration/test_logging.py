"""Logs are JSON lines with the FC request id, a correlation id, and per request the domain,
key tag, TaskNo and outcome."""
from __future__ import annotations

import json

import index


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


def open_event(name: str) -> bytes:
    from .conftest import EVENTS
    return (EVENTS / name).read_bytes()
