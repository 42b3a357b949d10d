"""Asking how one task stands (GET /tasks/<TaskNo> on the webhook): the service's detail of the
task and, when this function published the TaskNo and noted its DS record, whether the KeyTag is
still listed. Read-only: it makes no task and publishes nothing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from cloud.errors import CloudError

from .idempotency import StoreError
from .log import logger
from .source import Source
from .task_state import TaskState, decode_note, key_tag_listed, note_name, read_task


@dataclass(frozen=True)
class TaskLookup:
    task_no: str  # checked against task_state.TASK_NO by the trigger
    source: Source


@dataclass(frozen=True)
class TaskLookupOutcome:
    lookup: TaskLookup
    state: Optional[TaskState] = None   # None: the account has no such task (or the lookup failed)
    key_tag: Optional[int] = None       # the DS record's, when noted
    key_tag_listed: Optional[bool] = None
    error: Optional[CloudError] = None  # the lookup failed

    settled = True  # nothing is left to a redelivery


class TaskQuery:
    def __init__(self, domain_api: Any, store: Any, retrier: Any) -> None:
        self._api = domain_api
        self._store = store
        self._retrier = retrier

    def lookup(self, item: TaskLookup) -> TaskLookupOutcome:
        log = {"correlation_id": item.source.id, "trigger": item.source.trigger, "task_no": item.task_no}
        try:
            state = read_task(self._api, self._retrier, item.task_no)
            if state is None:
                logger.info("Task looked up: not in this account", extra=log)
                return TaskLookupOutcome(item)
            noted = self._noted(item.task_no, log)
            key_tag = noted[1] if noted is not None and noted[0] == state.domain_name else None
            listed = None if key_tag is None else key_tag_listed(self._api, self._retrier, state.domain_name, key_tag)
        except CloudError as error:
            logger.warning("Task not looked up", extra={**log, "code": error.code, "reason": error.message})
            return TaskLookupOutcome(item, error=error)
        logger.info("Task looked up", extra={**log, "task_status": state.status, "domain": state.domain_name})
        return TaskLookupOutcome(item, state, key_tag, listed)

    def _noted(self, task_no: str, log: dict):
        try:
            return decode_note(self._store.marker(note_name(task_no)))
        except StoreError as error:  # the answer then leaves KeyTagListed open
            logger.warning("TaskNo's DS record not read", extra={**log, "store_error": str(error)})
            return None
