"""Registrar tasks advance from the clock: waiting, executing, then success or failure."""
from __future__ import annotations

from datetime import datetime

import pytest

from local.emulator.domain_state import (ADD_TASK, BEIJING, DEFAULT_ERROR_MSG, DELETE_TASK, FAILS, DomainStore,
                                         DSRecord, TaskPlan, beijing_time, task_list_time)
from local.emulator.errors import ApiError


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def record(key_tag, digest_type=2):
    return {"KeyTag": key_tag, "Algorithm": 13, "DigestType": digest_type, "Digest": "AB" * (10 if digest_type == 1 else 16)}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    domains = [{"DomainName": "Example.COM", "DSRecords": [record(2371, 1), record(2371, 2), record(7)]}]
    return DomainStore(domains, task_delays=(1.0, 2.0), clock=clock)


def key_tags(store, name="example.com"):
    return [r.key_tag for r in store.domain(name).records]


def test_a_task_waits_executes_and_succeeds_on_the_clock(store, clock):
    task = store.submit(DELETE_TASK, "example.com", 2371, "10.0.0.1", "en")
    store.advance()
    assert task.detail()["TaskStatus"] == "WAITING_EXECUTE"
    clock.now += 1.0
    store.advance()
    assert (task.detail()["TaskStatus"], task.detail()["TaskStatusCode"]) == ("EXECUTING", 1)
    assert key_tags(store) == [2371, 2371, 7]  # nothing changes before the end
    clock.now += 2.0
    store.advance()
    assert (task.detail()["TaskStatus"], task.detail()["TaskStatusCode"]) == ("EXECUTE_SUCCESS", 2)
    assert key_tags(store) == [7]


def test_times_are_beijing_time_and_update_time_is_when_it_happened(store, clock):
    task = store.submit(DELETE_TASK, "example.com", 7, "10.0.0.1", "en")
    clock.now += 60
    store.advance()
    detail = task.detail()
    assert detail["CreateTime"] == beijing_time(int((clock.now - 60) * 1000))
    assert detail["UpdateTime"] == beijing_time(task.created_ms + 3000)
    assert beijing_time(0) == "1970-01-01 08:00:00"


def test_of_two_deletions_of_one_key_tag_the_second_fails(store, clock):
    first = store.submit(DELETE_TASK, "example.com", 2371, "ip", "en")
    second = store.submit(DELETE_TASK, "example.com", 2371, "ip", "en")
    clock.now += 10
    store.advance()
    assert first.detail()["TaskStatus"] == "EXECUTE_SUCCESS"
    failed = second.detail()
    assert failed["TaskStatus"] == "EXECUTE_FAILURE" and "2371" in failed["FailReason"] and failed["ErrorMsg"]


def test_zero_delays_finish_on_the_next_read(clock):
    store = DomainStore([{"DomainName": "example.net", "DSRecords": [record(1)]}], (0, 0), clock)
    task = store.submit(DELETE_TASK, "example.net", 1, "ip", "zh")
    assert task.detail()["TaskStatus"] == "WAITING_EXECUTE"
    store.advance()
    assert task.detail()["TaskStatus"] == "EXECUTE_SUCCESS"
    assert task.detail()["TaskTypeDescription"] == "删除DS记录"


def test_an_add_task_adds_the_record_and_a_duplicate_fails(store, clock):
    new = DSRecord(4242, 13, 2, "CD" * 32)
    added = store.submit(ADD_TASK, "example.com", 4242, "ip", "en", new)
    again = store.submit(ADD_TASK, "example.com", 4242, "ip", "en", new)
    clock.now += 3
    store.advance()
    assert added.detail()["TaskStatus"] == "EXECUTE_SUCCESS" and new in store.domain("example.com").records
    assert again.detail()["TaskStatus"] == "EXECUTE_FAILURE"


def test_a_replaced_domain_is_what_a_pending_task_changes(store, clock):
    task = store.submit(DELETE_TASK, "example.com", 7, "ip", "en")
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7), record(8)]})
    clock.now += 3
    store.advance()
    assert task.detail()["TaskStatus"] == "EXECUTE_SUCCESS" and key_tags(store) == [8]


def test_an_unknown_domain_is_refused(store):
    with pytest.raises(ApiError) as caught:
        store.submit(DELETE_TASK, "example.org", 1, "ip", "en")
    assert caught.value.code == "DomainNotExist"


def test_task_lists_filter_and_order(store, clock):
    first = store.submit(DELETE_TASK, "example.com", 1, "ip", "en")
    clock.now += 5
    second = store.submit(DELETE_TASK, "example.com", 2, "ip", "en")
    assert store.tasks_created_between(None, None) == [second, first]
    assert store.task_details(first.task_no) == [first]
    assert store.task_details(first.task_no, status=2) == []
    assert store.task_details(first.task_no, instance_id=first.instance_id) == [first]


def beijing_ms(text):
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=BEIJING).timestamp() * 1000)


def submit_at(store, clock, when, key_tag=7):
    clock.now = beijing_ms(when) / 1000
    return store.submit(DELETE_TASK, "example.com", key_tag, "ip", "en")


def test_the_task_list_widens_its_bounds_to_whole_beijing_days(store, clock):
    day_before = submit_at(store, clock, "2023-11-14 23:59:59.999")
    midnight = submit_at(store, clock, "2023-11-15 00:00:00.000")
    morning = submit_at(store, clock, "2023-11-15 09:00:00.000")
    last_ms = submit_at(store, clock, "2023-11-15 23:59:59.999")
    day_after = submit_at(store, clock, "2023-11-16 00:00:00.000")
    ten = beijing_ms("2023-11-15 10:00:00.000")
    # 10:00 on the 15th, as either bound, stands for the whole 15th (Beijing time).
    assert store.tasks_created_between(ten, ten) == [last_ms, morning, midnight]
    assert store.tasks_created_between(ten, None) == [day_after, last_ms, morning, midnight]
    assert store.tasks_created_between(None, ten) == [last_ms, morning, midnight, day_before]
    # 02:00 Beijing is 18:00 UTC the day before: the Beijing day counts, not the UTC day.
    assert store.tasks_created_between(beijing_ms("2023-11-16 02:00:00.000"), None) == [day_after]
    assert store.tasks_created_between(ten, beijing_ms("2023-11-14 12:00:00.000")) == []


def test_the_task_list_is_newest_first_by_creation_time(store, clock):
    later = submit_at(store, clock, "2023-11-15 12:00:00.000")
    earlier = submit_at(store, clock, "2023-11-15 11:00:00.000")  # a clock set back: seq says otherwise
    assert store.tasks_created_between(None, None) == [later, earlier]


def test_the_task_list_view_has_task_level_statuses(store, clock):
    fine = submit_at(store, clock, "2017-12-26 11:00:54.000", key_tag=7)
    missing = store.submit(DELETE_TASK, "example.com", 99, "10.1.2.3", "en")
    views = []
    for _ in range(3):  # waiting, executing, finished (delays 1 s and 2 s)
        store.advance()
        views.append((fine.info()["TaskStatus"], fine.info()["TaskStatusCode"], missing.info()["TaskStatus"]))
        clock.now += 1.5
    assert views == [("WAITING_EXECUTE", 1, "WAITING_EXECUTE"), ("EXECUTING", 2, "EXECUTING"),
                     ("COMPLETE", 3, "COMPLETE")]
    # Finished either way: only the detail view tells success from failure.
    assert (fine.detail()["TaskStatus"], missing.detail()["TaskStatus"]) == ("EXECUTE_SUCCESS", "EXECUTE_FAILURE")
    assert missing.info() == {
        "TaskNo": missing.task_no, "TaskType": "DELETE_DS_RECORD", "TaskTypeDescription": "Delete DS record",
        "TaskNum": 1, "TaskStatus": "COMPLETE", "TaskStatusCode": 3, "TaskCancelStatus": "INIT",
        "TaskCancelStatusCode": 0, "CreateTime": "Dec 26,2017 11:00:54", "Clientip": "10.1.2.3"}


@pytest.mark.parametrize("ms, text", [(0, "Jan 01,1970 08:00:00"), (1514257254000, "Dec 26,2017 11:00:54"),
                                      (1688140800000, "Jul 01,2023 00:00:00")])
def test_task_list_times_are_beijing_time_in_the_lists_own_format(ms, text):
    assert task_list_time(ms) == text


def test_task_numbers_are_uuid4(store):
    import uuid

    task = store.submit(DELETE_TASK, "example.com", 1, "ip", "en")
    assert uuid.UUID(task.task_no).version == 4 and uuid.UUID(task.task_detail_no).version == 4


# --- planned ends ----------------------------------------------------------------------------

def finish_all(store, clock):
    clock.now += 3600
    store.advance()


def test_a_domain_planned_to_fail_fails_its_tasks_and_keeps_its_records(store, clock):
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7)], "TaskOutcome": "failure"})
    task = store.submit(DELETE_TASK, "example.com", 7, "ip", "en")
    finish_all(store, clock)
    detail = task.detail()
    assert (detail["TaskStatus"], detail["TaskStatusCode"], detail["TryCount"]) == ("EXECUTE_FAILURE", 3, 6)
    assert detail["ErrorMsg"] == detail["FailReason"] == DEFAULT_ERROR_MSG
    assert task.info()["TaskStatus"] == "COMPLETE" and key_tags(store) == [7]


def test_a_failure_carries_the_domains_error_message(store, clock):
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7)], "TaskOutcome": "failure",
                      "ErrorMsg": "Registry said no"})
    task = store.submit(DELETE_TASK, "example.com", 7, "ip", "en")
    finish_all(store, clock)
    assert (task.detail()["ErrorMsg"], task.detail()["FailReason"]) == ("Registry said no", "Registry said no")
    assert store.domain("example.com").as_dict()["ErrorMsg"] == "Registry said no"


def test_a_domain_planned_to_stay_executing_never_finishes(store, clock):
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7)], "TaskOutcome": "executing"})
    stuck = store.submit(DELETE_TASK, "example.com", 7, "ip", "en")
    store.advance()
    assert stuck.detail()["TaskStatus"] == "WAITING_EXECUTE"  # it waits first, like any task
    for _ in range(3):
        finish_all(store, clock)
        assert (stuck.detail()["TaskStatus"], stuck.detail()["TaskStatusCode"], stuck.info()["TaskStatusCode"]) == (
            "EXECUTING", 1, 2)
    assert key_tags(store) == [7]


def test_a_planned_success_still_fails_when_there_is_nothing_to_delete(store, clock):
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7)], "TaskOutcome": "success"})
    deleted, missing = (store.submit(DELETE_TASK, "example.com", tag, "ip", "en") for tag in (7, 8))
    finish_all(store, clock)
    assert (deleted.detail()["TaskStatus"], deleted.detail()["TryCount"]) == ("EXECUTE_SUCCESS", 1)
    assert missing.detail()["TaskStatus"] == "EXECUTE_FAILURE" and "8" in missing.detail()["FailReason"]


def test_a_plan_given_at_submission_wins_over_the_domains(store, clock):
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7)], "TaskOutcome": "executing"})
    task = store.submit(DELETE_TASK, "example.com", 7, "ip", "en", plan=TaskPlan(FAILS, "from a rule", "fault"))
    finish_all(store, clock)
    assert (task.detail()["TaskStatus"], task.detail()["ErrorMsg"]) == ("EXECUTE_FAILURE", "from a rule")
    assert {k: v for k, v in task.snapshot().items() if k.startswith("Planned")} == {
        "PlannedOutcome": "failure", "PlannedErrorMsg": "from a rule", "PlannedBy": "fault"}


def test_the_plan_is_fixed_when_the_task_is_created(store, clock):
    task = store.submit(DELETE_TASK, "example.com", 7, "ip", "en")
    store.put_domain({"DomainName": "example.com", "DSRecords": [record(7)], "TaskOutcome": "failure"})
    finish_all(store, clock)
    assert task.detail()["TaskStatus"] == "EXECUTE_SUCCESS"
    assert (task.snapshot()["PlannedOutcome"], task.snapshot()["PlannedBy"]) == ("success", "default")


@pytest.mark.parametrize("entry", [{"TaskOutcome": "succeeded"}, {"TaskOutcome": None},
                                   {"TaskOutcome": "success", "ErrorMsg": "x"}, {"ErrorMsg": "x"},
                                   {"TaskOutcome": "failure", "ErrorMsg": 5}])
def test_bad_planned_ends_are_refused(store, entry):
    with pytest.raises(ValueError):
        store.put_domain({"DomainName": "example.com", **entry})
    assert store.domain("example.com").plan == TaskPlan()  # the old entry stays


# --- many tasks at once ----------------------------------------------------------------------

def test_many_tasks_are_spread_over_their_window_and_end_as_planned(store, clock):
    now = int(clock.now * 1000)
    made = store.create_tasks({"DomainName": "Example.com", "KeyTag": 2371, "Count": 5, "TaskOutcome": "success",
                               "BeginCreateTime": now - 4000, "EndCreateTime": now})
    assert [task.created_ms for task in made] == [now - 4000, now - 3000, now - 2000, now - 1000, now]
    live = store.submit(DELETE_TASK, "example.com", 7, "ip", "en")
    finish_all(store, clock)
    assert {task.detail()["TaskStatus"] for task in made} == {"EXECUTE_SUCCESS"}
    assert key_tags(store) == [2371, 2371]  # made-up tasks change nothing; the live one did its work
    assert store.tasks_created_between(None, None) == [live, *made[::-1]]
    assert (made[0].snapshot()["PlannedBy"], made[0].snapshot()["ChangesRecords"]) == ("bulk", False)


def test_many_tasks_default_to_now_and_may_fail_or_never_end(store, clock):
    failed = store.create_tasks({"DomainName": "example.com", "KeyTag": 1, "Count": 2, "TaskOutcome": "failure",
                                 "ErrorMsg": "old failure", "TaskType": ADD_TASK})
    stuck = store.create_tasks({"DomainName": "example.com", "KeyTag": 1, "Count": 1, "TaskOutcome": "executing"})
    finish_all(store, clock)
    assert {task.created_ms for task in failed + stuck} == {int((clock.now - 3600) * 1000)}
    assert [(t.detail()["TaskStatus"], t.detail()["ErrorMsg"], t.task_type) for t in failed] == [
        ("EXECUTE_FAILURE", "old failure", ADD_TASK)] * 2
    assert stuck[0].detail()["TaskStatus"] == "EXECUTING"


@pytest.mark.parametrize("change", [{"Count": 0}, {"Count": "5"}, {"Count": True}, {"KeyTag": 70000},
                                    {"BeginCreateTime": 2000, "EndCreateTime": 1000}, {"TaskType": "DELETE"},
                                    {"TaskOutcome": "lost"}, {"ErrorMsg": "only with failure"}, {"DomainName": 5}])
def test_bad_bulk_entries_are_refused(store, change):
    with pytest.raises(ValueError):
        store.create_tasks({"DomainName": "example.com", "KeyTag": 1, "Count": 3, **change})
    assert store.tasks == []


def test_bulk_tasks_need_a_domain_of_the_account(store):
    with pytest.raises(ApiError):
        store.create_tasks({"DomainName": "example.org", "KeyTag": 1, "Count": 3})
