"""One pending deletion task per DS record (issue 8): however many times, under however many keys
and through however many triggers a deletion is asked for, against the emulator.

Each test here failed on the code before the per-record task was introduced (two tasks, a
success reported as a failure, a TaskNo never published, or a call outliving its invocation)."""
from __future__ import annotations

import json
import os
import time

import pytest

import index
from deleter.idempotency import InMemoryStore
from deleter.settings import Settings
from triggers.common import RedeliveryRequired
from wiring import FunctionInstance

from .conftest import EVENTS
from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)

HTTP_EVENT = json.loads((EVENTS / "http_post.json").read_text())
QUEUE_EVENT = json.loads((EVENTS / "mns_queue_eventbridge.json").read_text())[0]
SAVE = "SaveSingleTaskForDeletingDSRecord"
RECORD = {"DomainName": "example.com", "KeyTag": 2371}


def rule(service, action, fault, **extra):
    return {"service": service, "action": action, "fault": fault, "rate": 1, **extra}


def http_event(body) -> dict:
    event = json.loads(json.dumps(HTTP_EVENT))
    event["body"] = json.dumps(body)
    event["requestContext"]["requestId"] = f"1-{time.time_ns():x}"  # every HTTP request is a new one
    return event


def queue_message(body, message_id) -> dict:
    message = json.loads(json.dumps(QUEUE_EVENT))
    message["data"].update(messageId=message_id, messageBody=json.dumps(body))
    return message


def timer_event(payload) -> dict:
    return {"triggerTime": "2026-12-04T07:49:00Z", "triggerName": "nightly", "payload": json.dumps(payload)}


def answer_of(http_answer) -> dict:
    return {"status": http_answer["statusCode"], **json.loads(http_answer["body"])}


def submitted(function):
    return [n for n in function.notifications() if n["Event"] == "DSRecordDeletionSubmitted"]


# --- 1. the same deletion asked twice makes one task --------------------------------------------

def test_twice_in_one_queue_messages_array_is_one_task(function):
    [first, second] = function.invoke([queue_message([RECORD, dict(RECORD, Lang="zh")], "M-1")])["Results"]
    assert first["TaskNo"] == second["TaskNo"] and len(function.tasks()) == 1
    assert len(function.domain_api_calls(SAVE)) == 1 and len(submitted(function)) == 1


def test_twice_in_one_timer_payload_is_one_task(function):
    [first, second] = function.invoke(timer_event([RECORD, RECORD]))["Results"]
    assert first["TaskNo"] == second["TaskNo"] and len(function.domain_api_calls(SAVE)) == 1


def test_two_queue_messages_with_the_same_body_join_one_task(function, emulator):
    """A producer that retried SendMessage: two message ids, one DS record."""
    emulator.set_task_delays(5, 5)  # still pending when the second message comes
    [first] = function.invoke([queue_message(RECORD, "M-1")])["Results"]
    [second] = function.invoke([queue_message(RECORD, "M-2")])["Results"]
    assert second["TaskNo"] == first["TaskNo"] and second["Joined"] is True
    assert second["TaskStatus"] in ("WAITING_EXECUTE", "EXECUTING")
    assert len(function.domain_api_calls(SAVE)) == 1 and len(function.tasks()) == 1
    joined = submitted(function)[1]
    assert joined["TaskNo"] == first["TaskNo"] and joined["Joined"] is True and joined["_tag"] == "DSDelSubmitted"


def test_two_idempotency_keys_and_two_triggers_join_one_task(function, emulator):
    emulator.set_task_delays(5, 5)
    first = answer_of(function.invoke(http_event(dict(RECORD, IdempotencyKey="a"))))
    second = answer_of(function.invoke(http_event(dict(RECORD, IdempotencyKey="b"))))
    [third] = function.invoke(timer_event(RECORD))["Results"]
    assert first["status"] == second["status"] == 202 and "Joined" not in first
    assert second["Joined"] is True and second["TaskNo"] == third["TaskNo"] == first["TaskNo"]
    assert third["Joined"] is True
    assert len(function.domain_api_calls(SAVE)) == 1
    assert [n.get("Joined", False) for n in submitted(function)] == [False, True, True]


@pytest.fixture
def short_copy_window(monkeypatch):
    """Requests asked again a moment later (not copies waiting in one batch) are new requests."""
    import deleter.deletion as deletion

    monkeypatch.setattr(deletion, "COPY_WINDOW_MS", 50)
    return lambda: time.sleep(0.1)


def test_a_task_that_failed_lets_a_new_request_make_a_new_task(function, emulator, short_copy_window):
    emulator.put_domain({"DomainName": "example.com", "TaskOutcome": "failure", "DSRecords": [
        {"KeyTag": 2371, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    first = answer_of(function.invoke(http_event(RECORD)))
    [failed] = function.tasks()
    assert failed["TaskStatus"] == "EXECUTE_FAILURE"  # asked of the service, not guessed
    short_copy_window()
    second = answer_of(function.invoke(http_event(RECORD)))
    assert second["status"] == 202 and second["TaskNo"] != first["TaskNo"] and "Joined" not in second
    assert len(function.domain_api_calls(SAVE)) == 2


def test_a_task_that_succeeded_answers_the_request_unless_the_key_tag_is_listed_again(function, emulator,
                                                                                     short_copy_window):
    first = answer_of(function.invoke(http_event(RECORD)))
    assert 2371 not in function.ds_key_tags("example.com")  # tasks finish at once here
    short_copy_window()
    again = answer_of(function.invoke(http_event(RECORD)))
    assert (again["TaskNo"], again["Joined"], again["TaskStatus"]) == (first["TaskNo"], True, "EXECUTE_SUCCESS")
    assert len(function.domain_api_calls(SAVE)) == 1
    # The same DS record published again (a rollback): the old task's success is history.
    emulator.put_domain({"DomainName": "example.com", "DSRecords": [
        {"KeyTag": 2371, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    short_copy_window()
    third = answer_of(function.invoke(http_event(RECORD)))
    assert third["TaskNo"] != first["TaskNo"] and "Joined" not in third
    assert len(function.domain_api_calls(SAVE)) == 2


def test_two_instances_racing_for_one_record_under_two_keys_make_one_task(function, emulator, redis_url):
    """Two FC instances share the Redis store; each gets the same deletion under its own key at
    the same moment (the domain's lock serialises them, the second joins)."""
    import threading

    from cloud.redis import RedisClient
    from cloud.redis_store import RedisIdempotencyStore

    emulator.set_task_delays(5, 5)
    emulator.set_faults({"rules": [rule("domain", SAVE, "latency", latency_ms=300)]})
    prefix = f"race-{time.time_ns()}:"
    settings = Settings.from_environ(os.environ)
    instances = [FunctionInstance(settings, RedisIdempotencyStore(RedisClient(redis_url), prefix=prefix))
                 for _ in range(2)]
    answers = [None, None]

    def ask(position):
        event = json.dumps([queue_message(RECORD, f"M-{position}")]).encode()
        answers[position] = index.handle(event, function.cloud.context(30), lambda: instances[position])

    threads = [threading.Thread(target=ask, args=(position,)) for position in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [answer["Results"][0] for answer in answers]
    assert results[0]["TaskNo"] == results[1]["TaskNo"] and len(function.tasks()) == 1
    assert sorted(bool(result.get("Joined")) for result in results) == [False, True]


# --- 2. records keyed by a delivery id outlive every redelivery ----------------------------------

class Clock:
    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.ms


def test_a_settled_batch_redelivered_after_the_idempotency_ttl_makes_no_new_task(function, emulator):
    """The batch's task failed (so the per-record task would let a new one be made): only the
    delivery's own record, kept for the redelivery window, tells a redelivery from a new request."""
    emulator.put_domain({"DomainName": "example.com", "TaskOutcome": "failure", "DSRecords": [
        {"KeyTag": 2371, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    clock = Clock()
    instance = FunctionInstance(Settings.from_environ(os.environ), InMemoryStore(clock_ms=clock))
    batch = json.dumps([queue_message(RECORD, "M-kept")]).encode()
    [first] = index.handle(batch, function.cloud.context(), lambda: instance)["Results"]
    clock.ms += 2 * 3600 * 1000  # twice IDEMPOTENCY_TTL_SECONDS (3600) later: MNS may still redeliver
    [again] = index.handle(batch, function.cloud.context(), lambda: instance)["Results"]
    assert (again["TaskNo"], again["Replayed"]) == (first["TaskNo"], True)
    assert len(function.domain_api_calls(SAVE)) == 1 and len(submitted(function)) == 1
    clock.ms += 8 * 86400 * 1000  # past DELIVERY_RECORD_TTL_SECONDS: MNS has dropped the message by now
    [late] = index.handle(batch, function.cloud.context(), lambda: instance)["Results"]
    assert late["TaskNo"] != first["TaskNo"]  # a new request for a record whose task failed


def test_a_delivery_record_in_redis_lives_for_the_redelivery_window(function, redis_url):
    from cloud.redis import RedisClient
    from cloud.redis_store import RedisIdempotencyStore

    prefix = f"ttl-{time.time_ns()}:"
    client = RedisClient(redis_url)
    instance = FunctionInstance(Settings.from_environ(os.environ), RedisIdempotencyStore(client, prefix=prefix))
    index.handle(json.dumps([queue_message(RECORD, "M-ttl")]).encode(), function.cloud.context(), lambda: instance)
    [key] = [k for k in client.execute("KEYS", f"{prefix}record:src:*")]
    ttl_ms = int(client.execute("PTTL", key))
    assert 8 * 86400 * 1000 - 60_000 < ttl_ms <= 8 * 86400 * 1000


# --- 3. reconciliation looks far enough, or says it did not ---------------------------------------

def test_reconciliation_finds_its_task_among_more_than_a_thousand_and_reports_its_success(function, emulator):
    """Others' tasks, all newer than the lost send, fill more than ten pages of the listing."""
    now_ms = int(time.time() * 1000)
    emulator.create_tasks("example.org", 12345, 1200, now_ms + 1000, now_ms + 60_000)
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1)]})
    [result] = function.invoke([queue_message(RECORD, "M-lost")])["Results"]
    own = [task for task in function.tasks("example.com")]
    assert len(own) == 1 and (result["TaskNo"], result["Adopted"]) == (own[0]["TaskNo"], True)
    assert result["TaskStatus"] == "EXECUTE_SUCCESS"  # it had already succeeded: reported so
    assert submitted(function)[0]["TaskStatus"] == "EXECUTE_SUCCESS"
    assert len(function.domain_api_calls("QueryTaskList")) > 10


def test_a_listing_too_long_to_cover_leaves_the_outcome_unknown(function, emulator, monkeypatch):
    import deleter.reconcile as reconcile

    monkeypatch.setattr(reconcile, "MAX_TASK_PAGES", 2)
    now_ms = int(time.time() * 1000)
    emulator.create_tasks("example.org", 12345, 300, now_ms + 1000, now_ms + 60_000)
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1)]})
    with pytest.raises(RedeliveryRequired, match="ReconcileIncomplete"):
        function.invoke([queue_message(RECORD, "M-long")])
    assert len(function.domain_api_calls(SAVE)) == 1  # "did not look far enough" is not "not found"


# --- 4. only the service's own answer counts as an answer ----------------------------------------

def test_a_gateway_page_on_the_send_waits_the_settle_time_and_finds_the_late_task(function, emulator, monkeypatch):
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "1")
    emulator.set_faults({"rules": [rule("domain", SAVE, "gateway_page", status=504, process_after_ms=300,
                                        times=1)]})
    [result] = function.invoke([queue_message(RECORD, "M-page")], timeout_seconds=10)["Results"]
    assert result["Adopted"] is True and len(function.tasks()) == 1


# --- 5. refusals that mean "nothing was processed" are not final ---------------------------------

def test_an_expired_token_leaves_the_request_open_and_a_redelivery_with_fresh_credentials_makes_it(
        function, emulator):
    from local.runtime import FcCredentials

    fresh = function.cloud.credentials
    expired = next(c for c in emulator.credentials if c["AccessKeyId"] == "STS.NEmulatorExpiredKey01")
    function.cloud.credentials = FcCredentials(expired["AccessKeyId"], expired["AccessKeySecret"],
                                               expired["SecurityToken"])
    batch = [queue_message(RECORD, "M-token")]
    with pytest.raises(RedeliveryRequired) as caught:
        function.invoke(batch)
    assert "InvalidSecurityToken.Expired" in str(caught.value) and '"Failure": "RETRYABLE"' in str(caught.value)
    assert [n["Event"] for n in function.notifications()] == []  # no DSRecordDeletionFailed
    function.cloud.credentials = fresh
    [result] = function.invoke(batch)["Results"]
    assert result["Status"] == "SUBMITTED" and len(function.tasks()) == 1


def test_an_expired_token_over_http_is_a_503_with_one_classification(function, emulator):
    from local.runtime import FcCredentials

    expired = next(c for c in emulator.credentials if c["AccessKeyId"] == "STS.NEmulatorExpiredKey01")
    function.cloud.credentials = FcCredentials(expired["AccessKeyId"], expired["AccessKeySecret"],
                                               expired["SecurityToken"])
    answer = function.invoke(http_event(RECORD))
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"]
    assert json.loads(answer["body"])["Code"] == "InvalidSecurityToken.Expired"
    assert expired["SecurityToken"] not in answer["body"]


def test_a_missing_permission_is_not_a_final_refusal(function, emulator):
    emulator.set_faults({"rules": [rule("domain", SAVE, "forbidden", times=1)]})
    batch = [queue_message(RECORD, "M-ram")]
    with pytest.raises(RedeliveryRequired, match="Forbidden.RAM"):
        function.invoke(batch)
    [result] = function.invoke(batch)["Results"]  # the policy was fixed
    assert result["Status"] == "SUBMITTED" and not [n for n in function.notifications()
                                                    if n["Event"] == "DSRecordDeletionFailed"]


# --- 7. publishing always gets time ---------------------------------------------------------------

def test_a_one_second_function_still_publishes_its_taskno(function, emulator, monkeypatch):
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "0.5")
    emulator.set_faults({"rules": [rule("domain", SAVE, "latency", latency_ms=350)]})
    [result] = function.invoke([queue_message(RECORD, "M-quick")], timeout_seconds=1)["Results"]
    assert result["Status"] == "SUBMITTED" and result["Notified"] is True and len(submitted(function)) == 1


def test_a_timeout_that_leaves_no_time_to_publish_is_a_configuration_error(function, monkeypatch):
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "3")
    answer = function.invoke(http_event(RECORD), timeout_seconds=1)
    assert answer["statusCode"] == 500 and json.loads(answer["body"])["Code"] == "FunctionMisconfigured"
    with pytest.raises(Exception, match="DEADLINE_MARGIN_SECONDS .3. leaves no time"):
        function.invoke([queue_message(RECORD, "M-none")], timeout_seconds=1)
    assert function.cloud_calls() == []


# --- 9. a refusal is published once -------------------------------------------------------------

@pytest.mark.parametrize("event", [
    {"DomainName": "not-in-this-account.example", "KeyTag": 7},  # a direct invocation
    {"body": json.dumps({"DomainName": "not-in-this-account.example", "KeyTag": 7}), "attrs": {}},  # topic STREAM
    [dict(queue_message({"DomainName": "not-in-this-account.example", "KeyTag": 7}, ""), id="")],  # no message id
], ids=["direct", "topic-stream", "queue-without-id"])
def test_a_refusal_of_a_request_whose_id_does_not_come_again_is_published_once(function, event):
    for _ in range(2):
        [result] = function.invoke(event)["Results"]
        assert (result["Status"], result["Code"]) == ("FAILED", "DomainNotExist")
    assert len(function.domain_api_calls()) == 1  # the first one's pre-check; the second asks nothing
    assert [n["Event"] for n in function.notifications()] == ["DSRecordDeletionFailed"]


# --- a crash (a store blip) between the claim and the DS record's note ------------------------------

def test_a_task_whose_record_note_failed_is_still_joined_by_the_next_request(function, emulator, monkeypatch):
    """A's task is claimed, but noting it as its DS record's task fails (a store that fails
    once, on cue: nothing real fails on cue). B asks the same deletion under another key: it
    must not make a second task. A's marker stays up until the note is written, so B settles A
    first (finding A's claimed task, noting it for the record), then joins it."""
    from deleter.idempotency import StoreError

    emulator.set_task_delays(60, 60)  # A's task stays pending
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0.2")  # B waits A's send out before reconciling for it
    real_set_marker = InMemoryStore.set_marker
    failures = {"left": 1}

    def flaky_set_marker(self, name, value, ttl_ms):
        if name.startswith("task-of:") and failures["left"]:
            failures["left"] -= 1
            raise StoreError("store blip")
        return real_set_marker(self, name, value, ttl_ms)

    monkeypatch.setattr(InMemoryStore, "set_marker", flaky_set_marker)
    [a] = function.invoke([queue_message(RECORD, "M-a")])["Results"]
    assert a["Status"] == "SUBMITTED" and failures["left"] == 0
    [b] = function.invoke([queue_message(RECORD, "M-b")])["Results"]
    assert (b["TaskNo"], b["Joined"]) == (a["TaskNo"], True)
    assert len(function.tasks()) == 1 and len(function.domain_api_calls(SAVE)) == 1


def test_the_same_request_asked_again_after_its_record_note_failed_makes_no_second_task(
        function, emulator, monkeypatch, short_copy_window):
    """As the test above, but asked again under the SAME key (a webhook call without an
    IdempotencyKey, keyed by what it asks, its record kept only for the copy window). The domain's
    marker names that key, so the request skipped settling it as "my own send", while its fresh
    record knew of no send and no note named the task: a second task. A marker of its own key
    that its record does not know of is settled like another request's."""
    from deleter.idempotency import StoreError

    emulator.set_task_delays(60, 60)
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0.2")  # the second waits the first's send out
    real_set_marker = InMemoryStore.set_marker
    failures = {"left": 1}

    def flaky_set_marker(self, name, value, ttl_ms):
        if name.startswith("task-of:") and failures["left"]:
            failures["left"] -= 1
            raise StoreError("store blip")
        return real_set_marker(self, name, value, ttl_ms)

    monkeypatch.setattr(InMemoryStore, "set_marker", flaky_set_marker)
    first = answer_of(function.invoke(http_event(RECORD)))
    assert first["status"] == 202 and failures["left"] == 0
    short_copy_window()  # the settled record keyed by content is gone
    second = answer_of(function.invoke(http_event(RECORD)))
    assert len(function.domain_api_calls(SAVE)) == 1, (first, second)
    assert second["TaskNo"] == first["TaskNo"]
