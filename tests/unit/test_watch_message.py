"""The watch message's one shape: written and read back alike; anything else refused, naming the
field and the rule; and the delays between checks."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from deleter.deletion_request import InvalidRequest
from deleter.follow_up import MAX_DELAY_SECONDS, delay_before
from deleter.source import Source
from deleter.watch_message import WatchMessage, is_watch_message, parse_watch_message

NOW = datetime(2026, 12, 4, 10, 0, 0, 123000, tzinfo=timezone.utc)
MESSAGE = WatchMessage("e893148f-6343-4ae1-9eba-6e2a4116e142", "example.net", 31589, Source("http", "1-abc#2"), 3,
                       NOW - timedelta(minutes=5), NOW - timedelta(minutes=5, seconds=1), "EXECUTING",
                       NOW - timedelta(minutes=1))


def body(**changes) -> dict:
    raw = json.loads(MESSAGE.encode())
    raw.update(changes)
    return {key: value for key, value in raw.items() if value is not None}


def refusal(raw) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_watch_message(raw, NOW)
    assert caught.value.code == "InvalidWatchMessage"
    return caught.value


def test_a_message_reads_back_as_written():
    assert parse_watch_message(json.loads(MESSAGE.encode()), NOW) == MESSAGE
    minimal = WatchMessage("T-1", "example.net", 0, Source("mns_queue", "M"), 1, NOW, NOW)
    assert parse_watch_message(json.loads(minimal.encode()), NOW) == minimal
    assert set(json.loads(minimal.encode())) == {"Type", "Version", "TaskNo", "DomainName", "KeyTag", "Source",
                                                 "Attempt", "WatchingSince", "SubmittedAt"}


def test_the_next_message_is_the_next_attempt():
    following = MESSAGE.next(last_task_status="WAITING_EXECUTE")
    assert (following.attempt, following.last_task_status, following.task_no) == (4, "WAITING_EXECUTE", MESSAGE.task_no)


def test_only_a_body_that_says_so_is_a_watch_message():
    assert is_watch_message(body())
    assert not is_watch_message({"DomainName": "example.net", "KeyTag": 31589})
    assert not is_watch_message([body()]) and not is_watch_message("DSRecordDeletionWatch")


@pytest.mark.parametrize("changes, field, words", [
    ({"Version": 2}, "Version", "must be 1"),
    ({"Version": True}, "Version", "must be 1"),
    ({"TaskNo": "../../etc"}, "TaskNo", "letters, digits or hyphens"),
    ({"TaskNo": "x" * 65}, "TaskNo", "1 to 64"),
    ({"TaskNo": None}, "TaskNo", "is required"),
    ({"DomainName": "not a domain"}, "DomainName", "registrable domain name"),
    ({"KeyTag": "31589"}, "KeyTag", "integer from 0 to 65535"),
    ({"KeyTag": 65536}, "KeyTag", "integer from 0 to 65535"),
    ({"Attempt": 0}, "Attempt", "from 1 to 100000"),
    ({"Attempt": 1.5}, "Attempt", "integer"),
    ({"Source": {"Trigger": "sms", "Id": "x"}}, "Source", "Trigger"),
    ({"Source": {"Trigger": "http", "Id": ""}}, "Source", "Id"),
    ({"Source": {"Trigger": "http", "Id": "x", "More": 1}}, "Source", "Trigger"),
    ({"WatchingSince": "2026-12-04 10:00:00"}, "WatchingSince", "UTC time"),
    ({"WatchingSince": "2026-13-04T10:00:00.000Z"}, "WatchingSince", "UTC time"),
    ({"WatchingSince": "2026-12-04T11:00:00.000Z"}, "WatchingSince", "must not be in the future"),
    ({"SubmittedAt": 1764842400}, "SubmittedAt", "UTC time"),
    ({"StillListedSince": "yesterday"}, "StillListedSince", "UTC time"),
    ({"LastTaskStatus": "DONE"}, "LastTaskStatus", "must be one of"),
    ({"Extra": 1}, "Extra", "is not a field of a watch message"),
])
def test_a_message_that_breaks_a_rule_is_refused_naming_the_field(changes, field, words):
    error = refusal(body(**changes))
    assert error.field == field and words in error.message, error.message


def test_a_truncated_message_is_refused_for_what_it_lacks():
    for name in ("Version", "TaskNo", "DomainName", "KeyTag", "Source", "Attempt", "WatchingSince", "SubmittedAt"):
        raw = body()
        del raw[name]
        error = refusal(raw)
        assert (error.field, error.message) == (name, f"{name} is required")
    assert refusal({"Type": "DSRecordDeletionWatch"}).message == "Version is required"


def test_the_delays_grow_to_a_quarter_of_an_hour():
    assert [delay_before(attempt, 30) for attempt in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]
    assert [delay_before(attempt, 2) for attempt in (1, 2, 3)] == [2, 4, 8]
    assert delay_before(10_000, 1) == MAX_DELAY_SECONDS  # no overflow however long a task is watched
