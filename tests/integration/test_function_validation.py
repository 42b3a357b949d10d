"""Invalid requests get a clear error naming the field and the rule, and never reach the cloud."""
from __future__ import annotations

import base64
import json

import pytest

from .conftest import EVENTS

HTTP_EVENT = json.loads((EVENTS / "http_post.json").read_text())


def http_event(body: str, **changes) -> dict:
    event = json.loads(json.dumps(HTTP_EVENT))
    event["body"] = body
    event.update(changes)
    return event


@pytest.mark.parametrize("request_body, code, words", [
    ({"KeyTag": 1}, "MissingParameter", "DomainName is required"),
    ({"DomainName": "example.net"}, "MissingParameter", "KeyTag is required"),
    ({"DomainName": "com", "KeyTag": 1}, "InvalidParameter", "DomainName must be a registrable domain name"),
    ({"DomainName": "ex_ample.net", "KeyTag": 1}, "InvalidParameter", "DomainName must be"),
    ({"DomainName": 5, "KeyTag": 1}, "InvalidParameter", "DomainName must be a string"),
    ({"DomainName": "example.net", "KeyTag": 65536}, "InvalidParameter", "KeyTag must be an integer from 0 to 65535"),
    ({"DomainName": "example.net", "KeyTag": "31589"}, "InvalidParameter", "KeyTag must be an integer"),
    ({"DomainName": "example.net", "KeyTag": True}, "InvalidParameter", "KeyTag must be an integer"),
    ({"DomainName": "example.net", "KeyTag": 31589.0}, "InvalidParameter", "KeyTag must be an integer"),
    ({"DomainName": "example.net", "KeyTag": 1, "Lang": "fr"}, "InvalidParameter", 'Lang must be "en" or "zh"'),
    ({"DomainName": "example.net", "KeyTag": 1, "UserClientIp": "x"}, "InvalidParameter", "UserClientIp must be"),
    ({"DomainName": "example.net", "KeyTag": 1, "UserClientIp": "fe80::1%eth0"}, "InvalidParameter",
     "UserClientIp must be an IPv4 or IPv6 address, without a zone"),
    ({"DomainName": "example.net", "KeyTag": 1, "Extra": 1}, "UnknownParameter", "Extra is not a field"),
    ("example.net", "InvalidRequest", "must be a JSON object"),
])
def test_each_rule_is_a_400_naming_the_field_with_no_cloud_call(function, request_body, code, words):
    answer = function.invoke(http_event(json.dumps(request_body)))
    assert answer["statusCode"] == 400
    body = json.loads(answer["body"])
    assert body["Code"] == code and words in body["Message"]
    assert function.cloud_calls() == []


def key_tag_rule(why: str) -> str:
    return f"KeyTag must be an integer from 0 to 65535 ({why})"


def with_key_tag(digits: int) -> str:
    return '{"DomainName": "example.net", "KeyTag": ' + "9" * digits + "}"


@pytest.mark.parametrize("digits", [41, 4301, 5000])
def test_an_over_long_key_tag_is_refused_by_its_own_rule_not_pythons(function, digits):
    answer = function.invoke(http_event(with_key_tag(digits)))
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]) == {"Code": "InvalidParameter",
                                          "Message": key_tag_rule(f"a {digits}-digit number is out of range")}
    assert function.cloud_calls() == []


@pytest.mark.parametrize("key_tag, why", [
    (70000, "70000 is out of range"), (-1, "-1 is out of range"), ("31589", "a JSON number, not a string"),
    (True, "a JSON number, not true or false"), (31589.0, "a whole JSON number, without a fraction or an exponent"),
    ([1], "a JSON number"),
])
def test_a_bad_key_tag_is_told_what_is_wrong_with_it(function, key_tag, why):
    answer = function.invoke(http_event(json.dumps({"DomainName": "example.net", "KeyTag": key_tag})))
    assert json.loads(answer["body"]) == {"Code": "InvalidParameter", "Message": key_tag_rule(why)}


def test_an_over_long_key_tag_of_a_direct_invocation_is_rejected_by_its_own_rule(function):
    [result] = function.invoke(with_key_tag(5000).encode())["Results"]
    assert (result["Status"], result["Code"], result["Message"]) == (
        "REJECTED", "InvalidParameter", key_tag_rule("a 5000-digit number is out of range"))
    assert function.domain_api_calls() == []
    [notice] = function.notifications()  # published, and schema-valid, without echoing the number
    assert notice["Field"] == "KeyTag" and "Request" not in notice


@pytest.mark.parametrize("event, status, code, words", [
    (http_event("{not json"), 400, "InvalidJSON", "The body is not valid JSON"),
    (http_event("[]"), 400, "InvalidRequest", "The array of requests is empty"),
    (http_event("x" * (64 * 1024 + 1)), 413, "PayloadTooLarge", "The body must be at most 65536 bytes"),
    (http_event("e30=", isBase64Encoded=True), 400, "MissingParameter", "DomainName is required"),  # "{}"
    (http_event("%%%", isBase64Encoded=True), 400, "InvalidRequest", "The body is marked base64 but is not"),
], ids=["not-json", "empty-array", "too-large", "base64-empty-object", "not-base64"])
def test_malformed_http_bodies(function, event, status, code, words):
    answer = function.invoke(event)
    assert answer["statusCode"] == status
    body = json.loads(answer["body"])
    assert body["Code"] == code and words in body["Message"]
    assert function.cloud_calls() == []


def test_wrong_method_is_405_with_allow(function):
    event = http_event("{}")
    event["requestContext"]["http"]["method"] = "PUT"
    answer = function.invoke(event)
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "POST"
    assert function.cloud_calls() == []


def test_only_valid_items_of_a_batch_reach_the_cloud(function):
    body = json.dumps([{"DomainName": "example.net", "KeyTag": 31589}, {"DomainName": "bad_name", "KeyTag": 1}])
    answer = function.invoke(http_event(base64.b64encode(body.encode()).decode(), isBase64Encoded=True))
    assert [item["Status"] for item in json.loads(answer["body"])] == [202, 400]
    calls = function.domain_api_calls("SaveSingleTaskForDeletingDSRecord")
    assert len(calls) == 1


def test_a_bad_setting_fails_every_invocation_with_one_clear_message(function, monkeypatch, json_logs):
    monkeypatch.setenv("MAX_CONCURRENCY", "lots")
    monkeypatch.setenv("DEFAULT_LANG", "fr")
    for _ in range(2):
        answer = function.invoke_sample("http_post.json")
        # The caller cannot be authenticated while the settings are broken: it is told nothing of them.
        assert answer["statusCode"] == 500
        body = json.loads(answer["body"])
        assert body["Code"] == "FunctionMisconfigured" and "MAX_CONCURRENCY" not in body["Message"]
    errors = [json.loads(line) for line in json_logs.getvalue().splitlines() if '"ERROR"' in line]
    assert len(errors) >= 2 and all("MAX_CONCURRENCY must be an integer from 1 to 64" in line["error"]
                                    and "DEFAULT_LANG" in line["error"] for line in errors)
    with pytest.raises(Exception, match="MAX_CONCURRENCY"):
        function.invoke_sample("mns_queue_eventbridge.json")
    assert function.cloud_calls() == []
