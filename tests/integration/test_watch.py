"""Every deletion task followed to its end: the real handler against the emulator over HTTP, on
the in-memory store and on a real Redis. The watch queue's messages are delivered by the tests
themselves, straight from the emulator's queue state (so a delay never has to be waited out), in
the event the EventBridge trigger makes of them."""
from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import List, Optional

import pytest

import index
from deleter.idempotency import InMemoryStore
from deleter.settings import Settings
from deleter.source import Source
from deleter.watch_message import WatchMessage
from local.queue_trigger import cloud_events
from triggers.common import RedeliveryRequired
from wiring import FunctionInstance

from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)

from .conftest import EVENTS

WATCH_QUEUE = "ds-record-deleter-watch"
HTTP_EVENT = json.loads((EVENTS / "http_post.json").read_text())
ENDS = ("DSRecordDeletionCompleted", "DSRecordDeletionFailed", "DSRecordDeletionTimedOut")


def http_event(body: dict, method: str = "POST", path: str = "/", headers: Optional[dict] = None) -> dict:
    event = json.loads(json.dumps(HTTP_EVENT))
    event["body"] = json.dumps(body) if body is not None else ""
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = f"1-{uuid.uuid4().hex[:8]}"
    event["headers"].update(headers or {})
    return event


class Watched:
    """One FC instance of the function with watching on, and the watch queue as the tests see it."""

    def __init__(self, function, store) -> None:
        self.function = function
        self.emulator = function.emulator
        self.instance = FunctionInstance(Settings.from_environ(os.environ), store)
        self.delivered: set = set()

    def invoke(self, event, timeout_seconds: int = None):
        raw = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
        return index.handle(raw, self.function.cloud.context(timeout_seconds), lambda: self.instance)

    def queued(self) -> List[dict]:
        """Every message the watch queue holds (delayed or not)."""
        return next(q["Messages"] for q in self.emulator.snapshot()["queues"] if q["QueueName"] == WATCH_QUEUE)

    def pending(self) -> List[dict]:
        return [m for m in self.queued() if m["MessageId"] not in self.delivered]

    def deliver(self, messages: List[dict] = None):
        """The messages (default: all not yet delivered) as one batch of the watch trigger."""
        messages = self.pending() if messages is None else messages
        self.delivered |= {m["MessageId"] for m in messages}
        event = cloud_events([(m["MessageId"], m["MessageBody"]) for m in messages], WATCH_QUEUE,
                             self.emulator.account_id, self.emulator.region)
        return self.invoke(event)

    def deliver_body(self, body: str, message_id: str = None):
        return self.invoke(cloud_events([(message_id or uuid.uuid4().hex, body)], WATCH_QUEUE,
                                        self.emulator.account_id, self.emulator.region))

    def ends(self) -> List[dict]:
        return [n for n in self.function.notifications() if n["Event"] in ENDS and "TaskNo" in n]

    def submitted(self) -> List[dict]:
        return [n for n in self.function.notifications() if n["Event"] == "DSRecordDeletionSubmitted"]


def delay_of(message: dict) -> float:
    return round((message["NextVisibleTime"] - message["EnqueueTime"]) / 1000)


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return InMemoryStore()
    from cloud.redis import RedisClient
    from cloud.redis_store import RedisIdempotencyStore

    return RedisIdempotencyStore(RedisClient(request.getfixturevalue("redis_url")), prefix=f"w-{uuid.uuid4().hex}:")


@pytest.fixture
def watch_settings(function, monkeypatch):
    monkeypatch.setenv("WATCH_QUEUE", WATCH_QUEUE)
    monkeypatch.setenv("WATCH_FIRST_DELAY_SECONDS", "30")
    return monkeypatch


@pytest.fixture
def watched(function, watch_settings, store) -> Watched:
    return Watched(function, store)


def request_once(watched: Watched, domain: str = "example.net", key_tag: int = 31589, **extra) -> dict:
    [result] = watched.invoke({"DomainName": domain, "KeyTag": key_tag, **extra})["Results"]
    assert result["Status"] == "SUBMITTED", result
    return result


# --- the three ends ---------------------------------------------------------------------------------

def test_a_task_that_succeeds_is_told_completed(watched):
    result = request_once(watched)
    [message] = watched.pending()
    assert delay_of(message) == 30  # WATCH_FIRST_DELAY_SECONDS
    body = json.loads(message["MessageBody"])
    assert (body["Type"], body["Version"], body["TaskNo"], body["Attempt"]) == (
        "DSRecordDeletionWatch", 1, result["TaskNo"], 1)
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["Event"], check["TaskStatus"]) == ("ENDED", "DSRecordDeletionCompleted",
                                                                      "EXECUTE_SUCCESS")
    [submitted] = watched.submitted()
    [completed] = watched.ends()
    assert completed["_tag"] == "DSDelCompleted"
    assert {key: completed[key] for key in ("TaskNo", "DomainName", "KeyTag", "Source", "SubmittedAt")} == {
        key: submitted[key] for key in ("TaskNo", "DomainName", "KeyTag", "Source", "SubmittedAt")}
    assert completed["CompletedAt"] >= submitted["SubmittedAt"]
    assert watched.function.ds_key_tags("example.net") == []  # QueryDSRecord confirmed it
    assert watched.pending() == []  # ended: no further check


def test_a_task_that_fails_is_told_failed_with_the_services_error_message(watched, emulator):
    emulator.put_domain({"DomainName": "example.org", "DSRecords": [
        {"KeyTag": 12345, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}],
        "TaskOutcome": "failure", "ErrorMsg": "2304 Object status prohibits operation"})
    result = request_once(watched, "example.org", 12345)
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["Event"], check["TaskStatus"]) == ("ENDED", "DSRecordDeletionFailed",
                                                                      "EXECUTE_FAILURE")
    [failed] = watched.ends()
    assert failed["_tag"] == "DSDelFailed"
    assert (failed["TaskNo"], failed["Code"], failed["ErrorMsg"], failed["Message"]) == (
        result["TaskNo"], "TaskFailed", "2304 Object status prohibits operation", "2304 Object status prohibits operation")
    assert failed["TryCount"] == 6 and failed["FailReason"] == "2304 Object status prohibits operation"
    assert watched.pending() == []


def test_a_task_that_stays_executing_past_the_bound_is_told_timed_out(watched, emulator, watch_settings):
    watch_settings.setenv("WATCH_MAX_SECONDS", "2")
    watch_settings.setenv("WATCH_FIRST_DELAY_SECONDS", "3")
    watched.instance = FunctionInstance(Settings.from_environ(os.environ), watched.instance.store)
    emulator.put_domain({"DomainName": "example.org", "DSRecords": [
        {"KeyTag": 12345, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}], "TaskOutcome": "executing"})
    started = time.monotonic()
    result = request_once(watched, "example.org", 12345)
    [first] = watched.pending()
    assert delay_of(first) == 2  # not the first delay's 3 s: never past the bound
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["TaskStatus"], check["NextAttempt"]) == ("WATCHING", "EXECUTING", 2)
    assert check["NextCheckInSeconds"] <= 2  # nor the doubled 6 s
    [second] = watched.pending()
    assert json.loads(second["MessageBody"])["LastTaskStatus"] == "EXECUTING"
    time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["Event"]) == ("ENDED", "DSRecordDeletionTimedOut")
    [timed_out] = watched.ends()
    assert timed_out["_tag"] == "DSDelTimedOut"
    assert (timed_out["TaskNo"], timed_out["LastTaskStatus"]) == (result["TaskNo"], "EXECUTING")
    assert timed_out["WatchedSeconds"] >= 2
    assert watched.pending() == []


def test_a_task_pending_is_checked_again_later_each_time(watched, emulator):
    emulator.set_task_delays(600, 600)
    request_once(watched)
    delays = []
    for attempt in (1, 2, 3):
        [message] = watched.pending()
        assert json.loads(message["MessageBody"])["Attempt"] == attempt
        delays.append(delay_of(message))
        [check] = watched.deliver()["Results"]
        assert (check["Status"], check["TaskStatus"]) == ("WATCHING", "WAITING_EXECUTE")
    assert delays == [30, 60, 120]
    assert watched.ends() == []


def test_a_task_that_succeeded_with_its_key_tag_still_listed_is_watched_then_told(watched, emulator):
    result = request_once(watched)
    listed_again = {"DomainName": "example.net", "DSRecords": [
        {"KeyTag": 31589, "Algorithm": 8, "DigestType": 2, "Digest": "CD" * 32}]}
    watched.function.tasks()  # the task succeeds on this read...
    emulator.put_domain(listed_again)  # ...and the KeyTag is listed all the same
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["TaskStatus"]) == ("WATCHING", "EXECUTE_SUCCESS")
    [message] = watched.pending()
    since = json.loads(message["MessageBody"])["StillListedSince"]
    assert watched.ends() == []
    # Delivered as the grace ran out (its StillListedSince 20 minutes back): told as a failure.
    watching = datetime.now(timezone.utc) - timedelta(minutes=30)
    late = WatchMessage(result["TaskNo"], "example.net", 31589, Source("mns_queue", "m"), 5, watching, watching,
                        "EXECUTE_SUCCESS", datetime.now(timezone.utc) - timedelta(minutes=20))
    [check] = watched.deliver_body(late.encode())["Results"]
    assert (check["Status"], check["Event"]) == ("ENDED", "DSRecordDeletionFailed")
    [failed] = watched.ends()
    assert (failed["Code"], failed["TaskNo"]) == ("KeyTagStillListed", result["TaskNo"])
    assert "31589" in failed["Message"] and since


# --- once, however often it is delivered ---------------------------------------------------------------

def test_a_watch_message_delivered_twice_tells_its_end_once(watched):
    request_once(watched)
    [message] = watched.pending()
    [first] = watched.deliver([message])["Results"]
    [again] = watched.deliver([message])["Results"]
    [both] = watched.deliver([message, message])["Results"][:1]
    assert first["Event"] == again["Event"] == both["Event"] == "DSRecordDeletionCompleted"
    assert again["Replayed"] is True and both["Replayed"] is True
    assert len(watched.ends()) == 1


def test_a_pending_check_delivered_twice_schedules_its_next_check_once(watched, emulator):
    emulator.set_task_delays(600, 600)
    request_once(watched)
    [message] = watched.pending()
    watched.deliver([message, message])  # the same message twice in one batch
    watched.deliver([message])           # and once more
    [following] = watched.pending()
    assert json.loads(following["MessageBody"])["Attempt"] == 2


def test_two_instances_sharing_redis_tell_an_end_once(function, watch_settings, redis_url):
    from cloud.redis import RedisClient
    from cloud.redis_store import RedisIdempotencyStore

    prefix = f"w-{uuid.uuid4().hex}:"
    first, second = (Watched(function, RedisIdempotencyStore(RedisClient(redis_url), prefix=prefix)) for _ in "ab")
    request_once(first)
    [message] = first.pending()
    first.deliver([message])
    [again] = second.deliver([message])["Results"]
    assert again["Replayed"] is True and len(first.ends()) == 1


# --- no task unwatched -----------------------------------------------------------------------------------

SEND_FAILS = {"rules": [{"service": "mns", "action": "SendMessage", "fault": "unavailable", "rate": 1}]}
QUEUE_REQUEST = json.loads((EVENTS / "mns_queue_eventbridge.json").read_text())[:1]


def test_a_failed_first_scheduling_is_redone_by_the_redelivery_with_no_new_task(watched, emulator, json_logs):
    emulator.set_faults(SEND_FAILS)
    with pytest.raises(RedeliveryRequired):
        watched.invoke(QUEUE_REQUEST)
    [task] = watched.function.tasks()
    [submitted] = watched.submitted()
    assert watched.pending() == []
    errors = [json.loads(line) for line in json_logs.getvalue().splitlines() if '"ERROR"' in line]
    assert any(line.get("task_no") == task["TaskNo"] and "first check not scheduled" in line["message"]
               for line in errors)
    emulator.set_faults(None)
    [result] = watched.invoke(QUEUE_REQUEST)["Results"]
    assert result["TaskNo"] == task["TaskNo"] and "Watched" not in result
    assert len(watched.function.tasks()) == 1 and len(watched.submitted()) == 1  # nothing made or told twice
    [message] = watched.pending()
    assert json.loads(message["MessageBody"])["TaskNo"] == task["TaskNo"]
    assert json.loads(message["MessageBody"])["SubmittedAt"] == submitted["SubmittedAt"]
    [again] = watched.invoke(QUEUE_REQUEST)["Results"]  # settled now: a replay
    assert again["Replayed"] is True and len(watched.pending()) == 1


def test_a_webhook_caller_is_told_the_check_is_not_scheduled_and_asking_again_schedules_it(watched, emulator):
    emulator.set_faults(SEND_FAILS)
    answer = watched.invoke(http_event({"DomainName": "example.net", "KeyTag": 31589}))
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 202 and body["Watched"] is False and "schedule it" in body["Message"]
    assert "Notified" not in body
    emulator.set_faults(None)
    again = watched.invoke(http_event({"DomainName": "example.net", "KeyTag": 31589}))
    assert again["statusCode"] == 202 and json.loads(again["body"])["TaskNo"] == body["TaskNo"]
    assert "Watched" not in json.loads(again["body"])
    assert len(watched.function.tasks()) == 1 and len(watched.submitted()) == 1
    [message] = watched.pending()
    assert json.loads(message["MessageBody"])["TaskNo"] == body["TaskNo"]


def test_a_joined_request_starts_no_second_chain_of_checks(watched, emulator):
    emulator.set_task_delays(600, 600)
    first = request_once(watched, IdempotencyKey="first")
    joined = request_once(watched, IdempotencyKey="second")
    assert joined["TaskNo"] == first["TaskNo"] and joined["Joined"] is True
    assert len(watched.pending()) == 1


def test_a_task_joined_after_it_ended_is_checked_at_once(function, watch_settings, store, monkeypatch):
    monkeypatch.delenv("WATCH_QUEUE")  # the task is made while watching is off...
    unwatched = Watched(function, store)
    made = request_once(unwatched, IdempotencyKey="made")
    function.tasks()  # (it succeeds)
    monkeypatch.setenv("WATCH_QUEUE", WATCH_QUEUE)  # ...and joined once it is on
    watched = Watched(function, store)
    joined = request_once(watched, IdempotencyKey="joined")
    assert (joined["TaskNo"], joined["TaskStatus"]) == (made["TaskNo"], "EXECUTE_SUCCESS")
    [message] = watched.pending()
    assert delay_of(message) == 0
    watched.deliver()
    [completed] = watched.ends()
    assert completed["Event"] == "DSRecordDeletionCompleted" and completed["TaskNo"] == made["TaskNo"]


def test_a_task_adopted_after_it_ended_is_checked_at_once(watched, emulator):
    emulator.set_faults({"rules": [{"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord",
                                    "fault": "internal_error_after", "rate": 1, "times": 1}]})
    result = request_once(watched)
    assert result["Adopted"] is True and result["TaskStatus"] == "EXECUTE_SUCCESS"
    [message] = watched.pending()
    assert delay_of(message) == 0


def test_with_watching_off_nothing_is_sent_and_a_check_still_tells_an_end(function, store):
    unwatched = Watched(function, store)
    result = request_once(unwatched)
    assert all(call["action"] != "SendMessage" for call in function.cloud_calls())
    now = datetime.now(timezone.utc)
    check = WatchMessage(result["TaskNo"], "example.net", 31589, Source("direct", "r"), 1, now, now)
    [ended] = unwatched.deliver_body(check.encode())["Results"]
    assert ended["Event"] == "DSRecordDeletionCompleted"


def test_with_watching_off_a_pending_task_is_left_unwatched_not_retried(function, store, emulator):
    emulator.set_task_delays(600, 600)
    unwatched = Watched(function, store)
    result = request_once(unwatched)
    now = datetime.now(timezone.utc)
    check = WatchMessage(result["TaskNo"], "example.net", 31589, Source("direct", "r"), 1, now, now)
    [answer] = unwatched.deliver_body(check.encode())["Results"]  # settled: the invocation does not fail
    assert (answer["Status"], answer["TaskStatus"]) == ("UNWATCHED", "WAITING_EXECUTE")


# --- a check that cannot finish fails its invocation; a bad message is refused -----------------------------

@pytest.mark.parametrize("fault, code", [
    ("throttling", "Throttling"),      # retryable
    ("forbidden", "Forbidden.RAM"),    # deferred: a permission missing for now
    ("drop_after", "ConnectionLost"),  # unknown (harmless for a read, so retried, then left)
])
def test_a_check_that_cannot_ask_fails_the_invocation_and_its_redelivery_tells_the_end(watched, emulator, fault,
                                                                                        code):
    request_once(watched)
    [message] = watched.pending()
    emulator.set_faults({"rules": [{"service": "domain", "action": "QueryTaskDetailList", "fault": fault,
                                    "rate": 1}]})
    with pytest.raises(RedeliveryRequired) as failed:
        watched.deliver([message])
    assert code in str(failed.value)
    assert watched.ends() == []
    emulator.set_faults(None)
    [check] = watched.deliver([message])["Results"]
    assert check["Event"] == "DSRecordDeletionCompleted" and len(watched.ends()) == 1


def test_a_check_refused_for_good_watches_on_rather_than_stopping_the_queue(watched, monkeypatch, json_logs):
    """A refusal that no redelivery can cure (here: the domain left the account) must not fail the
    invocation for ever: with errorsTolerance NONE that would stop every check behind it."""
    from cloud.domain_api import DomainApiClient
    from cloud.errors import PermanentError

    request_once(watched)
    [message] = watched.pending()

    def refused(self, *args, **kwargs):
        raise PermanentError("DomainNotExist", "The domain does not exist in this account.", service="Domain",
                             action="QueryTaskDetailList")

    monkeypatch.setattr(DomainApiClient, "query_task_details", refused)
    [check] = watched.deliver([message])["Results"]
    assert (check["Status"], check["TaskStatus"], check["NextAttempt"]) == ("WATCHING", None, 2)
    assert any('"ERROR"' in line and "DomainNotExist" in line for line in json_logs.getvalue().splitlines())


def test_a_failed_publish_of_the_end_fails_the_invocation_and_is_published_on_redelivery(watched, emulator):
    request_once(watched)
    [message] = watched.pending()
    emulator.set_faults({"rules": [{"service": "mns", "action": "PublishMessage", "fault": "unavailable", "rate": 1}]})
    with pytest.raises(RedeliveryRequired):
        watched.deliver([message])
    emulator.set_faults(None)
    [check] = watched.deliver([message])["Results"]
    assert "Replayed" not in check and len(watched.ends()) == 1


def test_a_check_with_its_store_down_fails_the_invocation(function, watch_settings, monkeypatch):
    from tests.integration.test_entry_webhook_store_outage import closed_port

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    now = datetime.now(timezone.utc)
    check = WatchMessage("e893148f-6343-4ae1-9eba-6e2a4116e142", "example.net", 31589, Source("http", "r"), 1,
                         now - timedelta(days=2), now - timedelta(days=2))
    event = cloud_events([("m-1", check.encode())], WATCH_QUEUE, function.emulator.account_id, function.emulator.region)
    with pytest.raises(RedeliveryRequired) as failed:
        function.invoke(event)
    assert "StoreUnavailable" in str(failed.value)
    assert function.notifications() == []


@pytest.mark.parametrize("body, field", [
    ('{"Type": "DSRecordDeletionWatch", "Version": 1, "TaskNo": "e893148f-63', None),  # cut short: not JSON
    ('{"Type": "DSRecordDeletionWatch", "Version": 1, "TaskNo": "x"}', "DomainName"),
    ('{"Type": "DSRecordDeletionWatch", "Version": 9}', "Version"),
    (json.dumps({"Type": "DSRecordDeletionWatch", "Version": 1, "TaskNo": "a/../b", "DomainName": "example.net",
                 "KeyTag": 31589, "Source": {"Trigger": "http", "Id": "r"}, "Attempt": 1,
                 "WatchingSince": "2026-01-01T00:00:00.000Z", "SubmittedAt": "2026-01-01T00:00:00.000Z"}), "TaskNo"),
], ids=["truncated", "incomplete", "newer-version", "hostile-task-no"])
def test_a_bad_watch_message_is_refused_clearly_and_once(watched, body, field):
    [result] = watched.deliver_body(body, message_id="bad-1")["Results"]
    # Cut short, it is no JSON at all, so not known for a watch message: InvalidJSON, as any body.
    assert result["Code"] == ("InvalidJSON" if field is None else "InvalidWatchMessage"), result
    assert result["Status"] == "REJECTED" and result["Code"] in ("InvalidWatchMessage", "InvalidJSON"), result
    assert result["Message"] and (field is None or field in result["Message"])
    watched.deliver_body(body, message_id="bad-1")  # delivered again: not published again
    [rejected] = [n for n in watched.function.notifications() if n["Event"] == "DSRecordDeletionRejected"]
    assert rejected.get("Field") == field
    assert watched.function.domain_api_calls() == []  # never taken for a request, nor checked


# --- the sample event (make invoke) ------------------------------------------------------------------------

def test_the_sample_watch_event_runs_one_check(function):
    """tests/events/mns_queue_watch.json: watched since 2026-11-29, long past a day, for a TaskNo
    this emulator never made: told as timed out, with the status its last check saw."""
    [result] = function.invoke_sample("mns_queue_watch.json")["Results"]
    assert (result["Status"], result["Event"], result["Attempt"]) == ("ENDED", "DSRecordDeletionTimedOut", 7)
    [timed_out] = function.notifications()
    assert (timed_out["TaskNo"], timed_out["LastTaskStatus"], timed_out["Source"]) == (
        "e893148f-6343-4ae1-9eba-6e2a4116e142", "EXECUTING", {"Trigger": "http", "Id": "1-64f6cd87-http-single"})
    assert function.domain_api_calls("QueryTaskDetailList")  # it asked the service first


@pytest.mark.parametrize("fault", ["forbidden", "unavailable"])
def test_a_check_past_the_bound_that_cannot_ask_tells_timed_out_rather_than_failing_for_ever(
        watched, emulator, watch_settings, fault):
    """WATCH_MAX_SECONDS was applied only after a read that worked: a permission removed for good
    (Forbidden.RAM, a deferred error) failed every delivery of a check past its bound, so no end
    was ever told and the stream behind it stalled. Past the bound, the last status seen is told."""
    watch_settings.setenv("WATCH_MAX_SECONDS", "1")
    watch_settings.setenv("WATCH_FIRST_DELAY_SECONDS", "1")
    watched.instance = FunctionInstance(Settings.from_environ(os.environ), watched.instance.store)
    emulator.put_domain({"DomainName": "example.org", "DSRecords": [
        {"KeyTag": 12345, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}], "TaskOutcome": "executing"})
    result = request_once(watched, "example.org", 12345)
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["TaskStatus"]) == ("WATCHING", "EXECUTING")
    time.sleep(1.2)
    emulator.set_faults({"rules": [{"service": "domain", "action": "QueryTaskDetailList", "fault": fault,
                                    "rate": 1}]})
    [check] = watched.deliver()["Results"]
    assert (check["Status"], check["Event"]) == ("ENDED", "DSRecordDeletionTimedOut"), check
    [timed_out] = watched.ends()
    assert (timed_out["TaskNo"], timed_out["LastTaskStatus"]) == (result["TaskNo"], "EXECUTING")
