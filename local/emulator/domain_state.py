"""Registrar state: domains with their DS records, and the asynchronous tasks that change them.

Not thread-safe by itself: the caller holds EmulatorState's lock. Tasks advance lazily from the
clock whenever advance() runs (every read does): WAITING_EXECUTE for waiting_seconds, then
EXECUTING for executing_seconds, then EXECUTE_SUCCESS or EXECUTE_FAILURE. Tasks take effect in
the order they finish, so of two deletions of one KeyTag the second finds nothing and fails.

Each task's end is planned when it is created (TaskPlan): "success" (it does what it asks, and
fails as the registry would when there is nothing to do), "failure" (it fails with ErrorMsg,
changing nothing) or "executing" (it never finishes). A fault rule's plan wins over the domain's
TaskOutcome, which wins over the default, success.

Two views of a task, as the API has them: QueryTaskDetailList's (detail(): the statuses above,
codes 0..3) and QueryTaskList's (info(): the task-level WAITING_EXECUTE, EXECUTING, COMPLETE,
codes 1..3, where a finished task is COMPLETE whether it succeeded or failed).
"""
from __future__ import annotations

import hashlib
import itertools
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .errors import ApiError

WAITING, EXECUTING, SUCCESS, FAILURE = 0, 1, 2, 3
STATUS_NAMES = ("WAITING_EXECUTE", "EXECUTING", "EXECUTE_SUCCESS", "EXECUTE_FAILURE")
# QueryTaskList's task-level status per detail status: (name, code). The documentation's own
# example pairs COMPLETE with code 1; its value list says 1, 2, 3, which is what is served.
TASK_LEVEL_STATUS = {WAITING: ("WAITING_EXECUTE", 1), EXECUTING: ("EXECUTING", 2),
                     SUCCESS: ("COMPLETE", 3), FAILURE: ("COMPLETE", 3)}
NOT_CANCELLED = ("INIT", 0)  # TaskCancelStatus and its code: nobody cancels a task here
SUCCEEDS, FAILS, NEVER_ENDS = "success", "failure", "executing"
OUTCOMES = (SUCCEEDS, FAILS, NEVER_ENDS)
# Invented: no failure message of this action is published.
DEFAULT_ERROR_MSG = "The registry refused the request: 2400 Command failed."
# One try and the five retries that the TaskDetailHistory documentation says a failure gets
# (unverified); a task that did not fail shows one try.
FAILED_TRY_COUNT = 6
MAX_BULK_TASKS = 100_000
# Task type names are not documented for these actions: unverified.
DELETE_TASK, ADD_TASK = "DELETE_DS_RECORD", "ADD_DS_RECORD"
TYPE_DESCRIPTIONS = {
    (DELETE_TASK, "en"): "Delete DS record", (DELETE_TASK, "zh"): "删除DS记录",
    (ADD_TASK, "en"): "Add DS record", (ADD_TASK, "zh"): "添加DS记录",
}
BEIJING = timezone(timedelta(hours=8))
BEIJING_OFFSET_MS = 8 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000
# Spelt out rather than %b, which follows the process's locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def beijing_time(ms: int) -> str:
    """QueryTaskDetailList's time format: 2018-01-25 20:46:57 (no zone; Beijing time)."""
    return datetime.fromtimestamp(ms / 1000, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def task_list_time(ms: int) -> str:
    """QueryTaskList's own time format: Dec 26,2017 11:00:54 (Beijing time; zero-padded day
    unverified)."""
    moment = datetime.fromtimestamp(ms / 1000, BEIJING)
    return f"{MONTHS[moment.month - 1]} {moment:%d,%Y %H:%M:%S}"


def beijing_day_start(ms: int) -> int:
    """The first ms of the Beijing day that ms falls in."""
    return (ms + BEIJING_OFFSET_MS) // DAY_MS * DAY_MS - BEIJING_OFFSET_MS


@dataclass(frozen=True)
class DSRecord:
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str

    @classmethod
    def from_dict(cls, entry: Dict[str, Any]) -> "DSRecord":
        return cls(int(entry["KeyTag"]), int(entry["Algorithm"]), int(entry["DigestType"]), str(entry["Digest"]).upper())

    def as_dict(self) -> Dict[str, Any]:
        return {"KeyTag": self.key_tag, "Algorithm": self.algorithm, "DigestType": self.digest_type, "Digest": self.digest}


@dataclass(frozen=True)
class TaskPlan:
    """How a task will end, and who decided: default, domain, fault or bulk."""

    outcome: str = SUCCEEDS
    error_msg: Optional[str] = None  # a failure's ErrorMsg (None: DEFAULT_ERROR_MSG)
    by: str = "default"

    @classmethod
    def checked(cls, outcome: Any, error_msg: Any, by: str) -> "TaskPlan":
        if outcome not in OUTCOMES:
            raise ValueError(f"TaskOutcome must be one of {OUTCOMES}, not {outcome!r}")
        if error_msg is not None and (outcome != FAILS or not isinstance(error_msg, str)):
            raise ValueError('ErrorMsg is a string, and only for TaskOutcome "failure"')
        return cls(outcome, error_msg, by)

    def failure_message(self) -> str:
        return self.error_msg or DEFAULT_ERROR_MSG


@dataclass
class Domain:
    name: str
    instance_id: str
    records: List[DSRecord] = field(default_factory=list)
    plan: TaskPlan = TaskPlan()  # for the domain's tasks

    def as_dict(self) -> Dict[str, Any]:
        entry = {"DomainName": self.name, "InstanceId": self.instance_id,
                 "DSRecords": [r.as_dict() for r in self.records], "TaskOutcome": self.plan.outcome}
        if self.plan.outcome == FAILS:
            entry["ErrorMsg"] = self.plan.failure_message()
        return entry


@dataclass
class Task:
    seq: int
    task_type: str
    domain_name: str
    instance_id: str
    key_tag: int
    new_record: Optional[DSRecord]  # what an ADD task adds
    client_ip: str
    lang: str
    created_ms: int
    starts_ms: int  # leaves WAITING_EXECUTE
    finishes_ms: Optional[int]  # reaches its end (None: never)
    plan: TaskPlan = TaskPlan()
    changes_records: bool = True  # False: a made-up task (create_tasks) that ends as planned, changing nothing
    task_no: str = field(default_factory=lambda: str(uuid.uuid4()))
    task_detail_no: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: int = WAITING
    updated_ms: int = 0
    result: str = ""
    fail_reason: str = ""
    try_count: int = 1

    def detail(self) -> Dict[str, Any]:
        return {
            "TaskNo": self.task_no, "TaskDetailNo": self.task_detail_no, "TaskType": self.task_type,
            "TaskTypeDescription": TYPE_DESCRIPTIONS[(self.task_type, self.lang)],
            "TaskStatus": STATUS_NAMES[self.status], "TaskStatusCode": self.status,
            "TaskResult": self.result, "ErrorMsg": self.fail_reason, "FailReason": self.fail_reason,
            "TryCount": self.try_count, "DomainName": self.domain_name, "InstanceId": self.instance_id,
            "CreateTime": beijing_time(self.created_ms), "UpdateTime": beijing_time(self.updated_ms or self.created_ms),
        }

    def info(self) -> Dict[str, Any]:
        """The QueryTaskList view of the task (a batch of one domain): task-level status only."""
        status, code = TASK_LEVEL_STATUS[self.status]
        return {
            "TaskNo": self.task_no, "TaskType": self.task_type,
            "TaskTypeDescription": TYPE_DESCRIPTIONS[(self.task_type, self.lang)], "TaskNum": 1,
            "TaskStatus": status, "TaskStatusCode": code,
            "TaskCancelStatus": NOT_CANCELLED[0], "TaskCancelStatusCode": NOT_CANCELLED[1],
            "CreateTime": task_list_time(self.created_ms), "Clientip": self.client_ip,
        }

    def snapshot(self) -> Dict[str, Any]:
        record = self.new_record.as_dict() if self.new_record else None
        planned_error = self.plan.failure_message() if self.plan.outcome == FAILS else None
        return {**self.detail(), "KeyTag": self.key_tag, "NewDSRecord": record, "Clientip": self.client_ip,
                "CreateTimeMs": self.created_ms, "PlannedOutcome": self.plan.outcome,
                "PlannedErrorMsg": planned_error, "PlannedBy": self.plan.by, "ChangesRecords": self.changes_records}


def domain_name_of(entry: Dict[str, Any]) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("DomainName"), str):
        raise ValueError('a domain or task entry needs {"DomainName": "..."}')
    return entry["DomainName"].lower()


def _integer(entry: Dict[str, Any], name: str, low: int, high: int, default: Optional[int] = None) -> int:
    value = entry.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return value


def domain_not_exist() -> ApiError:
    # Unverified code: what the registrar answers for a domain outside the account.
    return ApiError(400, "DomainNotExist", "The domain does not exist in this account.")


class DomainStore:
    def __init__(
        self, domains: Iterable[Dict[str, Any]], task_delays: Tuple[float, float], clock: Callable[[], float]
    ) -> None:
        self.domains: Dict[str, Domain] = {}
        self.tasks: List[Task] = []
        self._by_no: Dict[str, Task] = {}
        self._pending: List[Task] = []
        self._seq = itertools.count(1)
        self.task_delays = task_delays
        # The task listings (QueryTaskDetailList, QueryTaskList) leave out tasks created less
        # than this long ago, as a read replica behind the service's answer would: whether the
        # real listings lag is unverified, so clients must not take "not listed" for "none".
        self.listing_lag_ms = 0
        self._clock = clock
        for entry in domains:
            self.put_domain(entry)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def put_domain(self, entry: Dict[str, Any]) -> Domain:
        name = str(entry["DomainName"]).lower()
        instance_id = entry.get("InstanceId") or "S" + hashlib.sha1(name.encode()).hexdigest()[:14].upper()
        plan = TaskPlan.checked(entry.get("TaskOutcome", SUCCEEDS), entry.get("ErrorMsg"),
                                "domain" if "TaskOutcome" in entry else "default")
        domain = Domain(name, instance_id, [DSRecord.from_dict(r) for r in entry.get("DSRecords", [])], plan)
        self.domains[name] = domain
        return domain

    def domain(self, name: str) -> Domain:
        if name not in self.domains:
            raise domain_not_exist()
        return self.domains[name]

    # --- tasks ---------------------------------------------------------------------------

    def submit(self, task_type: str, domain_name: str, key_tag: int, client_ip: str, lang: str,
               new_record: Optional[DSRecord] = None, plan: Optional[TaskPlan] = None) -> Task:
        """A new task; its end is `plan` (a fault rule's), else the domain's."""
        domain = self.domain(domain_name)
        return self._add_task(task_type, domain, key_tag, client_ip, lang, new_record, plan or domain.plan,
                              self._now_ms())

    def create_tasks(self, entry: Dict[str, Any]) -> List[Task]:
        """Count tasks of one domain at once, their creation times spread evenly from
        BeginCreateTime to EndCreateTime (ms; default now): someone else's tasks, for tests that
        need many in the account. They end as TaskOutcome says and never change DS records."""
        domain = self.domain(domain_name_of(entry))
        count = _integer(entry, "Count", 1, MAX_BULK_TASKS)
        key_tag = _integer(entry, "KeyTag", 0, 65535)
        now = self._now_ms()
        end = _integer(entry, "EndCreateTime", 0, 2**63 - 1, now)
        begin = _integer(entry, "BeginCreateTime", 0, end, end)
        task_type = entry.get("TaskType", DELETE_TASK)
        if task_type not in (DELETE_TASK, ADD_TASK):
            raise ValueError(f"TaskType must be {DELETE_TASK} or {ADD_TASK}")
        plan = TaskPlan.checked(entry.get("TaskOutcome", SUCCEEDS), entry.get("ErrorMsg"), "bulk")
        client_ip = str(entry.get("Clientip", "127.0.0.1"))
        step = (end - begin) / (count - 1) if count > 1 else 0
        return [self._add_task(task_type, domain, key_tag, client_ip, "en", None, plan, begin + round(step * index),
                               changes_records=False)
                for index in range(count)]

    def _add_task(self, task_type: str, domain: Domain, key_tag: int, client_ip: str, lang: str,
                  new_record: Optional[DSRecord], plan: TaskPlan, created_ms: int,
                  changes_records: bool = True) -> Task:
        waiting_ms, executing_ms = (int(seconds * 1000) for seconds in self.task_delays)
        task = Task(
            seq=next(self._seq), task_type=task_type, domain_name=domain.name, instance_id=domain.instance_id,
            key_tag=key_tag, new_record=new_record, client_ip=client_ip, lang=lang, created_ms=created_ms,
            starts_ms=created_ms + waiting_ms,
            finishes_ms=None if plan.outcome == NEVER_ENDS else created_ms + waiting_ms + executing_ms, plan=plan,
            changes_records=changes_records,
        )
        self.tasks.append(task)
        self._by_no[task.task_no] = task
        self._pending.append(task)
        return task

    def advance(self) -> None:
        now = self._now_ms()
        self._pending.sort(key=lambda task: (math.inf if task.finishes_ms is None else task.finishes_ms, task.seq))
        still_pending = []
        for task in self._pending:
            if task.finishes_ms is not None and now >= task.finishes_ms:
                self._finish(task)
            else:
                if now >= task.starts_ms and task.status == WAITING:
                    task.status, task.updated_ms = EXECUTING, task.starts_ms
                still_pending.append(task)
        self._pending = still_pending

    def _finish(self, task: Task) -> None:
        task.updated_ms = task.finishes_ms
        domain = self.domains.get(task.domain_name)  # may have been replaced or removed meanwhile
        records = domain.records if domain else []
        if task.plan.outcome == FAILS:
            failure = task.plan.failure_message()
        elif not task.changes_records:
            failure = None
        elif domain is None:
            failure = "The domain no longer exists in this account."
        elif task.task_type == DELETE_TASK:
            kept = [r for r in records if r.key_tag != task.key_tag]
            failure = None if len(kept) < len(records) else f"No DS record with KeyTag {task.key_tag} exists."
            if failure is None:
                domain.records = kept
        else:
            failure = "The DS record already exists." if task.new_record in records else None
            if failure is None:
                records.append(task.new_record)
        if failure is None:
            task.status, task.result = SUCCESS, "SUCCESS"
        else:
            task.status, task.result, task.fail_reason = FAILURE, "FAILURE", failure
            task.try_count = FAILED_TRY_COUNT

    def task_details(self, task_no: str, domain_name: Optional[str] = None, status: Optional[int] = None,
                     instance_id: Optional[str] = None) -> List[Task]:
        task = self._by_no.get(task_no)  # a lookup, not a scan: reconciliation reads many
        return [
            task for task in ([task] if task else [])
            if self._listed(task)
            and (domain_name is None or task.domain_name == domain_name)
            and (status is None or task.status == status)
            and (instance_id is None or task.instance_id == instance_id)
        ]

    def _listed(self, task: Task) -> bool:
        return not self.listing_lag_ms or task.created_ms <= self._now_ms() - self.listing_lag_ms

    def tasks_created_between(self, begin_ms: Optional[int], end_ms: Optional[int]) -> List[Task]:
        """QueryTaskList's choice: the service honours whole days only, so each bound is widened
        to the whole Beijing day it falls in (a task created earlier on BeginCreateTime's day is
        listed, and one later on EndCreateTime's day). Newest first here; the documentation
        promises no order, so clients must not rely on it."""
        first = None if begin_ms is None else beijing_day_start(begin_ms)
        after = None if end_ms is None else beijing_day_start(end_ms) + DAY_MS
        chosen = [
            task for task in self.tasks
            if self._listed(task)
            and (first is None or task.created_ms >= first) and (after is None or task.created_ms < after)
        ]
        return sorted(chosen, key=lambda task: (task.created_ms, task.seq), reverse=True)

    def snapshot(self) -> Dict[str, Any]:
        return {
            "domains": [domain.as_dict() for domain in self.domains.values()],
            "tasks": [task.snapshot() for task in self.tasks],
            "task_delays": {"waiting_seconds": self.task_delays[0], "executing_seconds": self.task_delays[1]},
        }
