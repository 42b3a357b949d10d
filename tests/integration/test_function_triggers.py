"""Every trigger's sample event through the real handler, against the emulator over HTTP: the task
exists in the emulator, and the notification carries its TaskNo and fits the schema."""
from __future__ import annotations

import base64
import json

import pytest

from triggers.common import RedeliveryRequired

from .conftest import EVENTS


def body_of(answer: dict):
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["isBase64Encoded"] is False
    return json.loads(answer["body"])


def submitted_notification(function, task_no: str) -> dict:
    matching = [n for n in function.notifications() if n.get("TaskNo") == task_no]
    assert len(matching) == 1, f"expected one notification for {task_no}, got {matching}"
    notification = matching[0]
    assert notification["Event"] == "DSRecordDeletionSubmitted"
    assert notification["_tag"] == "DSDelSubmitted"
    return notification


def test_http_single_request_is_accepted_with_the_task_number(function):
    answer = function.invoke_sample("http_post.json")
    assert answer["statusCode"] == 202
    body = body_of(answer)
    assert body.keys() == {"TaskNo", "RequestId", "DomainName", "KeyTag", "SafetyCheck", "DSRecords"}
    assert (body["DomainName"], body["KeyTag"]) == ("example.net", 31589)
    # The fixture runs without the DNSSEC safety check (no DNS here); the pre-check read the row it deletes.
    assert body["SafetyCheck"] == "skipped"
    assert body["DSRecords"] == [{"KeyTag": 31589, "Algorithm": 8, "DigestType": 2,
                                  "Digest": "5266EC99B81461A27888C5A1CAA44F4816FECC42FF71B872CB63AA2231DA05F2"}]

    [task] = function.tasks("example.net")
    assert task["TaskNo"] == body["TaskNo"] and task["KeyTag"] == 31589
    assert task["Clientip"] == "11.11.11.11"  # UserClientIp defaulted to the caller's sourceIp
    assert 31589 not in function.ds_key_tags("example.net")

    notification = submitted_notification(function, body["TaskNo"])
    assert notification["RequestId"] == body["RequestId"]
    assert notification["Source"] == {"Trigger": "http", "Id": "1-64f6cd87-http-single"}


def test_http_array_answers_207_with_one_result_per_item_in_order(function):
    answer = function.invoke_sample("http_post_batch.json")
    assert answer["statusCode"] == 207
    first, second, third = body_of(answer)
    assert (first["Status"], first["DomainName"], first["KeyTag"]) == (202, "example.org", 12345)
    assert (second["Status"], second["DomainName"], second["KeyTag"]) == (202, "example.org", 54321)
    assert third["Status"] == 400 and third["Code"] == "InvalidParameter" and "KeyTag" in third["Message"]

    tasks = {task["TaskNo"]: task for task in function.tasks("example.org")}
    assert set(tasks) == {first["TaskNo"], second["TaskNo"]}
    assert tasks[first["TaskNo"]]["Clientip"] == "2001:db8::7"
    for result in (first, second):
        submitted_notification(function, result["TaskNo"])
    # An invalid item of a webhook batch is answered to the caller, not published.
    assert [n["Event"] for n in function.notifications()].count("DSRecordDeletionRejected") == 0


def test_mns_queue_batch_plain_and_base64_bodies(function):
    answer = function.invoke_sample("mns_queue_eventbridge.json")
    results = answer["Results"]
    assert [r["Source"] for r in results] == ["C6DB60D1574661357FA227277445****", "C6DB60D1574661357FA227277445AAAB"]
    assert [r["Status"] for r in results] == ["SUBMITTED", "SUBMITTED"]
    assert [(r["DomainName"], r["KeyTag"]) for r in results] == [("example.com", 2371), ("example.org", 54321)]
    for result in results:
        notification = submitted_notification(function, result["TaskNo"])
        assert notification["Source"] == {"Trigger": "mns_queue", "Id": result["Source"]}
    assert 2371 not in function.ds_key_tags("example.com")  # both digests under the tag are gone
    assert function.ds_key_tags("example.org") == [12345]


def test_mns_topic_json_format(function):
    answer = function.invoke_sample("mns_topic_json.json")
    [result] = answer["Results"]
    assert result["Status"] == "SUBMITTED"
    [task] = function.tasks("example.org")
    assert task["TaskNo"] == result["TaskNo"] and task["Clientip"] == "10.1.2.3"
    notification = submitted_notification(function, result["TaskNo"])
    assert notification["Source"] == {"Trigger": "mns_topic", "Id": "2F5B3C281B283D4EAC694B7425288675"}


def test_mns_topic_stream_format_with_attributes(function):
    [result] = function.invoke_sample("mns_topic_stream_attrs.json")["Results"]
    assert (result["Status"], result["DomainName"], result["KeyTag"]) == ("SUBMITTED", "xn--bcher-kva.com", 4242)
    submitted_notification(function, result["TaskNo"])


def test_mns_topic_stream_raw_body_is_handled_as_a_direct_request(function):
    raw = b'{"DomainName": "B\xc3\xbccher.com", "KeyTag": 4242}'  # a STREAM body is the message itself
    [result] = function.invoke(raw)["Results"]
    assert (result["Status"], result["DomainName"]) == ("SUBMITTED", "xn--bcher-kva.com")


def test_timer_payload_with_an_array(function):
    results = function.invoke_sample("timer.json")["Results"]
    assert [r["Status"] for r in results] == ["SUBMITTED", "SUBMITTED"]
    assert [r["Source"] for r in results] == ["nightly-ds-cleanup@2026-11-29T07:49:00Z#0",
                                              "nightly-ds-cleanup@2026-11-29T07:49:00Z#1"]
    assert len(function.tasks("example.org")) == 2
    for result in results:
        submitted_notification(function, result["TaskNo"])


def test_direct_invocation(function):
    [result] = function.invoke_sample("direct.json")["Results"]
    assert result["Status"] == "SUBMITTED"
    [task] = function.tasks("example.net")
    assert task["TaskNo"] == result["TaskNo"]
    assert submitted_notification(function, result["TaskNo"])["Source"]["Trigger"] == "direct"


def test_event_may_arrive_as_bytes_str_or_object(function):
    request = {"DomainName": "example.org", "KeyTag": 12345}
    as_object = function.invoke(request)  # the harness sends bytes; here str and object directly
    import index
    as_str = index.handler(json.dumps({"DomainName": "example.org", "KeyTag": 54321}), function.cloud.context())
    as_dict = index.handler({"DomainName": "example.net", "KeyTag": 31589}, function.cloud.context())
    for answer in (as_object, as_str, as_dict):
        assert answer["Results"][0]["Status"] == "SUBMITTED"
    assert len(function.tasks()) == 3


def test_queue_message_that_is_not_a_request_is_published_as_rejected(function):
    event = json.loads((EVENTS / "mns_queue_eventbridge.json").read_text())
    event[0]["data"]["messageBody"] = "not json at all"
    event[1]["data"]["messageBody"] = base64.b64encode(b'{"DomainName": "example.org"}').decode()
    results = function.invoke(event)["Results"]
    assert [(r["Status"], r["Code"]) for r in results] == [("REJECTED", "InvalidJSON"),
                                                           ("REJECTED", "MissingParameter")]
    assert function.domain_api_calls() == []
    rejected = sorted((n for n in function.notifications() if n["Event"] == "DSRecordDeletionRejected"),
                      key=lambda n: n["Code"])  # published concurrently, in no set order
    assert [(n["Code"], n["Source"]["Id"], n["_tag"]) for n in rejected] == [
        ("InvalidJSON", "C6DB60D1574661357FA227277445****", "DSDelRejected"),
        ("MissingParameter", "C6DB60D1574661357FA227277445AAAB", "DSDelRejected"),
    ]
    assert rejected[1]["Field"] == "KeyTag" and rejected[1]["Request"] == {"DomainName": "example.org"}


def test_a_queue_message_body_already_decoded_to_json_is_the_request(function):
    event = json.loads((EVENTS / "mns_queue_eventbridge.json").read_text())
    event[0]["data"]["messageBody"] = {"DomainName": "example.com", "KeyTag": 2371}
    event[1]["data"]["messageBody"] = [{"DomainName": "example.org", "KeyTag": 54321},
                                       {"DomainName": "example.org", "KeyTag": 12345}]
    results = function.invoke(event)["Results"]
    assert [(r["Status"], r["Source"]) for r in results] == [
        ("SUBMITTED", "C6DB60D1574661357FA227277445****"),
        ("SUBMITTED", "C6DB60D1574661357FA227277445AAAB#0"), ("SUBMITTED", "C6DB60D1574661357FA227277445AAAB#1")]
    assert len(function.tasks()) == 3


def test_a_topic_message_already_decoded_to_json_is_the_request(function):
    event = json.loads((EVENTS / "mns_topic_json.json").read_text())
    event["Message"] = {"DomainName": "example.org", "KeyTag": 12345}
    [result] = function.invoke(event)["Results"]
    assert (result["Status"], result["DomainName"], result["KeyTag"]) == ("SUBMITTED", "example.org", 12345)


def test_a_permanent_cloud_refusal_is_published_as_failed(function):
    [result] = function.invoke({"DomainName": "not-in-the-account.com", "KeyTag": 1})["Results"]
    assert (result["Status"], result["Code"], result["Failure"]) == ("FAILED", "DomainNotExist", "PERMANENT")
    [failed] = [n for n in function.notifications() if n["Event"] == "DSRecordDeletionFailed"]
    assert (failed["DomainName"], failed["KeyTag"], failed["Code"], failed["_tag"]) == (
        "not-in-the-account.com", 1, "DomainNotExist", "DSDelFailed")
    assert failed["RequestId"]


def test_a_transient_failure_fails_an_asynchronous_invocation_for_redelivery(function, emulator):
    emulator.set_faults({"rules": [{"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord",
                                    "fault": "unavailable", "rate": 1}]})
    with pytest.raises(RedeliveryRequired, match="1 of 1 requests failed transiently"):
        function.invoke_sample("direct.json")
    assert function.tasks() == [] and function.notifications() == []


def test_http_transient_failure_is_a_503_and_permanent_a_502(function, emulator):
    emulator.set_faults({"rules": [{"service": "domain", "action": "*", "fault": "throttling", "rate": 1}]})
    answer = function.invoke_sample("http_post.json")
    assert answer["statusCode"] == 503 and body_of(answer)["Code"] == "Throttling.User"
    emulator.set_faults(None)
    event = json.loads((EVENTS / "http_post.json").read_text())
    event["body"] = json.dumps({"DomainName": "unknown-domain.com", "KeyTag": 1})
    answer = function.invoke(event)
    assert answer["statusCode"] == 502 and body_of(answer)["Code"] == "DomainNotExist"
    assert function.notifications() == []  # the webhook caller has the answer


def test_the_v1_signature_works_too(function, monkeypatch):
    monkeypatch.setenv("DOMAIN_API_SIGNATURE", "v1")
    [result] = function.invoke_sample("direct.json")["Results"]
    assert result["Status"] == "SUBMITTED"
    assert len(function.tasks("example.net")) == 1


def test_a_batch_runs_in_parallel_up_to_max_concurrency(function, emulator, monkeypatch):
    monkeypatch.setenv("MAX_CONCURRENCY", "4")
    emulator.set_faults({"rules": [{"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord",
                                    "fault": "latency", "rate": 1, "latency_ms": 300}]})
    domains = [f"parallel-{i}.example" for i in range(8)]
    for domain in domains:
        emulator.put_domain({"DomainName": domain, "DSRecords": [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2,
                                                                  "Digest": "AB" * 32}]})
    results = function.invoke([{"DomainName": d, "KeyTag": 7} for d in domains])["Results"]
    assert all(r["Status"] == "SUBMITTED" for r in results)
    assert len(function.domain_api_calls("SaveSingleTaskForDeletingDSRecord")) == 8
    # Counted by the emulator, not timed: the calls overlapped, never more than 4 at once.
    assert emulator.stats()["in_flight_peak"]["domain"] == 4
