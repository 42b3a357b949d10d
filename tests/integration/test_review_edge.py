"""The edges under attack (review of cloud/, triggers/, index.py, wiring.py): each test is a hole
found in review, on real code paths (the function over HTTP against the emulator, real sockets)."""
from __future__ import annotations

import json
import socket

import pytest

from cloud.errors import OutcomeUnknownError, RetryableError
from cloud.http import new_session
from cloud.mns import MnsClient
from deleter.idempotency import InMemoryStore
from local.queue_trigger import cloud_events

from .conftest import EVENTS
from .test_call_budget import CREDENTIALS, domain_client, misbehaving  # noqa: F401 -- a fixture
from .test_one_task_per_record import queue_message
from .test_watch import WATCH_QUEUE, Watched


# --- an EventBridge event that is one CloudEvent, not a list --------------------------------------

def test_a_lone_cloud_event_is_a_queue_message_not_a_direct_request(function):
    """EventBridge's event-driven mode sends one object: its request is made, not refused for the
    envelope's fields (aliyunaccountid is not a field of a deletion request)."""
    event = queue_message({"DomainName": "example.net", "KeyTag": 31589}, "M-lone")
    [result] = function.invoke(event)["Results"]
    assert (result["Status"], result["Source"], result["DomainName"]) == ("SUBMITTED", "M-lone", "example.net")
    assert len(function.tasks("example.net")) == 1


def test_a_lone_cloud_event_carrying_a_watch_message_is_checked(function):
    [event] = json.loads((EVENTS / "mns_queue_watch.json").read_text())
    [result] = function.invoke(event)["Results"]
    assert (result["Status"], result["Event"], result["Attempt"]) == ("ENDED", "DSRecordDeletionTimedOut", 7)
    assert [n["Event"] for n in function.notifications()] == ["DSRecordDeletionTimedOut"]

# --- a watch message forged on the request queue ----------------------------------------------------

def test_a_watch_message_on_the_request_queue_is_refused_and_the_real_end_still_told(function, monkeypatch):
    """Anyone who may send deletion requests to the request queue could send a watch message there:
    a real TaskNo with a KeyTag of their choosing, told Completed, and the task's true end (published
    once per TaskNo and event) never told. Only the watch queue's watch messages are checks."""
    monkeypatch.setenv("WATCH_QUEUE", WATCH_QUEUE)
    watched = Watched(function, InMemoryStore())
    [made] = watched.invoke(queue_message({"DomainName": "example.net", "KeyTag": 31589}, "M-real"))["Results"]
    [genuine] = watched.pending()
    forged = {**json.loads(genuine["MessageBody"]), "KeyTag": 4242}
    account, region = function.emulator.account_id, function.emulator.region
    function.emulator.wait_idle()
    calls_before = len(function.cloud_calls())
    [refused] = watched.invoke(cloud_events([("M-forged", json.dumps(forged))], "ds-record-deleter-requests",
                                            account, region))["Results"]
    assert (refused["Status"], refused["Code"]) == ("REJECTED", "InvalidWatchMessage")
    assert "watch queue" in refused["Message"]
    assert not [c for c in function.cloud_calls()[calls_before:] if c["service"] == "domain"]  # nothing checked
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["Event"]) == ("ENDED", "DSRecordDeletionCompleted")
    [completed] = watched.ends()
    assert (completed["TaskNo"], completed["KeyTag"]) == (made["TaskNo"], 31589)


def test_the_watch_queue_and_an_envelope_without_a_queue_still_carry_checks(function, monkeypatch):
    monkeypatch.setenv("WATCH_QUEUE", WATCH_QUEUE)
    [event] = json.loads((EVENTS / "mns_queue_watch.json").read_text())  # its subject: the watch queue
    watched = Watched(function, InMemoryStore())
    [result] = watched.invoke([event])["Results"]
    assert (result["Status"], result["Event"]) == ("ENDED", "DSRecordDeletionTimedOut")
    del event["subject"]
    event["data"]["messageId"] = "another"
    [result] = watched.invoke([event])["Results"]
    assert result["Status"] != "REJECTED"

# --- a 2xx answer from MNS that is not MNS's answer -------------------------------------------------

def _answer_200(body: bytes, content_type: bytes = b"text/html"):
    def answer(raw: bytes, sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (content_type, len(body))
                     + body)
    return answer


NOT_MNS_ANSWERS = {
    "a proxy's XHTML page": _answer_200(b"<html><body>Welcome</body></html>"),
    "an empty body": _answer_200(b""),
    "XML without a MessageId": _answer_200(b'<?xml version="1.0"?><Message><MessageBodyMD5>X</MessageBodyMD5></Message>',
                                           b"text/xml"),
}


@pytest.mark.parametrize("answer", NOT_MNS_ANSWERS.values(), ids=NOT_MNS_ANSWERS.keys())
def test_a_2xx_without_a_message_id_is_no_publish_nor_send(misbehaving, answer):
    """Taken for published, the notification of a TaskNo would be lost: unknown, so it is retried
    (consumers dedupe by TaskNo) and, failing that, the request stays open."""
    client = MnsClient(new_session(1), CREDENTIALS, misbehaving(answer).url)
    for call in (lambda: client.publish("topic", "body"), lambda: client.send("queue", "body", 5)):
        with pytest.raises(OutcomeUnknownError) as caught:
            call()
        assert (caught.value.code, caught.value.http_status) == ("InvalidResponse", 200)
    with pytest.raises(RetryableError):  # a read: whatever it did harms nothing
        client.receive("queue")



# --- a 2xx answer of the Domain API that carries a Code ------------------------------------------------

def _json_200(body: dict):
    return _answer_200(json.dumps(body).encode(), b"application/json")


def test_a_2xx_deletion_answer_with_its_task_no_is_the_task_whatever_code_it_carries(misbehaving):
    """The service's refusals come with a 4xx or 5xx status. A 2xx naming a TaskNo says the task
    exists: refused for good, its TaskNo was lost and the DS record's next request made a second."""
    answer = {"RequestId": "R-1", "TaskNo": "T-1", "Code": "200", "Success": True}
    task = domain_client(misbehaving(_json_200(answer)).url).save_deleting_ds_task("example.net", 31589)
    assert (task.task_no, task.request_id) == ("T-1", "R-1")


def test_a_2xx_with_a_code_and_no_task_no_is_unknown_for_the_send_and_retryable_for_a_read(misbehaving):
    """A WAF's JSON page at 200 (a Code, a RequestId, no data): not a refusal of the service, so
    never final; unknown whether a send went through, and a read is asked again."""
    client = domain_client(misbehaving(_json_200({"RequestId": "R-2", "Code": "Blocked", "Message": "waf"})).url)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.save_deleting_ds_task("example.net", 31589)
    assert (caught.value.code, caught.value.http_status) == ("InvalidResponse", 200)
    with pytest.raises(RetryableError) as caught:
        client.query_ds_records("example.net")
    assert (caught.value.code, caught.value.http_status) == ("InvalidResponse", 200)


@pytest.mark.parametrize("body", [{"RequestId": "R-9"}, {}], ids=["request-id-only", "empty-object"])
def test_a_2xx_json_without_the_actions_answer_is_never_read_as_an_empty_answer(misbehaving, body):
    """A proxy's JSON at 200 with no Code and none of the action's fields: read as QueryDSRecord's
    answer, it listed no DS record, and the pre-check answered DSRecordAlreadyAbsent for good with
    the record still in place. Each action's answer must carry its own fields (DSRecordList, Data,
    TaskNo); anything else is unknown for the send and retryable for a read."""
    client = domain_client(misbehaving(_json_200(body)).url)
    for read in (lambda: client.query_ds_records("example.net"), lambda: client.query_task_details("T-1"),
                 lambda: client.query_task_list(0, 1)):
        with pytest.raises(RetryableError) as caught:
            read()
        assert (caught.value.code, caught.value.http_status) == ("InvalidResponse", 200)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.save_deleting_ds_task("example.net", 31589)
    assert caught.value.code in ("InvalidResponse", "MissingTaskNo")


def test_a_2xx_with_a_code_and_the_actions_answer_is_the_answer_for_a_read_as_for_the_send(misbehaving):
    answer = {"RequestId": "R-3", "Code": "200", "Success": True,
              "DSRecordList": [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]}
    listed = domain_client(misbehaving(_json_200(answer)).url).query_ds_records("example.net")
    assert [record.key_tag for record in listed.records] == [7]
