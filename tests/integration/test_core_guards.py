"""Guards of the exactly-once core that no other test failed without (issue 8, point 11): each test
here kills mutants of submission.py, reconcile.py or idempotency.py that `make mutate` found
surviving. The real handler, against the emulator over HTTP."""
from __future__ import annotations

import pytest

SAVE = "SaveSingleTaskForDeletingDSRecord"


def rule(service, action, fault, **extra):
    return {"service": service, "action": action, "fault": fault, "rate": 1, **extra}


# --- reconcile.py: a task that succeeded while reconciliation looked --------------------------------

def test_a_task_that_removed_the_key_tag_while_reconciliation_looked_is_adopted(function, emulator, monkeypatch):
    """The send's answer is lost. The KeyTag is still listed when reconciliation first reads the
    listing, and the request's own task succeeds before its details are read: only the listing
    read again tells it from a task that removed another KeyTag. Read once, it would pass the
    task over and send again: a second task."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0.2")
    emulator.set_task_delays(0.3, 0.3)  # the task succeeds 0.6 s after the send
    emulator.set_faults({"rules": [rule("domain", SAVE, "drop_after", times=1),
                                   rule("domain", "QueryTaskList", "latency", latency_ms=1000, times=1)]})
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
