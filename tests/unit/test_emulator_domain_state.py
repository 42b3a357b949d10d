"""Registrar tasks advance from the clock: waiting, executing, then success or failure."""
from __future__ import annotations

import pytest

from local.emulator.domain_state import ADD_TASK, DELETE_TASK, DomainStore, DSRecord, beijing_time
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
    assert store.tasks_created_between(second.created_ms, None) == [second]
    assert store.tasks_created_between(None, first.created_ms) == [first]
    assert store.task_details(first.task_no) == [first]
    assert store.task_details(first.task_no, status=2) == []
    assert store.task_details(first.task_no, instance_id=first.instance_id) == [first]


def test_task_numbers_are_uuid4(store):
    import uuid

    task = store.submit(DELETE_TASK, "example.com", 1, "ip", "en")
    assert uuid.UUID(task.task_no).version == 4 and uuid.UUID(task.task_detail_no).version == 4
