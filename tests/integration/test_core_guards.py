"""Guards of the exactly-once core that no other test failed without (issue 8, point 11): each test
here kills mutants of submission.py, reconcile.py or idempotency.py that `make mutate` found
surviving. The real handler, against the emulator over HTTP."""
from __future__ import annotations

import json
import threading
import time

import pytest

import index
from deleter.deletion_request import parse_deletion_request
from deleter.idempotency import InMemoryStore, StoreError, fingerprint, idempotency_key
from deleter.reconcile import SKEW_MARGIN_MS
from deleter.source import MNS_QUEUE, Source
from deleter.submission import MAX_SUBMISSIONS, RecordTask, record_task_name
from triggers.common import RedeliveryRequired

from .test_one_task_per_record import queue_message

SAVE = "SaveSingleTaskForDeletingDSRecord"
RECORD = {"DomainName": "example.com", "KeyTag": 2371}


@pytest.fixture(autouse=True)
def no_precheck(function, monkeypatch):  # after the function fixture, which clears the settings
    """These guard what happens from the send on. The pre-check (tests/integration/test_guard.py)
    would answer some of them before any send (a KeyTag not listed) and adds a QueryDSRecord that
    the fault rules here would meet first: off, as in the core these mutants were made of."""
    monkeypatch.setenv("PRECHECK", "off")


def rule(service, action, fault, **extra):
    return {"service": service, "action": action, "fault": fault, "rate": 1, **extra}


def unsettled(function, event, **invoke) -> list:
    """The results of an invocation that fails so that the trigger delivers it again."""
    with pytest.raises(RedeliveryRequired) as caught:
        function.invoke(event, **invoke)
    return json.loads(str(caught.value).split(": ", 1)[1])["Results"]


def store():
    return index._current_instance().store


def record_key(request: dict, source: Source) -> tuple:
    """The idempotency key and fingerprint the function gives this request from this source."""
    parsed = parse_deletion_request(request)
    return idempotency_key(parsed, source), fingerprint(parsed)


def attempt(function, event):
    """The invocation's answer, or the RedeliveryRequired it failed with."""
    try:
        return function.invoke(event, timeout_seconds=10)
    except RedeliveryRequired as error:
        return error


def error_lines(json_logs) -> list:
    return [line for line in map(json.loads, json_logs.getvalue().splitlines()) if line["level"] == "ERROR"]


# --- reconcile.py: which task of the window is the lost send's ------------------------------------

def test_a_task_that_removed_the_key_tag_while_reconciliation_looked_is_adopted(function, emulator, monkeypatch):
    """The send's answer is lost. The KeyTag is still listed when reconciliation first reads the
    listing, and the request's own task succeeds before its details are read: only the listing
    read again tells it from a task that removed another KeyTag. Read once, it would pass the
    task over and send again: a second task."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0.2")
    emulator.set_task_delays(0.5, 0.5)  # the task succeeds 1 s after the send
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1),
                                   rule("domain", "QueryTaskList", "latency", latency_ms=2000, times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=10)["Results"]
    [task] = function.tasks("example.org")
    assert (result["TaskNo"], result["Adopted"], result["TaskStatus"]) == (task["TaskNo"], True, "EXECUTE_SUCCESS")
    assert len(function.domain_api_calls(SAVE)) == 1
    assert len(function.domain_api_calls("QueryDSRecord")) == 2  # before the task ended, and after


def test_a_succeeded_task_of_another_key_tag_that_nobody_claimed_is_not_adopted(function, emulator):
    """Someone else's task (the console, say) deleted another KeyTag of the domain a moment ago,
    and the send is answered with an error that created nothing. Our KeyTag is still listed after
    that task succeeded: it removed another KeyTag, and is not ours to adopt."""
    [others] = emulator.create_tasks("example.org", 54321, 1)  # succeeds at once, changes no record
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    assert result["Status"] == "SUBMITTED" and "Adopted" not in result and result["TaskNo"] != others
    assert len(function.domain_api_calls(SAVE)) == 2


def test_a_task_that_adds_a_ds_record_is_never_adopted(function, emulator):
    """A task of the domain made in the window, but one that adds a DS record (the sibling API):
    it is not the lost deletion."""
    [adding] = emulator.create_tasks("example.org", 12345, 1, task_type="ADD_DS_RECORD", outcome="executing")
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    assert result["Status"] == "SUBMITTED" and "Adopted" not in result and result["TaskNo"] != adding


def test_a_task_of_another_domain_in_the_window_is_passed_over(function, emulator):
    """The listing holds every domain's tasks: one of another domain, made just now, is not ours
    (its details, asked for our domain, hold nothing)."""
    [elsewhere] = emulator.create_tasks("example.net", 31589, 1, outcome="executing")
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    assert result["Status"] == "SUBMITTED" and "Adopted" not in result and result["TaskNo"] != elsewhere


def test_of_two_tasks_of_the_domain_the_one_made_nearest_the_lost_send_is_adopted(function, emulator):
    """The send's answer is lost; someone else (the console, say) makes a task for the domain 3 s
    later, before reconciliation reads the listing (here made ahead, dated 3 s on). Both are
    unclaimed and pending; the listing shows the newest first. The one made nearest the send is
    the request's own."""
    [later] = emulator.create_tasks("example.org", 54321, 1, int(time.time() * 1000) + 3000,
                                    int(time.time() * 1000) + 3000, outcome="executing")
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    [own] = [task for task in function.tasks("example.org") if task["TaskNo"] != later]
    assert (result["TaskNo"], result["Adopted"]) == (own["TaskNo"], True)


def test_a_task_older_than_the_window_is_never_adopted(function, emulator):
    """A pending deletion task of the domain from 10 minutes ago (the listing, by whole days, shows
    it): older than the first send less the clock-skew margin, it cannot be the lost one."""
    ten_minutes_ago = int(time.time() * 1000) - 600_000
    [old] = emulator.create_tasks("example.org", 12345, 1, ten_minutes_ago, ten_minutes_ago, outcome="executing")
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    assert result["Status"] == "SUBMITTED" and "Adopted" not in result and result["TaskNo"] != old


def test_a_task_made_exactly_at_the_start_of_the_window_is_looked_at(function, emulator, monkeypatch):
    """The window opens SKEW_MARGIN_MS before the first send, that instant included: a crashed
    instance's first send at a whole second, a pending task of the domain made exactly 5 minutes
    before it (task times are whole seconds), nothing else: that task is adopted."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0")
    request = {"DomainName": "example.org", "KeyTag": 12345}
    key, fingerprint = record_key(request, Source(MNS_QUEUE, "M-edge", survives_redelivery=True))
    sent = int(time.time()) * 1000
    [edge] = emulator.create_tasks("example.org", 12345, 1, sent - SKEW_MARGIN_MS, sent - SKEW_MARGIN_MS,
                                   outcome="executing")
    now = int(time.time() * 1000)
    assert store().acquire(key, "dead-instance", fingerprint, now + 50, now, 60_000).acquired
    assert store().update(key, "dead-instance", {"attempted_at_ms": str(sent), "sent_at_ms": str(sent)}, 60_000)
    time.sleep(0.06)  # the dead instance's lease lapses
    [result] = function.invoke([queue_message(request, "M-edge")])["Results"]
    assert (result["TaskNo"], result["Adopted"]) == (edge, True)


# --- submission.py -------------------------------------------------------------------------------

def test_a_busy_domain_lock_is_a_retryable_domain_busy_and_nothing_is_sent(function):
    assert store().lock("domain:example.org", "another-invocation", 60_000)
    [result] = unsettled(function, {"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=1)
    assert (result["Code"], result["Failure"]) == ("DomainBusy", "RETRYABLE")
    assert function.domain_api_calls(SAVE) == []


def test_a_send_refused_for_good_leaves_no_marker_to_hold_up_the_domain(function, emulator, monkeypatch):
    """The send is refused (the domain is not in the account yet): nothing was created, so the
    next request for the domain must not wait for that send to settle."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "30")
    [refused] = function.invoke({"DomainName": "added-later.example", "KeyTag": 5})["Results"]
    assert (refused["Status"], refused["Code"]) == ("FAILED", "DomainNotExist")
    emulator.put_domain({"DomainName": "added-later.example", "DSRecords": [
        {"KeyTag": tag, "Algorithm": 13, "DigestType": 2, "Digest": f"{tag:02d}" * 32} for tag in (5, 6)]})
    [other] = function.invoke({"DomainName": "added-later.example", "KeyTag": 6}, timeout_seconds=10)["Results"]
    assert other["Status"] == "SUBMITTED", other


def test_five_sends_that_created_nothing_leave_the_request_open_as_unreconciled(function, emulator):
    """Each send is answered InternalError and creates nothing; reconciliation finds no task each
    time: after MAX_SUBMISSIONS sends the request stops, its outcome unknown, for a redelivery."""
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error")]})
    [result] = unsettled(function, {"DomainName": "example.org", "KeyTag": 12345})
    assert (result["Code"], result["Failure"]) == ("Unreconciled", "UNKNOWN")
    assert len(function.domain_api_calls(SAVE)) == MAX_SUBMISSIONS and function.tasks() == []


def test_settling_is_counted_from_when_a_lost_call_gave_up_not_from_when_it_left(function, emulator, monkeypatch):
    """The service holds the call 1.5 s and then creates the task; the client gives up after 1 s.
    The service may act on a call until RECONCILE_SETTLE_SECONDS (1) after the client last knew it
    pending, 2 s in: counted from when the call left, the settle time would end at 1 s, before
    the task exists, and a second send would make a second task."""
    monkeypatch.setenv("READ_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "1")
    emulator.set_faults({"rules": [rule("domain", SAVE, "latency", latency_ms=1500, times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=10)["Results"]
    [task] = function.tasks("example.org")
    assert (result["TaskNo"], result["Adopted"]) == (task["TaskNo"], True)


@pytest.mark.parametrize("sends", [{"attempted_at_ms": -20_000, "sent_at_ms": 0}, {"attempted_at_ms": 0}],
                         ids=["first-and-last-send", "a-record-noting-only-the-first-send"])
def test_a_redelivery_waits_for_the_settle_time_from_the_last_send_not_the_first(function, emulator, monkeypatch,
                                                                                 sends):
    """A crashed instance's record: its first send 20 s ago, its last a moment ago (or one send a
    moment ago, in a record from a version that noted only the first), none answered, no task
    found. Sending again must wait until the last send known has settled."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "5")
    request = {"DomainName": "example.org", "KeyTag": 12345}
    key, fingerprint = record_key(request, Source(MNS_QUEUE, "M-crashed", survives_redelivery=True))
    now = int(time.time() * 1000)
    assert store().acquire(key, "dead-instance", fingerprint, now + 50, now, 60_000).acquired
    assert store().update(key, "dead-instance", {name: str(now + ago) for name, ago in sends.items()}, 60_000)
    time.sleep(0.06)  # the dead instance's lease lapses
    [result] = unsettled(function, [queue_message(request, "M-crashed")], timeout_seconds=3)
    assert (result["Code"], result["Failure"]) == ("Unsettled", "UNKNOWN")
    assert function.domain_api_calls(SAVE) == []


def test_an_unreadable_marker_on_the_domain_holds_nothing_up(function, monkeypatch):
    """A domain marker that cannot be read (written by another version, say) protects nothing."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "30")
    store().set_marker("unsettled:example.org", "not a marker", 60_000)
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=10)["Results"]
    assert result["Status"] == "SUBMITTED" and function.domain_api_calls("QueryTaskList") == []


def test_a_joined_request_delivered_again_is_answered_with_the_task_it_joined(function, emulator):
    emulator.set_task_delays(5, 5)
    [first] = function.invoke([queue_message(RECORD, "M-1")])["Results"]
    [joined] = function.invoke([queue_message(RECORD, "M-2")])["Results"]
    [again] = function.invoke([queue_message(RECORD, "M-2")])["Results"]  # M-2 redelivered
    assert (joined["TaskNo"], joined["Joined"]) == (first["TaskNo"], True)
    assert (again["TaskNo"], again["Joined"], again["Replayed"]) == (first["TaskNo"], True, True)
    assert len(function.domain_api_calls(SAVE)) == 1


def test_a_look_up_of_the_records_task_refused_for_good_leaves_the_request_open(function):
    """The DS record's task is one the service refuses to look up (here a TaskNo it rejects as a
    parameter): that says nothing about the DS record, so the request is neither refused nor sent."""
    store().set_marker(record_task_name("example.com", 2371), RecordTask("T" * 1025, "req:earlier").encode(), 60_000)
    [result] = unsettled(function, [queue_message(RECORD, "M-look-up")])
    assert (result["Code"], result["Failure"]) == ("InvalidParameter", "RETRYABLE")
    assert function.domain_api_calls(SAVE) == [] and function.notifications() == []


def test_a_first_send_whose_time_could_not_be_noted_again_is_still_reconciled(function, emulator, monkeypatch):
    """The send's answer is lost; noting the send time again afterwards fails (a store blip, made
    here by a store that fails on cue), and so does the reconciliation (throttled). The record
    must already say a send was made, so that the redelivery reconciles instead of sending again."""
    real_update = InMemoryStore.update
    sends_noted = []

    def flaky_update(self, key, owner, changes, ttl_ms):
        if "sent_at_ms" in changes:
            sends_noted.append(changes)
            if len(sends_noted) == 2:
                raise StoreError("store blip")
        return real_update(self, key, owner, changes, ttl_ms)

    monkeypatch.setattr(InMemoryStore, "update", flaky_update)
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1),
                                   rule("domain", "QueryDSRecord", "throttling")]})
    unsettled(function, [queue_message(RECORD, "M-blip")], timeout_seconds=2)
    emulator.set_faults(None)
    [result] = function.invoke([queue_message(RECORD, "M-blip")])["Results"]
    [task] = function.tasks("example.com")
    assert (result["TaskNo"], result["Adopted"]) == (task["TaskNo"], True)
    assert len(function.domain_api_calls(SAVE)) == 1


def test_a_record_taken_over_while_its_request_waited_is_not_sent_for(function):
    """The request waits for its domain's lock; meanwhile its record passes to another owner (its
    lease over: say, a clock that jumped). Only the record's owner may send for it."""
    request = {"DomainName": "example.org", "KeyTag": 12345}
    key, fingerprint = record_key(request, Source(MNS_QUEUE, "M-taken", survives_redelivery=True))
    assert store().lock("domain:example.org", "another-invocation", 60_000)
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(answer=attempt(function, [queue_message(request, "M-taken")])))
    worker.start()
    # The record's holder, read without taking it (had the request not made it yet, this makes
    # it with a lapsed lease, which the request then takes over).
    while store().acquire(key, "peek", fingerprint, 0, -1, 60_000).record.owner == "peek":
        time.sleep(0.01)
    now = int(time.time() * 1000)
    assert store().acquire(key, "thief", fingerprint, now + 60_000, now + 3_600_000, 60_000).taken_over
    store().unlock("domain:example.org", "another-invocation")
    worker.join()
    assert function.domain_api_calls(SAVE) == []
    assert isinstance(outcome["answer"], RedeliveryRequired)


def test_a_request_left_unsettled_reconciles_its_own_send_at_once_on_redelivery(function, emulator, monkeypatch):
    """The send's answer is lost and reconciling is throttled until the deadline: the request is
    left open, its outcome unknown, under the code that stopped it. Its redelivery finds its own
    marker on the domain: that is no earlier request's send to wait 30 s for, it reconciles now."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "30")
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1),
                                   rule("domain", "QueryDSRecord", "throttling")]})
    [left] = unsettled(function, [queue_message(RECORD, "M-own")], timeout_seconds=2)
    assert (left["Code"], left["Failure"]) == ("Throttling.User", "UNKNOWN")
    emulator.set_faults(None)
    [result] = function.invoke([queue_message(RECORD, "M-own")], timeout_seconds=10)["Results"]
    [task] = function.tasks("example.com")
    assert (result["TaskNo"], result["Adopted"]) == (task["TaskNo"], True)


def test_a_second_message_for_the_record_joins_the_late_task_of_an_unsettled_first(function, emulator, monkeypatch):
    """M-1's send gets a gateway's 504 page, and the service creates its task 3 s later; M-1 is
    left unsettled. M-2, the same deletion under another message id, must wait for M-1's send to
    settle, find its task, claim it for M-1 and note it as the DS record's task, then join it. The
    next request for the domain has nothing left to settle."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "3.5")
    emulator.set_task_delays(10, 10)
    record = {"DomainName": "example.org", "KeyTag": 12345}
    emulator.set_faults({"rules": [rule("domain", SAVE, "gateway_page", status=504, process_after_ms=3000,
                                        times=1)]})
    [first] = unsettled(function, [queue_message(record, "M-1")], timeout_seconds=2)
    assert first["Failure"] == "UNKNOWN"
    [second] = function.invoke([queue_message(record, "M-2")], timeout_seconds=10)["Results"]
    [task] = function.tasks("example.org")
    assert (second["TaskNo"], second["Joined"]) == (task["TaskNo"], True)

    listings = len(function.domain_api_calls("QueryTaskList"))
    [other] = function.invoke({"DomainName": "example.org", "KeyTag": 54321})["Results"]
    assert other["Status"] == "SUBMITTED" and len(function.domain_api_calls("QueryTaskList")) == listings
    [again] = function.invoke([queue_message(record, "M-1")])["Results"]
    assert (again["TaskNo"], again["Adopted"]) == (task["TaskNo"], True)


def test_reconciling_for_an_earlier_request_that_fails_leaves_this_one_open_unsent(function, emulator, monkeypatch):
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0")
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1),
                                   rule("domain", "QueryDSRecord", "throttling")]})
    unsettled(function, {"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=2)
    [other] = unsettled(function, {"DomainName": "example.org", "KeyTag": 54321}, timeout_seconds=2)
    assert (other["Code"], other["Failure"]) == ("DomainUnsettled", "RETRYABLE")
    assert len(function.domain_api_calls(SAVE)) == 1  # the first request's only


def test_an_adopted_task_is_answered_again_on_redelivery(function, emulator):
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1)]})
    [adopted] = function.invoke([queue_message(RECORD, "M-adopted")])["Results"]
    [again] = function.invoke([queue_message(RECORD, "M-adopted")])["Results"]
    assert adopted["Adopted"] is True and (again["TaskNo"], again["Adopted"], again["Replayed"]) == (
        adopted["TaskNo"], True, True)
    assert len(function.domain_api_calls(SAVE)) == 1


def test_a_key_tag_no_longer_listed_with_no_task_found_ends_the_request_as_absent(function, emulator):
    """The send is answered InternalError (it created nothing), and the KeyTag is not listed
    (someone removed it, or it never was): nothing is sent again."""
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 999})["Results"]
    assert (result["Status"], result["Code"]) == ("FAILED", "DSRecordAbsent")
    assert len(function.domain_api_calls(SAVE)) == 1 and function.tasks() == []


def test_a_send_found_to_have_made_nothing_then_throttled_leaves_the_request_retryable(function, emulator,
                                                                                       monkeypatch):
    """The first send is answered InternalError and reconciliation finds it made nothing; every
    send after it is throttled until the deadline. No send can have made a task: the request is
    retryable (not of unknown outcome), and the next request for the domain is not held up."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "30")
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1),
                                   rule("domain", SAVE, "throttling")]})
    [result] = unsettled(function, {"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=2)
    assert (result["Code"], result["Failure"]) == ("Throttling.User", "RETRYABLE")
    emulator.set_faults(None)
    [other] = function.invoke({"DomainName": "example.org", "KeyTag": 54321}, timeout_seconds=10)["Results"]
    assert other["Status"] == "SUBMITTED", other


def test_an_answered_error_that_made_nothing_is_sent_again_without_waiting_to_settle(function, emulator,
                                                                                    monkeypatch):
    """InternalError is the service's own answer: it is done with the call, so once reconciliation
    finds no task the request is sent again at once, not RECONCILE_SETTLE_SECONDS later."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "30")
    emulator.set_faults({"rules": [rule("domain", SAVE, "internal_error", times=1)]})
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345}, timeout_seconds=10)["Results"]
    assert result["Status"] == "SUBMITTED" and len(function.domain_api_calls(SAVE)) == 2


def test_a_request_whose_every_send_was_throttled_is_sent_at_once_when_delivered_again(function, emulator,
                                                                                       monkeypatch):
    """Throttled sends reached nothing: the record forgets them, so the redelivery neither
    reconciles nor waits RECONCILE_SETTLE_SECONDS before sending."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "30")
    emulator.set_faults({"rules": [rule("domain", SAVE, "throttling")]})
    [first] = unsettled(function, [queue_message(RECORD, "M-throttled")], timeout_seconds=2)
    assert (first["Code"], first["Failure"]) == ("Throttling.User", "RETRYABLE")
    emulator.set_faults(None)
    [again] = function.invoke([queue_message(RECORD, "M-throttled")], timeout_seconds=10)["Results"]
    assert again["Status"] == "SUBMITTED" and function.domain_api_calls("QueryTaskList") == []


def test_a_request_that_ended_with_its_task_leaves_nothing_for_the_next_to_settle(function):
    [first] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    [second] = function.invoke({"DomainName": "example.org", "KeyTag": 54321})["Results"]
    assert first["Status"] == second["Status"] == "SUBMITTED"
    assert function.domain_api_calls("QueryTaskList") == []  # nobody reconciled


def test_a_task_whose_record_passed_to_another_owner_during_the_send_is_logged_and_published(
        function, emulator, json_logs):
    """The record passes to another owner while the send is in flight (its lease over: a clock
    that jumped, say). The task exists: its TaskNo goes into an ERROR line, and it is published."""
    emulator.set_faults({"rules": [rule("domain", SAVE, "latency", latency_ms=300, times=1)]})
    request = {"DomainName": "example.org", "KeyTag": 12345}
    key, fingerprint = record_key(request, Source(MNS_QUEUE, "M-lapsed", survives_redelivery=True))
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(answer=attempt(function, [queue_message(request,
                                                                                                   "M-lapsed")])))
    worker.start()
    while not emulator.stats()["in_flight"]["domain"]:  # the send is the request's first call
        time.sleep(0.005)
    now = int(time.time() * 1000)
    assert store().acquire(key, "thief", fingerprint, now + 60_000, now + 3_600_000, 60_000).taken_over
    worker.join()
    [task] = function.tasks("example.org")
    assert outcome["answer"]["Results"][0]["TaskNo"] == task["TaskNo"]
    assert [n["TaskNo"] for n in function.notifications()] == [task["TaskNo"]]
    assert [(line["message"], line["task_no"]) for line in error_lines(json_logs)] == [
        ("Idempotency record no longer held", task["TaskNo"])]


def test_a_store_failure_once_the_task_exists_is_an_error_line_with_the_taskno(function, monkeypatch, json_logs):
    def failing_claim(self, task_no, key, ttl_ms):
        raise StoreError("store blip")

    monkeypatch.setattr(InMemoryStore, "claim_task", failing_claim)
    [result] = function.invoke({"DomainName": "example.org", "KeyTag": 12345})["Results"]
    assert result["Status"] == "SUBMITTED"
    assert [(line["message"], line["task_no"], line["store_error"]) for line in error_lines(json_logs)] == [
        ("Idempotency store failed", result["TaskNo"], "store blip")]


# --- idempotency.py --------------------------------------------------------------------------------

INVALID = ['{"DomainName": "example.org", "KeyTag": "12345"}',
           '{"DomainName": "example.org", "KeyTag": 1e999}']  # read as inf, which JSON cannot write again


@pytest.mark.parametrize("body", INVALID, ids=["a-string-key-tag", "an-infinite-key-tag"])
def test_an_invalid_message_is_rejected_once_per_message_id(function, body):
    """Two messages with one invalid body, each delivered twice: each message's rejection is
    published once (keyed by its id and what it carried)."""
    messages = []
    for message_id in ("M-invalid-1", "M-invalid-2"):
        messages.append(queue_message(RECORD, message_id))
        messages[-1]["data"]["messageBody"] = body
    for message in messages + messages:
        [result] = function.invoke([message])["Results"]
        assert (result["Status"], result["Code"]) == ("REJECTED", "InvalidParameter")
    assert [n["Event"] for n in function.notifications()] == ["DSRecordDeletionRejected"] * 2


def test_an_invalid_direct_request_is_rejected_once_per_content(function):
    """A direct invocation has no id that comes again: its rejection is keyed by what it carried.
    Two invalid requests, each invoked twice: two rejections published."""
    for body in INVALID + INVALID:
        [result] = function.invoke(body.encode())["Results"]
        assert (result["Status"], result["Code"]) == ("REJECTED", "InvalidParameter")
    assert [n["Event"] for n in function.notifications()] == ["DSRecordDeletionRejected"] * 2
