"""Tasks under the test's control, seen through the official Domain SDK over HTTP: how they end
(per domain, from the seed or the admin API, and per fault rule), and many made at once."""
from __future__ import annotations

import time

import pytest
import requests
from alibabacloud_tea_openapi.exceptions import ServerException

from local.emulator import Emulator
from local.emulator.domain_state import DEFAULT_ERROR_MSG
from tests.integration.test_emulator_faults import admin, set_rules
from tests.integration.test_emulator_sdk import (delete_ds, domain_client, domain_error, ds_records, task_detail,
                                                task_list)

SAVE = "SaveSingleTaskForDeletingDSRecord"
DIGEST = "AB" * 32


def put_domain(emulator, name, key_tags=(7,), method="POST", **plan):
    records = [{"KeyTag": tag, "Algorithm": 13, "DigestType": 2, "Digest": DIGEST} for tag in key_tags]
    return admin(emulator, method, "domains", {"DomainName": name, "DSRecords": records, **plan})


def listed(client, task_no):
    info = next(info for info in task_list(client).data.task_info if info.task_no == task_no)
    return info.task_status, info.task_status_code


def planned(emulator, task_no):
    task = next(task for task in admin(emulator, "GET", "state")["tasks"] if task["TaskNo"] == task_no)
    return task["PlannedOutcome"], task["PlannedErrorMsg"], task["PlannedBy"]


@pytest.fixture
def client(emulator):
    return domain_client(emulator, emulator.sts_credentials)


# --- per domain ------------------------------------------------------------------------------

@pytest.mark.parametrize("error_msg", [None, "Registry said no: 2308 Data management policy violation"])
def test_a_domain_planned_to_fail_fails_its_deletion_and_keeps_the_record(emulator, client, error_msg):
    plan = {"TaskOutcome": "failure", **({"ErrorMsg": error_msg} if error_msg else {})}
    shown = put_domain(emulator, "fails.example", **plan)
    assert (shown["TaskOutcome"], shown["ErrorMsg"]) == ("failure", error_msg or DEFAULT_ERROR_MSG)

    task_no = delete_ds(client, "fails.example", 7)
    detail = task_detail(client, task_no)

    assert (detail.task_status, detail.task_status_code) == ("EXECUTE_FAILURE", 3)
    assert detail.error_msg == detail.fail_reason == (error_msg or DEFAULT_ERROR_MSG)
    assert detail.try_count == 6
    assert listed(client, task_no) == ("COMPLETE", 3)  # the list cannot tell it from a success
    assert [r.key_tag for r in ds_records(client, "fails.example")] == [7]
    assert planned(emulator, task_no) == ("failure", error_msg or DEFAULT_ERROR_MSG, "domain")


def test_a_domain_planned_to_stay_executing_never_finishes(emulator, client):
    put_domain(emulator, "stuck.example", method="PUT", TaskOutcome="executing")
    emulator.set_task_delays(0.05, 0.05)
    task_no = delete_ds(client, "stuck.example", 7)
    time.sleep(0.3)  # three times what a finishing task would take
    for _ in range(3):
        detail = task_detail(client, task_no)
        assert (detail.task_status, detail.task_status_code) == ("EXECUTING", 1)
        assert listed(client, task_no) == ("EXECUTING", 2)
    assert [r.key_tag for r in ds_records(client, "stuck.example")] == [7]
    assert planned(emulator, task_no) == ("executing", None, "domain")


def test_a_domain_planned_to_succeed_deletes_and_still_fails_an_unlisted_key_tag(emulator, client):
    put_domain(emulator, "fine.example", key_tags=(7, 8), TaskOutcome="success")
    assert task_detail(client, delete_ds(client, "fine.example", 7)).task_status == "EXECUTE_SUCCESS"
    missing = task_detail(client, delete_ds(client, "fine.example", 9))
    assert (missing.task_status, missing.try_count) == ("EXECUTE_FAILURE", 6) and "9" in missing.fail_reason
    assert [r.key_tag for r in ds_records(client, "fine.example")] == [8]


def test_a_seeded_domain_carries_its_planned_end():
    seed = {"domains": [{"DomainName": "seeded.example", "TaskOutcome": "failure", "ErrorMsg": "from the seed",
                         "DSRecords": [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": DIGEST}]}]}
    with Emulator(seed=seed, task_delays=(0, 0)) as emulator:
        client = domain_client(emulator, emulator.access_key)
        assert task_detail(client, delete_ds(client, "seeded.example", 7)).error_msg == "from the seed"


@pytest.mark.parametrize("plan", [{"TaskOutcome": "done"}, {"TaskOutcome": "success", "ErrorMsg": "x"},
                                  {"ErrorMsg": "x"}])
def test_a_bad_planned_end_is_refused_by_the_admin_api(emulator, plan):
    response = requests.post(f"{emulator.url}/__emulator__/domains", timeout=5,
                             json={"DomainName": "example.org", **plan})
    assert response.status_code == 400 and "TaskOutcome" in response.json()["error"]
    assert [d["TaskOutcome"] for d in admin(emulator, "GET", "state")["domains"]
            if d["DomainName"] == "example.org"] == ["success"]


# --- per fault rule --------------------------------------------------------------------------

def test_a_task_failure_rule_fails_the_task_the_call_creates(emulator, client):
    set_rules(emulator, {"service": "domain", "action": SAVE, "fault": "task_failure", "rate": 1, "times": 1,
                         "error_msg": "Registry timeout"})
    first = task_detail(client, delete_ds(client, "example.org", 12345))
    assert (first.task_status, first.error_msg, first.fail_reason) == (
        "EXECUTE_FAILURE", "Registry timeout", "Registry timeout")
    # The failure changed nothing, so the same deletion sent again succeeds.
    second = delete_ds(client, "example.org", 12345)
    assert task_detail(client, second).task_status == "EXECUTE_SUCCESS"
    assert planned(emulator, first.task_no) == ("failure", "Registry timeout", "fault")
    assert planned(emulator, second) == ("success", None, "default")
    assert [entry["fault"] for entry in admin(emulator, "GET", "requests") if entry["action"] == SAVE] == [
        "task_failure", None]


def test_a_task_stuck_rule_wins_over_the_domains_plan(emulator, client):
    put_domain(emulator, "fails.example", TaskOutcome="failure")
    set_rules(emulator, {"service": "domain", "action": SAVE, "fault": "task_stuck", "rate": 1})
    task_no = delete_ds(client, "fails.example", 7)
    assert task_detail(client, task_no).task_status == "EXECUTING"
    assert planned(emulator, task_no) == ("executing", None, "fault")


def test_an_ambiguous_call_can_create_a_task_that_then_fails(emulator):
    set_rules(emulator, {"service": "domain", "action": SAVE, "fault": "internal_error_after", "rate": 1},
              {"service": "domain", "action": SAVE, "fault": "task_failure", "rate": 1})
    client = domain_client(emulator, emulator.access_key)
    with pytest.raises(ServerException) as caught:
        delete_ds(client, "example.org", 12345)
    assert caught.value.code == "InternalError"
    [task] = admin(emulator, "GET", "state")["tasks"]
    assert (task["TaskStatus"], task["PlannedBy"]) == ("EXECUTE_FAILURE", "fault")


def test_a_refused_call_plans_nothing(emulator, client):
    set_rules(emulator, {"service": "domain", "action": SAVE, "fault": "task_failure", "rate": 1},
              {"service": "domain", "action": SAVE, "fault": "throttling", "rate": 1, "times": 1})
    assert domain_error(lambda: delete_ds(client, "example.org", 12345)).code == "Throttling.User"
    assert admin(emulator, "GET", "state")["tasks"] == []
    assert [rule["fired"] for rule in admin(emulator, "GET", "faults")["rules"]] == [0, 1]


# --- many tasks at once --------------------------------------------------------------------

def test_twelve_hundred_tasks_in_one_admin_call_are_listed_page_by_page(emulator, client):
    own = delete_ds(client, "example.org", 12345)
    [own_task] = admin(emulator, "GET", "state")["tasks"]
    now = own_task["CreateTimeMs"]
    made = admin(emulator, "POST", "tasks", {
        "DomainName": "example.org", "KeyTag": 54321, "Count": 1200, "TaskOutcome": "failure",
        "ErrorMsg": "someone else's", "BeginCreateTime": now - 3_600_000, "EndCreateTime": now - 1})
    assert made["Count"] == len(set(made["TaskNos"])) == 1200

    seen, page_num = [], 1
    while True:
        body = task_list(client, page_num=page_num, page_size=100, begin_ms=now - 3_600_000, end_ms=now)
        seen += [info.task_no for info in body.data.task_info]
        if not body.next_page:
            break
        page_num += 1
    assert (page_num, body.total_item_num, body.total_page_num) == (13, 1201, 13)
    assert seen == [own] + made["TaskNos"][::-1]  # newest first: the request's own task, then the rest
    oldest = task_detail(client, made["TaskNos"][0])
    assert (oldest.task_status, oldest.error_msg, oldest.domain_name) == ("EXECUTE_FAILURE", "someone else's",
                                                                          "example.org")
    assert sorted(r.key_tag for r in ds_records(client, "example.org")) == [54321]  # made-up tasks change nothing


def test_the_emulator_method_makes_the_same_tasks(emulator, client):
    task_nos = emulator.create_tasks("example.net", 31589, 3, outcome="executing")
    assert [task_detail(client, task_no).task_status for task_no in task_nos] == ["EXECUTING"] * 3
    assert [(t["PlannedOutcome"], t["PlannedBy"]) for t in admin(emulator, "GET", "state")["tasks"]] == [
        ("executing", "bulk")] * 3


@pytest.mark.parametrize("body", [{"DomainName": "elsewhere.example", "KeyTag": 1, "Count": 2},
                                  {"DomainName": "example.org", "KeyTag": 1},
                                  {"DomainName": "example.org", "KeyTag": 1, "Count": 2, "TaskOutcome": "maybe"},
                                  ["not", "an", "object"]])
def test_bad_bulk_calls_are_refused(emulator, body):
    response = requests.post(f"{emulator.url}/__emulator__/tasks", json=body, timeout=5)
    assert response.status_code == 400 and response.json()["error"]
    assert admin(emulator, "GET", "state")["tasks"] == []
