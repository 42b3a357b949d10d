"""An adversarial review of the core (deleter/): each test here failed on the code before its fix.
The real handler against the emulator over HTTP, with real signed name servers where the safety
check runs."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from deleter.source import Source
from deleter.watch_message import WatchMessage
from local.dns import SignedZone, stale_ds
from local.queue_trigger import cloud_events

from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)

from .test_guard import HTTP_EVENT, http, queue, rows, serve  # noqa: F401  (serve: a fixture)
from .test_watch import Watched, store  # noqa: F401  (store: a fixture)

SAVE = "SaveSingleTaskForDeletingDSRecord"


# --- the safety check sees the domain's pending deletions ----------------------------------------

def test_a_pending_deletion_of_another_key_tag_counts_in_the_safety_check(function, serve, emulator):
    """Two signing keys and a stale DS row. Deleting either key's DS alone is safe; deleting both
    leaves only the stale row: bogus. The first task is still pending when the second request is
    checked, so the registry still lists the first KeyTag: judged on that list alone, the second
    deletion passed, and the two tasks together took the domain off the air."""
    zone = SignedZone.generate("two-pending.example", (13, 13))
    first, second = zone.keys
    serve(zone, registry={zone.domain: rows(*zone.ds_rows(), stale_ds(zone.domain))})
    emulator.set_task_delays(60, 60)  # the first task stays pending
    status, _, made = http(function, {"DomainName": zone.domain, "KeyTag": first.key_tag})
    assert (status, made["SafetyCheck"]) == (202, "passed")
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag})
    assert (status, body["Code"]) == (409, "DeletionWouldBreakDNSSEC"), body
    assert str(first.key_tag) in body["Message"] and made["TaskNo"] in body["Message"]
    assert len(function.domain_api_calls(SAVE)) == 1
    # The dry run says the same.
    status, _, dry = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag, "DryRun": True})
    assert (status, dry["WouldSubmit"], dry["Code"]) == (200, False, "DeletionWouldBreakDNSSEC")


def test_a_pending_deletion_of_the_other_key_tag_makes_the_next_one_turn_dnssec_off(function, serve, emulator):
    zone = SignedZone.generate("last-two.example", (13, 13))
    first, second = zone.keys
    serve(zone)
    emulator.set_task_delays(60, 60)
    assert http(function, {"DomainName": zone.domain, "KeyTag": first.key_tag})[0] == 202
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag})
    assert (status, body["Code"]) == (409, "DeletionWouldDisableDNSSEC"), body
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag, "AllowInsecure": True})
    assert status == 202 and len(function.domain_api_calls(SAVE)) == 2


def test_a_failed_or_finished_deletion_of_another_key_tag_does_not_count(function, serve, emulator):
    """Only a task still to act counts: one that failed removed nothing, one that finished shows
    in the registry's list."""
    zone = SignedZone.generate("failed-other.example", (13, 13))
    first, second = zone.keys
    serve(zone, registry={zone.domain: rows(*zone.ds_rows(), stale_ds(zone.domain))})
    emulator.put_domain({"DomainName": zone.domain, "TaskOutcome": "failure",
                         "DSRecords": rows(*zone.ds_rows(), stale_ds(zone.domain))})
    assert http(function, {"DomainName": zone.domain, "KeyTag": first.key_tag})[0] == 202
    assert [task["TaskStatus"] for task in function.tasks(zone.domain)] == ["EXECUTE_FAILURE"]
    emulator.put_domain({"DomainName": zone.domain, "DSRecords": rows(*zone.ds_rows(), stale_ds(zone.domain))})
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag})
    assert (status, body["SafetyCheck"]) == (202, "passed"), body


def test_a_succeeded_deletion_the_registry_still_lists_counts_as_gone(function, serve, emulator):
    """A task of another KeyTag that succeeded while the registry's list still shows its row (the
    list lags its task): that row is gone all the same, so deleting the second key's DS leaves
    only the stale row: bogus, refused."""
    zone = SignedZone.generate("succeeded-other.example", (13, 13))
    first, second = zone.keys
    listed = rows(*zone.ds_rows(), stale_ds(zone.domain))
    serve(zone, registry={zone.domain: listed})
    emulator.set_task_delays(0, 0)
    status, _, made = http(function, {"DomainName": zone.domain, "KeyTag": first.key_tag})
    assert status == 202
    assert [task["TaskStatus"] for task in function.tasks(zone.domain)] == ["EXECUTE_SUCCESS"]
    emulator.put_domain({"DomainName": zone.domain, "DSRecords": listed})  # the list lags: every row again
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag})
    assert (status, body["Code"]) == (409, "DeletionWouldBreakDNSSEC"), body
    assert made["TaskNo"] in body["Message"]


# --- Force and AllowInsecure under an IdempotencyKey ----------------------------------------------

def test_asked_again_with_force_under_the_same_idempotency_key_is_checked_again(function, serve):
    """The refusal's notification says: send it again with "Force" (or "AllowInsecure"). A producer
    that keeps its IdempotencyKey got the refusal replayed for IDEMPOTENCY_TTL_SECONDS instead."""
    zone = SignedZone.generate("keyed-refusal.example", (13,))
    serve(zone)
    request = {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "IdempotencyKey": "change-42"}
    [refused] = function.invoke(queue(request))["Results"]
    assert refused["Code"] == "DeletionWouldDisableDNSSEC"
    [again] = function.invoke(queue(request))["Results"]
    assert again["Code"] == "DeletionWouldDisableDNSSEC" and again["Replayed"] is True
    [allowed] = function.invoke(queue({**request, "AllowInsecure": True}))["Results"]
    assert allowed["Status"] == "SUBMITTED" and "Replayed" not in allowed, allowed
    [replayed] = function.invoke(queue({**request, "AllowInsecure": True}))["Results"]
    assert (replayed["TaskNo"], replayed["Replayed"]) == (allowed["TaskNo"], True)
    assert len(function.domain_api_calls(SAVE)) == 1


# --- one end per task, whatever order the checks come in -------------------------------------------

@pytest.fixture
def watched(function, monkeypatch, store):
    """Watching on, on the in-memory store and on a real Redis (test_watch's `store`)."""
    monkeypatch.setenv("WATCH_QUEUE", "ds-record-deleter-watch")
    return Watched(function, store)


def test_a_late_copy_of_an_earlier_check_tells_no_second_end(watched, emulator):
    """The end of a task is told once: KeyTagStillListed (a Failed) was published, then an earlier
    check's message came again (a batch redelivered) after the registry's list caught up, and
    published Completed for the same TaskNo."""
    [result] = watched.invoke({"DomainName": "example.net", "KeyTag": 31589})["Results"]
    [first] = watched.pending()
    watched.function.tasks()  # the task succeeds on this read...
    emulator.put_domain({"DomainName": "example.net", "DSRecords": [
        {"KeyTag": 31589, "Algorithm": 8, "DigestType": 2, "Digest": "CD" * 32}]})  # ...and is listed all the same
    watching = datetime.now(timezone.utc) - timedelta(minutes=30)
    late = WatchMessage(result["TaskNo"], "example.net", 31589, Source("mns_queue", "m"), 5, watching, watching,
                        "EXECUTE_SUCCESS", datetime.now(timezone.utc) - timedelta(minutes=20))
    [told] = watched.deliver_body(late.encode())["Results"]
    assert (told["Status"], told["Event"]) == ("ENDED", "DSRecordDeletionFailed")
    emulator.put_domain({"DomainName": "example.net", "DSRecords": []})  # the list caught up
    calls = len(watched.function.domain_api_calls())
    [again] = watched.deliver([first])["Results"]  # the first check, delivered again
    assert (again["Status"], again["Event"], again["Replayed"]) == ("ENDED", "DSRecordDeletionFailed", True)
    assert [end["Event"] for end in watched.ends()] == ["DSRecordDeletionFailed"]
    assert len(watched.function.domain_api_calls()) == calls  # answered from the note, the service not asked


def test_a_task_told_timed_out_is_told_nothing_more(watched, emulator):
    """TimedOut says nothing more is published for the task: a copy of an earlier check must not
    publish Completed when the task ends later."""
    emulator.set_task_delays(600, 600)
    [result] = watched.invoke({"DomainName": "example.net", "KeyTag": 31589})["Results"]
    [first] = watched.pending()
    long_ago = datetime.now(timezone.utc) - timedelta(days=2)
    late = WatchMessage(result["TaskNo"], "example.net", 31589, Source("mns_queue", "m"), 90, long_ago, long_ago,
                        "WAITING_EXECUTE")
    [told] = watched.deliver_body(late.encode())["Results"]
    assert (told["Status"], told["Event"]) == ("ENDED", "DSRecordDeletionTimedOut")
    emulator.set_task_delays(0, 0)
    watched.function.tasks()
    [again] = watched.deliver([first])["Results"]
    assert (again["Status"], again["Event"], again["Replayed"]) == ("ENDED", "DSRecordDeletionTimedOut", True)
    assert [end["Event"] for end in watched.ends()] == ["DSRecordDeletionTimedOut"]


# --- a joined request never answered before its task ended -----------------------------------------

def join_unpublished(function, emulator) -> tuple:
    """A first request makes the task; a second (a queue message) joins it, and its Submitted
    cannot be published: (the first's result, the joining batch to deliver again)."""
    from triggers.common import RedeliveryRequired

    from .test_one_task_per_record import queue_message

    record = {"DomainName": "example.com", "KeyTag": 2371}
    [made] = function.invoke([queue_message(record, "M-first")])["Results"]
    emulator.set_faults({"rules": [{"service": "mns", "action": "PublishMessage", "fault": "unavailable",
                                    "rate": 1}]})
    joining = [queue_message(record, "M-joining")]
    with pytest.raises(RedeliveryRequired):
        function.invoke(joining)
    emulator.set_faults(None)
    return made, joining


def test_a_joined_request_unpublished_until_its_task_failed_makes_a_new_task(function, emulator):
    """The request joined the DS record's pending task, and its Submitted could not be published;
    by its redelivery the task had failed (its Failed told already, to the first request's Source).
    The redelivery answered "joined, EXECUTING" for a task that had failed, and its requester heard
    of no end after it: a failed task lets a new request make a new task, this one included."""
    emulator.put_domain({"DomainName": "example.com", "TaskOutcome": "failure", "DSRecords": [
        {"KeyTag": 2371, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    emulator.set_task_delays(0.5, 0.5)
    made, joining = join_unpublished(function, emulator)
    time.sleep(1.2)
    [task] = function.tasks("example.com")
    assert (task["TaskNo"], task["TaskStatus"]) == (made["TaskNo"], "EXECUTE_FAILURE")
    [again] = function.invoke(joining)["Results"]
    assert again["Status"] == "SUBMITTED" and again["TaskNo"] != made["TaskNo"] and "Joined" not in again, again
    assert len(function.domain_api_calls(SAVE)) == 2


def test_a_joined_request_unpublished_while_its_task_is_pending_still_joins_it(function, emulator):
    emulator.set_task_delays(60, 60)
    made, joining = join_unpublished(function, emulator)
    [again] = function.invoke(joining)["Results"]
    assert (again["TaskNo"], again["Joined"], again["TaskStatus"]) == (made["TaskNo"], True, "WAITING_EXECUTE")
    assert len(function.domain_api_calls(SAVE)) == 1


# --- a task made moments ago that the service's listings do not show yet ---------------------------

def test_a_request_for_a_record_whose_task_is_not_listed_yet_waits_and_joins_it(function, emulator, monkeypatch):
    """The listings lag the answer that gave the TaskNo (the emulator's listing_lag_seconds; the
    real service's is unverified). A second request for the same DS record, under another key,
    read "unknown to the service" and made a second task. It now waits for the listing (within
    the settle time), then joins."""
    from .test_one_task_per_record import queue_message

    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "10")  # a bound on the wait, far above the lag
    emulator.set_task_delays(60, 60)
    emulator.set_listing_lag(1.0)
    record = {"DomainName": "example.com", "KeyTag": 2371}
    [made] = function.invoke([queue_message(record, "M-a")])["Results"]
    reads_before = len(function.domain_api_calls("QueryTaskDetailList"))
    [joined] = function.invoke([queue_message(record, "M-b")])["Results"]
    assert (joined["TaskNo"], joined.get("Joined")) == (made["TaskNo"], True), joined
    assert len(function.domain_api_calls(SAVE)) == 1 and len(function.tasks("example.com")) == 1
    # It looked again every 0.5 s for about a second, not in a tight loop.
    assert 2 <= len(function.domain_api_calls("QueryTaskDetailList")) - reads_before <= 6


def test_a_request_that_cannot_wait_for_the_listing_stays_open_and_is_joined_when_asked_again(function, emulator):
    """The listing lags longer than the invocation has left: the request is left open (503 with
    Retry-After; a queue would deliver it again), never sent."""
    emulator.set_task_delays(60, 60)
    emulator.set_listing_lag(5.0)  # well past the 2 s invocation, however slow the machine
    record = {"DomainName": "example.com", "KeyTag": 2371}
    status, _, made = http(function, record)
    assert status == 202
    asked_again = json.loads(json.dumps(HTTP_EVENT))
    asked_again["body"] = json.dumps(dict(record, IdempotencyKey="another-caller"))
    answer = function.invoke(asked_again, timeout_seconds=2)
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["Code"]) == (503, "TaskNotListedYet"), body
    assert "Retry-After" in answer["headers"] and len(function.domain_api_calls(SAVE)) == 1
    time.sleep(5.2)  # the lag has passed since the 503, so since the task was made
    asked_again["requestContext"]["requestId"] += "-again"
    answer = function.invoke(asked_again, timeout_seconds=2)
    joined = json.loads(answer["body"])
    assert (answer["statusCode"], joined["TaskNo"], joined.get("Joined")) == (202, made["TaskNo"], True), joined
    assert len(function.domain_api_calls(SAVE)) == 1


def test_a_deletion_not_listed_yet_of_another_key_tag_counts_in_the_safety_check(function, serve, emulator):
    """As the first test of this file, with the first task made a moment ago and not listed yet:
    judged "unknown to the service", its row counted as staying, and the second deletion passed."""
    zone = SignedZone.generate("two-unlisted.example", (13, 13))
    first, second = zone.keys
    serve(zone, registry={zone.domain: rows(*zone.ds_rows(), stale_ds(zone.domain))})
    emulator.set_task_delays(60, 60)
    emulator.set_listing_lag(10.0)
    status, _, made = http(function, {"DomainName": zone.domain, "KeyTag": first.key_tag})
    assert (status, made["SafetyCheck"]) == (202, "passed")
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": second.key_tag})
    assert (status, body["Code"]) == (409, "DeletionWouldBreakDNSSEC"), body
    assert made["TaskNo"] in body["Message"] and len(function.domain_api_calls(SAVE)) == 1


def test_an_end_whose_publish_outcome_is_unknown_is_told_again_as_decided_not_decided_again(watched, emulator):
    """TimedOut was published, but its answer was lost (the connection dropped after MNS took
    it), so the end's record was freed for the redelivery. By then the task had succeeded, and the
    redelivery decided again: Completed, a second, different end for one TaskNo. The end decided
    first is kept before it is published, and told again as it was."""
    from triggers.common import RedeliveryRequired

    emulator.set_task_delays(1, 0.5)  # still waiting when the late check comes, done 1.5 s later
    [result] = watched.invoke({"DomainName": "example.net", "KeyTag": 31589})["Results"]
    long_ago = datetime.now(timezone.utc) - timedelta(days=2)
    late = WatchMessage(result["TaskNo"], "example.net", 31589, Source("mns_queue", "m"), 90, long_ago, long_ago,
                        "WAITING_EXECUTE")
    emulator.set_faults({"rules": [{"service": "mns", "action": "PublishMessage", "fault": "drop_after",
                                    "rate": 1}]})
    with pytest.raises(RedeliveryRequired):
        watched.invoke(cloud_events([("M-late", late.encode())], "ds-record-deleter-watch",
                                    emulator.account_id, emulator.region), timeout_seconds=5)
    emulator.set_faults(None)
    time.sleep(2)
    assert [task["TaskStatus"] for task in watched.function.tasks()] == ["EXECUTE_SUCCESS"]  # meanwhile
    [again] = watched.deliver_body(late.encode(), "M-late")["Results"]
    assert (again["Status"], again["Event"]) == ("ENDED", "DSRecordDeletionTimedOut"), again
    assert {end["Event"] for end in watched.ends()} == {"DSRecordDeletionTimedOut"}
