"""Reconciliation after an unknown outcome: did the submission we cannot see the answer of create
a task? SaveSingleTaskForDeletingDSRecord is not idempotent, so it is never resubmitted blindly.

1. QueryDSRecord: is the KeyTag still listed?
2. QueryTaskList, every page, over the whole days that cover the time since the first attempt
   (less a margin for clock skew): its time filter works by whole days only. If MAX_TASK_PAGES
   cannot cover them, the outcome stays unknown: "did not look far enough" is never "not found".
3. QueryTaskDetailList for each task no request has claimed, those created nearest the first
   attempt first: a task for this domain is adopted, unless it succeeded while the KeyTag is still
   listed (then it deleted another KeyTag). Adopting claims the TaskNo, so no two requests can
   adopt the same task; the task's status goes with it (one that already succeeded is reported
   so).

Requests for one domain are serialised (a per-domain lock, see submission.py), and a request whose
send may have created a task leaves a marker on the domain until that is settled (submission.py):
the next request for the domain reconciles for it first, so a task for the domain created in the
window is the request's own. What this cannot rule out:
- a task for the domain created in the window by someone else (the console, another tool) is
  adopted as ours: TaskDetail does not carry the KeyTag, so it cannot be told apart;
- a task created by the lost call but not yet listed by QueryTaskList (if the listing lags) is
  missed, and the request is submitted again: a second task;
- a listing that ignores the time bounds or reports times in another zone only costs more calls
  (every candidate is checked by domain), but a clock skew larger than the margin can miss a task.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from cloud.errors import OutcomeUnknownError

from .idempotency import IdempotencyStore
from .retry import Retrier

SKEW_MARGIN_MS = 5 * 60 * 1000
MAX_TASK_PAGES = 50  # with PAGE_SIZE: up to 5,000 tasks in the account over the days looked at
PAGE_SIZE = 100
DAY_MS = 86_400_000
SUCCESS = "EXECUTE_SUCCESS"
OURS, UNCLAIMED, SUCCEEDED, NOT_OURS = "ours", "unclaimed", "succeeded", "not ours"
BEIJING = timezone(timedelta(hours=8))  # the China site reports task times in Beijing time
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%b %d,%Y %H:%M:%S")


@dataclass(frozen=True)
class Reconciliation:
    task_no: Optional[str]   # the task adopted as this request's, if one was found
    key_tag_listed: bool     # whether QueryDSRecord still lists the KeyTag
    claimed_before: bool = False  # the task was already claimed for the request
    task_status: str = ""    # the adopted task's status, when its details were read


def whole_days(begin_ms: int, end_ms: int) -> tuple:
    """The listing's time filter: the Beijing days that hold begin and end, whole."""
    offset = int(BEIJING.utcoffset(None).total_seconds() * 1000)
    first = (begin_ms + offset) // DAY_MS * DAY_MS - offset
    last = (end_ms + offset) // DAY_MS * DAY_MS - offset + DAY_MS - 1
    return first, last


def created_ms(create_time: str) -> Optional[int]:
    """A task's CreateTime in ms, or None if its format is not one we know."""
    text = re.sub(r"\s+", " ", create_time.strip())
    for pattern in TIME_FORMATS:
        try:
            return int(datetime.strptime(text, pattern).replace(tzinfo=BEIJING).timestamp() * 1000)
        except ValueError:
            continue
    return None


class Reconciler:
    def __init__(self, domain_api, store: IdempotencyStore, retrier: Retrier, *,
                 now_ms: Callable[[], int], claim_ttl_ms: int) -> None:
        self._api = domain_api
        self._store = store
        self._retrier = retrier
        self._now_ms = now_ms
        self._claim_ttl_ms = claim_ttl_ms

    def reconcile(self, domain: str, key_tag: int, key: str, since_ms: int) -> Reconciliation:
        """Whether the request `key` (deleting `key_tag` of `domain`, first sent at since_ms)
        created a task: one found is claimed for `key`."""
        retry = self._retrier.call

        def key_tag_listed() -> bool:
            records = retry(lambda: self._api.query_ds_records(domain), what="QueryDSRecord").records
            return any(record.key_tag == key_tag for record in records)

        listed = key_tag_listed()
        begin = since_ms - SKEW_MARGIN_MS
        for task in self._tasks_since(begin, since_ms):
            verdict, status = self._candidate(task, domain, key, begin)
            if verdict == OURS:
                return Reconciliation(task.task_no, listed, claimed_before=True)
            if verdict == SUCCEEDED and listed:
                # The listing was read before this task ended: read it again, or a task that
                # removed our KeyTag meanwhile would pass for one that removed another.
                listed = key_tag_listed()
                if listed:
                    continue  # it removed another KeyTag
            if verdict in (UNCLAIMED, SUCCEEDED) and self._store.claim_task(task.task_no, key, self._claim_ttl_ms):
                return Reconciliation(task.task_no, listed, task_status=status)
        return Reconciliation(None, listed)

    def _tasks_since(self, begin_ms: int, since_ms: int) -> list:
        """Every task the listing has for the days since begin_ms, those created nearest since_ms
        first (the request's own task follows its first send); OutcomeUnknownError when
        MAX_TASK_PAGES do not reach the end of the listing."""
        first, last = whole_days(begin_ms, self._now_ms() + SKEW_MARGIN_MS)
        tasks = []
        for page_num in range(1, MAX_TASK_PAGES + 1):
            page = self._retrier.call(lambda: self._api.query_task_list(first, last, page_num=page_num,
                                                                        page_size=PAGE_SIZE),
                                      what="QueryTaskList")
            tasks.extend(page.tasks)
            if not page.has_next_page:
                break
        else:
            raise OutcomeUnknownError(
                "ReconcileIncomplete", f"The account lists more than {MAX_TASK_PAGES * PAGE_SIZE} tasks since the first "
                "send: whether it created a task is not known; nothing is sent again", service="Domain",
                action="QueryTaskList")

        def distance(task) -> float:
            created = created_ms(task.create_time)
            return float("inf") if created is None else abs(created - since_ms)

        return sorted(tasks, key=distance)

    def _candidate(self, task, domain: str, key: str, begin_ms: int) -> tuple:
        """What the task may be to the request `key`, and its status when its details were read:
        OURS (claimed for it already), UNCLAIMED or SUCCEEDED (a task of the domain nobody
        claimed), or NOT_OURS."""
        created = created_ms(task.create_time)
        if (created is not None and created < begin_ms) or "ADD" in task.task_type.upper():
            return NOT_OURS, ""  # too old, or the sibling that adds a DS record (task type names: unverified)
        claimant = self._store.task_claimant(task.task_no)
        if claimant is not None:
            return (OURS if claimant == key else NOT_OURS), ""  # ours: an earlier delivery claimed it
        details = self._retrier.call(
            lambda: self._api.query_task_details(task.task_no, domain=domain),
            what="QueryTaskDetailList").details
        detail = next((d for d in details if d.domain_name == domain), None)
        if detail is None:
            return NOT_OURS, ""
        return (SUCCEEDED if detail.task_status == SUCCESS else UNCLAIMED), detail.task_status
