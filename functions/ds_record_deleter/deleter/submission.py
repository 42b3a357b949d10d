"""Submitting one deletion exactly once: send, retry what was not processed, reconcile what may
have been, and only then send again.

Every send is noted in the request's idempotency record first (its time, and the first one's),
so that whoever takes the record over later knows a task may exist. After an unknown outcome:

- reconcile (reconcile.py): a task found is adopted; a KeyTag no longer listed with no task found
  ends the request (DSRecordAbsent);
- if the service answered (an InternalError), it has finished with the request: send again;
- if no answer came (a timeout, a dropped connection), the service may still act on the request
  after we gave up. Sending again is only safe once RECONCILE_SETTLE_SECONDS have passed since
  the last send: wait that out within the deadline and reconcile once more, or leave it to the
  redelivery (which reconciles first). The settle time is an assumption about the service
  (unverified): it does not act on a request later than that after receiving it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from cloud.errors import OutcomeUnknownError, PermanentError

from . import idempotency
from .deletion_request import DeletionRequest
from .idempotency import IdempotencyRecord, StoreError
from .log import logger

ACTION = "SaveSingleTaskForDeletingDSRecord"
MAX_SUBMISSIONS = 5  # sends after reconciling "not created"; the deadline bounds them too
RESUBMIT_RESERVE_SECONDS = 1.0  # time a resubmission needs after a settle wait


@dataclass(frozen=True)
class Task:
    task_no: str
    api_request_id: str
    adopted: bool = False


class Submission:
    def __init__(self, parts, request: DeletionRequest, key: str, owner: str, record: IdempotencyRecord, *,
                 ttl_ms: int, settle_seconds: float, log: dict) -> None:
        self._p = parts
        self._request = request
        self._key = key
        self._owner = owner
        self._ttl_ms = ttl_ms
        self._settle_seconds = settle_seconds
        self._log = log
        self._first_sent_ms = record.attempted_at_ms
        self._last_sent_ms = record.sent_at_ms or record.attempted_at_ms

    def run(self) -> Task:
        """The request's task, or a CloudError (PermanentError DSRecordAbsent included) or a
        StoreError before anything could be sent safely."""
        if self._first_sent_ms:  # an earlier delivery sent it and never learnt the outcome
            task = self._reconcile(answered=False)
            if task is not None:
                return task
        for _ in range(MAX_SUBMISSIONS):
            try:
                submitted = self._p.retrier.call(self._send, what=ACTION)
            except OutcomeUnknownError as error:
                logger.warning("Outcome unknown: reconciling before any resubmission",
                               extra={**self._log, "code": error.code})
                task = self._reconcile(answered=error.http_status is not None)
                if task is not None:
                    return task
                continue
            self._note(idempotency.SUBMITTED, submitted.task_no, submitted.request_id, adopted=False)
            return Task(submitted.task_no, submitted.request_id)
        raise OutcomeUnknownError("Unreconciled", f"{MAX_SUBMISSIONS} submissions ended unknown",
                                  service="Domain", action=ACTION)

    def _send(self):
        now = self._p.now_ms()
        changes = {"sent_at_ms": str(now)}
        if not self._first_sent_ms:
            changes["attempted_at_ms"] = str(now)
        if not self._p.store.update(self._key, self._owner, changes, self._ttl_ms):
            raise StoreError("the idempotency record is no longer held by this invocation")
        self._first_sent_ms = self._first_sent_ms or now
        self._last_sent_ms = now
        request = self._request
        return self._p.domain_api.save_deleting_ds_task(request.domain_name, request.key_tag, request.lang,
                                                        request.user_client_ip)

    def _reconcile(self, answered: bool) -> Optional[Task]:
        """The adopted task, or None when sending again is safe."""
        request = self._request
        found = self._p.reconciler.reconcile(request, self._key, self._first_sent_ms)
        if found.task_no:
            logger.info("Task adopted by reconciliation", extra={**self._log, "task_no": found.task_no})
            self._note(idempotency.SUBMITTED, found.task_no, "", adopted=True)
            return Task(found.task_no, "", adopted=True)
        if not found.key_tag_listed:
            raise PermanentError("DSRecordAbsent",
                                 f"KeyTag {request.key_tag} is no longer listed for {request.domain_name} and no "
                                 "deletion task since the first attempt was found; nothing was submitted again",
                                 service="Domain", action="QueryDSRecord")
        if answered:
            return None
        wait = self._settle_seconds - (self._p.now_ms() - self._last_sent_ms) / 1000
        if wait <= 0:
            return None
        if wait > self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS:
            raise OutcomeUnknownError("Unsettled", "The service may still act on the last send; a redelivery "
                                      "will reconcile again before sending", service="Domain", action=ACTION)
        self._p.sleep(wait)
        return self._reconcile(answered=True)

    def _note(self, status: str, task_no: str, api_request_id: str, adopted: bool) -> None:
        """The TaskNo goes into the record and is claimed at once. A store failure here must not
        lose it: it is logged at ERROR with the TaskNo, and the request goes on to publish."""
        changes = {"status": status, "task_no": task_no, "api_request_id": api_request_id,
                   "adopted": str(int(adopted))}
        try:
            self._p.store.update(self._key, self._owner, changes, self._ttl_ms)
            self._p.store.claim_task(task_no, self._key, self._ttl_ms)
        except StoreError as error:
            logger.error("Idempotency store failed", extra={**self._log, "task_no": task_no, "store_error": str(error)})
