"""Reconciliation after an unknown outcome: did the submission we cannot see the answer of create
a task? SaveSingleTaskForDeletingDSRecord is not idempotent, so it is never resubmitted blindly.

1. QueryDSRecord: is the KeyTag still listed?
2. QueryTaskList (tasks created since the first attempt, less a margin for clock skew), then
   QueryTaskDetailList for each task no request has claimed: a task for this domain is adopted,
   unless it succeeded while the KeyTag is still listed (then it deleted another KeyTag).
   Adopting claims the TaskNo, so no two requests can adopt the same task.

Requests for one domain are serialised (a per-domain lock, see deletion.py), so a task for the
domain created in the window is this request's own. What this cannot rule out:
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

from .deletion_request import DeletionRequest
from .idempotency import IdempotencyStore
from .retry import Retrier

SKEW_MARGIN_MS = 5 * 60 * 1000
MAX_TASK_PAGES = 10
PAGE_SIZE = 100
SUCCESS = "EXECUTE_SUCCESS"
BEIJING = timezone(timedelta(hours=8))  # the China site reports task times in Beijing time
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%b %d,%Y %H:%M:%S")


@dataclass(frozen=True)
class Reconciliation:
    task_no: Optional[str]   # the task adopted as this request's, if one was found
    key_tag_listed: bool     # whether QueryDSRecord still lists the KeyTag


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

    def reconcile(self, request: DeletionRequest, key: str, since_ms: int) -> Reconciliation:
        retry = self._retrier.call
        records = retry(lambda: self._api.query_ds_records(request.domain_name), what="QueryDSRecord").records
        listed = any(record.key_tag == request.key_tag for record in records)
        begin = since_ms - SKEW_MARGIN_MS
        for page_num in range(1, MAX_TASK_PAGES + 1):
            page = retry(lambda: self._api.query_task_list(begin, self._now_ms() + SKEW_MARGIN_MS,
                                                           page_num=page_num, page_size=PAGE_SIZE),
                         what="QueryTaskList")
            for task in page.tasks:
                if self._is_ours(task, request, key, listed, begin):
                    return Reconciliation(task.task_no, listed)
            if not page.has_next_page:
                break
        return Reconciliation(None, listed)

    def _is_ours(self, task, request: DeletionRequest, key: str, listed: bool, begin_ms: int) -> bool:
        created = created_ms(task.create_time)
        if (created is not None and created < begin_ms) or "ADD" in task.task_type.upper():
            return False  # too old, or the sibling that adds a DS record (task type names: unverified)
        claimant = self._store.task_claimant(task.task_no)
        if claimant is not None:
            return claimant == key  # claimed by this very request (an earlier delivery of it)
        details = self._retrier.call(
            lambda: self._api.query_task_details(task.task_no, domain=request.domain_name),
            what="QueryTaskDetailList").details
        detail = next((d for d in details if d.domain_name == request.domain_name), None)
        if detail is None or (detail.task_status == SUCCESS and listed):
            return False
        return self._store.claim_task(task.task_no, key, self._claim_ttl_ms)
