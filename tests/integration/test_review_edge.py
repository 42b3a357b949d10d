"""The edges under attack (review of cloud/, triggers/, index.py, wiring.py): each test is a hole
found in review, on real code paths (the function over HTTP against the emulator, real sockets)."""
from __future__ import annotations

import json

from .conftest import EVENTS
from .test_one_task_per_record import queue_message


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

