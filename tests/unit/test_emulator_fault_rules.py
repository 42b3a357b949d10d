"""Fault rules: parsing, validation, and which rules fire for a call."""
from __future__ import annotations

import random
import threading
import time

import pytest

from local.emulator.domain_state import TaskPlan
from local.emulator.faults import FaultInjector, fault_error, parse_fault_spec
from local.emulator.http_types import Reply


def injector(*rules, seed=None):
    return FaultInjector({"seed": seed, "rules": list(rules)})


def test_a_spec_with_options():
    assert parse_fault_spec("domain:SaveSingleTaskForDeletingDSRecord:throttling:0.2:retry_after_ms=500:times=3") == {
        "service": "domain", "action": "SaveSingleTaskForDeletingDSRecord", "fault": "throttling", "rate": 0.2,
        "retry_after_ms": 500, "times": 3}
    assert parse_fault_spec("mns:*:throttling:1:code=QpsLimitExceeded")["code"] == "QpsLimitExceeded"


@pytest.mark.parametrize("spec", ["domain:*:throttling", "cloud:*:throttling:1", "domain:*:boom:1",
                                  "domain:*:throttling:-0.1", "domain:*:latency:1:latency_ms=x",
                                  "domain:*:unavailable:1:code=Throttling", "domain:*:throttling:1:code=Nope"])
def test_bad_specs(spec):
    with pytest.raises(ValueError):
        parse_fault_spec(spec)


def test_unknown_rule_keys_are_refused():
    with pytest.raises(ValueError):
        injector({"fault": "latency", "latencyMs": 5})


def test_latency_rules_default_to_one_second():
    rule = injector({"fault": "latency"}).describe()["rules"][0]
    assert rule["latency_ms"] == 1000


def test_latencies_add_up_and_the_first_error_wins():
    faults = injector(
        {"service": "domain", "action": "*", "fault": "latency", "latency_ms": 10},
        {"service": "domain", "action": "*", "fault": "drop_after"},
        {"service": "domain", "action": "*", "fault": "latency_after", "latency_ms": 20},
        {"service": "domain", "action": "*", "fault": "throttling"},
        {"service": "mns", "action": "*", "fault": "latency", "latency_ms": 1000},
    )
    decision = faults.decide("domain", "QueryDSRecord")
    assert (decision.error.fault, decision.latency_before_ms, decision.latency_after_ms) == ("drop_after", 10, 20)
    assert decision.fired == ["latency", "drop_after", "latency_after"]
    assert [rule["fired"] for rule in faults.describe()["rules"]] == [1, 1, 1, 0, 0]


def test_the_seed_makes_decisions_repeatable():
    draws = random.Random(9)
    expected = [draws.random() < 0.5 for _ in range(50)]
    faults = injector({"fault": "unavailable", "rate": 0.5}, seed=9)
    assert [faults.decide("mns", "SendMessage").error is not None for _ in range(50)] == expected


def test_times_caps_firings_and_configure_replaces_rules():
    faults = injector({"fault": "unavailable", "times": 1})
    assert faults.decide("domain", "X").error is not None
    assert faults.decide("domain", "X").error is None
    faults.configure({"rules": [{"fault": "internal_error"}]})
    assert faults.decide("domain", "X").error.fault == "internal_error"
    faults.clear()
    assert faults.describe() == {"seed": None, "rules": []}


def test_after_lets_the_first_matching_calls_through():
    faults = injector({"service": "domain", "action": "QueryDSRecord", "fault": "throttling", "after": 1, "times": 1})
    assert faults.decide("domain", "SaveSingleTaskForDeletingDSRecord").error is None  # not matched: not counted
    assert faults.decide("domain", "QueryDSRecord").error is None  # the first match goes through
    assert faults.decide("domain", "QueryDSRecord").error.fault == "throttling"
    assert faults.decide("domain", "QueryDSRecord").error is None  # times=1: fired once
    assert parse_fault_spec("domain:QueryDSRecord:forbidden:1:after=2")["after"] == 2
    with pytest.raises(ValueError):
        parse_fault_spec("domain:QueryDSRecord:forbidden:1:after=-1")


@pytest.mark.parametrize("fault, processed, status", [
    ("throttling", False, 400), ("unavailable", False, 503), ("internal_error", False, 500),
    ("drop_before", False, None), ("internal_error_after", True, 500), ("drop_after", True, None),
])
def test_which_faults_process_the_call(fault, processed, status):
    calls = []
    faults = injector({"fault": fault})
    decision = faults.decide("domain", "X")

    def reply_for(rule):
        error = fault_error(rule, "domain")
        return Reply(error.status, code=error.code)

    reply = faults.run(decision, lambda: calls.append(1) or Reply(200), reply_for)
    assert (calls == [1], None if reply.dropped else reply.status) == (processed, status)


def test_fault_errors_speak_each_services_codes():
    throttle = injector({"fault": "throttling", "retry_after_ms": 250}).decide("domain", "X").error
    assert (fault_error(throttle, "domain").code, fault_error(throttle, "domain").headers) == (
        "Throttling.User", {"x-acs-retry-after": "250"})
    mns = fault_error(throttle, "mns")
    assert (mns.status, mns.code, mns.headers) == (429, "TooManyRequests", {})
    unavailable = injector({"fault": "unavailable"}).decide("mns", "X").error
    assert (fault_error(unavailable, "mns").status, fault_error(unavailable, "mns").code) == (503, "ServiceUnavailable")


# --- rules that plan how a created task ends -------------------------------------------------

SAVE = "SaveSingleTaskForDeletingDSRecord"


def test_outcome_specs():
    assert parse_fault_spec(f"domain:{SAVE}:task_failure:0.5:error_msg=Registry said no:times=2") == {
        "service": "domain", "action": SAVE, "fault": "task_failure", "rate": 0.5,
        "error_msg": "Registry said no", "times": 2}
    assert parse_fault_spec("*:SaveSingleTask*:task_stuck:1")["fault"] == "task_stuck"


@pytest.mark.parametrize("spec", ["mns:*:task_failure:1", "domain:QueryDSRecord:task_stuck:1",
                                  "domain:Query*:task_failure:1", "domain:*:throttling:1:error_msg=x",
                                  f"domain:{SAVE}:task_stuck:1:error_msg=x"])
def test_bad_outcome_specs(spec):
    with pytest.raises(ValueError):
        parse_fault_spec(spec)


def test_an_outcome_rule_plans_only_the_tasks_of_calls_that_create_one():
    faults = injector({"action": "*", "fault": "task_failure", "error_msg": "no"})
    assert faults.decide("domain", "QueryDSRecord").outcome is None
    assert faults.decide("mns", "SendMessage").outcome is None
    assert faults.describe()["rules"][0]["fired"] == 0
    decision = faults.decide("domain", SAVE)
    assert decision.task_plan() == TaskPlan("failure", "no", "fault") and decision.fired == ["task_failure"]
    stuck = injector({"fault": "task_stuck"}).decide("domain", "SaveSingleTaskForAddingDSRecord")
    assert stuck.task_plan() == TaskPlan("executing", None, "fault") and stuck.error is None


@pytest.mark.parametrize("error, planned", [("throttling", False), ("drop_before", False), ("gateway_page", False),
                                            ("internal_error_after", True), ("drop_after", True)])
def test_an_outcome_rule_fires_only_when_the_call_will_be_processed(error, planned):
    # The outcome rule comes first: it still waits for the error rules' verdict.
    faults = injector({"fault": "task_stuck"}, {"fault": error})
    decision = faults.decide("domain", SAVE)
    assert (decision.outcome is not None, decision.error.fault) == (planned, error)
    assert faults.describe()["rules"][0]["fired"] == int(planned)


def test_the_first_outcome_rule_that_fires_wins():
    faults = injector({"fault": "task_stuck", "rate": 0}, {"fault": "task_failure"}, {"fault": "task_stuck"})
    assert faults.decide("domain", SAVE).task_plan().outcome == "failure"
    assert [rule["fired"] for rule in faults.describe()["rules"]] == [0, 1, 0]


# --- a gateway page in front of a backend that goes on to perform the call -------------------

def test_a_deferred_gateway_page_spec():
    assert parse_fault_spec(f"domain:{SAVE}:gateway_page:1:status=504:process_after_ms=300") == {
        "service": "domain", "action": SAVE, "fault": "gateway_page", "rate": 1.0, "status": 504,
        "process_after_ms": 300}


@pytest.mark.parametrize("spec", ["domain:*:throttling:1:process_after_ms=10", "domain:*:gateway_page:1:process_after_ms=-1",
                                  "domain:*:gateway_page:1:process_after_ms=soon"])
def test_bad_deferred_specs(spec):
    with pytest.raises(ValueError):
        parse_fault_spec(spec)


def test_the_page_comes_at_once_and_the_call_is_performed_later():
    faults = injector({"fault": "gateway_page", "status": 502, "process_after_ms": 200}, {"fault": "task_stuck"})
    decision = faults.decide("domain", SAVE)
    assert decision.task_plan().outcome == "executing"  # the call will be performed: its task is planned
    performed = threading.Event()
    started = time.monotonic()
    reply = faults.run(decision, lambda: performed.set() or Reply(200), lambda rule: Reply(500))
    assert (reply.status, reply.headers["content-type"]) == (502, "text/html")
    assert time.monotonic() - started < 0.15 and not performed.is_set() and faults.deferred.pending() == 1
    assert performed.wait(5) and time.monotonic() - started >= 0.2
    deadline = time.monotonic() + 5
    while faults.deferred.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert faults.deferred.pending() == 0


def test_cancelled_deferred_calls_never_run_and_clearing_rules_keeps_them():
    faults = injector({"fault": "gateway_page", "process_after_ms": 100})
    performed = []
    for _ in range(2):
        faults.run(faults.decide("domain", SAVE), lambda: performed.append(1), lambda rule: Reply(500))
    faults.clear()
    assert faults.deferred.pending() == 2
    faults.deferred.cancel()
    time.sleep(0.2)
    assert (performed, faults.deferred.pending()) == ([], 0)
