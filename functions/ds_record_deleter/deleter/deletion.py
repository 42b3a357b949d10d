"""The use case: validate -> claim the request's idempotency record -> submit the deletion task
(retrying what is safe, reconciling what is unknown) -> publish the notification.

Before the first send, the submission runs the pre-check and the DNSSEC safety check (guard.py);
a dry run (the request's DryRun, or DRY_RUN) runs them alone: no record, no lock, nothing sent or
published.

Exactly one task per request: a redelivered request finds its record and returns the stored
TaskNo; an unknown outcome is reconciled before anything is submitted again (submission.py,
which also serialises the requests for one domain). No TaskNo is lost: it is in the record
(kept 14 days while unpublished) and in an ERROR line; a queue, topic or timer invocation then
fails so that the redelivery publishes it, and a webhook caller is told (Notified: false) to
send the same request again.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from cloud.errors import TRANSIENT, CloudError, OutcomeUnknownError, RetryableError

from . import idempotency, notifications
from .allowlist import DomainAllowlist
from .deadline import Deadline
from .deletion_request import DeletionRequest, InvalidRequest, parse_deletion_request
from .guard import GUARDED, Clearance, Guard, GuardStopped
from .idempotency import (CONTENT_KEY, IdempotencyRecord, IdempotencyStore, Retention, StoreError, fingerprint,
                          idempotency_key, rejection_key)
from .log import logger
from .notifications import Notification, Notifier
from .outcome import ALREADY_ABSENT, DRY_RUN, FAILED, PERMANENT, REJECTED, RETRYABLE, SUBMITTED, UNKNOWN, Outcome
from .ports import DomainApi
from .reconcile import Reconciler
from .retry import Retrier
from .source import IncomingRequest, Source
from .submission import Submission, Task, pending_deletions, store_write

# How long a settled record keyed only by what a request asks answers copies of it: those waiting
# on it (they poll every POLL_SECONDS) read it at once; a request asked later is a new request.
COPY_WINDOW_MS = 2000


if TYPE_CHECKING:
    from .follow_up import Watcher

@dataclass(frozen=True)
class Collaborators:
    """What one invocation's use case is given: the cloud ports, the store and the clocks."""
    domain_api: DomainApi
    notifier: Notifier
    store: IdempotencyStore
    reconciler: Reconciler
    retrier: Retrier          # for Domain API calls, within the deadline
    publish_retrier: Retrier  # for publishing, which may also use the deadline's margin
    deadline: Deadline
    allowlist: DomainAllowlist
    now_ms: Callable[[], int]
    sleep: Callable[[float], None]
    watcher: Optional["Watcher"] = None  # schedules each task's checks (follow_up.py); None: not watched
    guard: Any = None  # deleter.guard.Guard: the pre-check and the safety check before a send


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DeletionUseCase:
    def __init__(self, parts: Collaborators, *, default_lang: str = "en", idempotency_ttl_seconds: int = 3600,
                 delivery_record_ttl_seconds: int = 8 * 86400, settle_seconds: float = 30.0, instance_id: str = "",
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._p = parts
        self._settle_seconds = settle_seconds
        self._default_lang = default_lang
        self._retention = Retention(idempotency_ttl_seconds * 1000, delivery_record_ttl_seconds * 1000)
        self._unpublished_ttl_ms = idempotency.unpublished_ttl_ms(idempotency_ttl_seconds)
        self._instance_id = instance_id or uuid.uuid4().hex[:8]
        self._clock = clock

    # --- one request, start to end ----------------------------------------------------------

    def process(self, item: IncomingRequest) -> Outcome:
        """Never raises: every end is an Outcome, so one bad item cannot stop a batch."""
        try:
            return self._process(item)
        except Exception as error:  # a defect, not a request's fault: keep the batch going
            logger.exception("Unexpected error", extra={"correlation_id": item.source.id})
            return Outcome(FAILED, item.source, code="UnexpectedError", message=type(error).__name__,
                           failure=UNKNOWN)

    def _process(self, item: IncomingRequest) -> Outcome:
        try:
            if item.problem is not None:
                raise item.problem
            request = parse_deletion_request(item.payload, default_lang=self._default_lang,
                                             fallback_client_ip=item.client_ip)
            if not self._p.allowlist.allows(request.domain_name):
                raise InvalidRequest("DomainNotAllowed", "DomainName",
                                     f"DomainName {request.domain_name} is not in ALLOWED_DOMAINS")
        except InvalidRequest as error:
            return self._reject(item, error)
        if request.dry_run or (self._p.guard is not None and self._p.guard.dry_run):
            return self._dry_run(request, item.source)  # no record, no lock, nothing sent or published
        source = item.source
        key, owner = idempotency_key(request, source), self._new_owner()
        try:
            claim = self._claim(key, owner, fingerprint(request))
        except StoreError as error:  # no record, no call: nothing may be sent untracked
            return self._failed(request, source, key, owner, _store_unavailable(error))
        record = claim.record
        if record.fingerprint != fingerprint(request):
            if claim.acquired:  # taken over from a lapsed lease: hand it straight back
                self._save(key, owner, {"lease_until_ms": "0"}, request, source)
            used = "IdempotencyKey" if request.idempotency_key else f"The delivery id {source.id}"
            return self._reject(item, InvalidRequest(
                "IdempotencyKeyReused", "IdempotencyKey",
                f"{used} was already used for another request (another DomainName or KeyTag)"))
        if not claim.acquired:
            return self._replay(record, request, source) if record.final else self._busy(request, source)
        # Joined, never answered: the task it joined may have ended since (a failure lets it make a
        # new task), so it joins again rather than tell a stale status nobody follows to an end.
        rejoin = record.joined and not record.notified
        if record.status == idempotency.SUBMITTED and not rejoin:
            task: Union[Task, Outcome] = Task(record.task_no, record.api_request_id, record.adopted, record.joined,
                                              record.task_status, Clearance.from_record(record.safety))
        elif record.status == idempotency.FAILED:  # refused for good, its notice still owed
            error = CloudError(record.code, record.message, service="Domain", action="SaveSingleTaskForDeletingDSRecord")
            return self._refused(request, source, key, owner, error)
        else:
            task = self._submit(request, source, key, owner, record)
        if isinstance(task, Outcome):
            return task
        return self._publish(request, source, key, owner, task,
                             submitted_at_ms=int(record.submitted_at or 0) if record.notified else 0)

    # --- submitting ---------------------------------------------------------------------------

    def _submit(self, request: DeletionRequest, source: Source, key: str, owner: str,
                record: IdempotencyRecord) -> Union[Task, Outcome]:
        try:
            return Submission(self._p, request, key, owner, record, ttl_ms=self._unpublished_ttl_ms,
                              settle_seconds=self._settle_seconds, log=_log_fields(source, request),
                              guard=self._p.guard).run()
        except GuardStopped as stopped:
            return self._guarded_end(request, source, key, owner, stopped.clearance)
        except CloudError as error:
            return self._failed(request, source, key, owner, error)
        except StoreError as error:  # before anything was sent (after sending, Submission guards)
            return self._failed(request, source, key, owner, _store_unavailable(error))

    def _save(self, key: str, owner: str, changes: dict, request: DeletionRequest, source: Source,
              task_no: Optional[str] = None, ttl_ms: Optional[int] = None) -> None:
        """Record progress once a task exists. A store failure here must not lose the TaskNo: it
        is logged at ERROR with the TaskNo, and the request goes on to publish."""
        self._guarded(lambda: self._p.store.update(key, owner, changes, ttl_ms or self._unpublished_ttl_ms),
                      request, source, task_no)

    def _guarded(self, action: Callable[[], object], request: DeletionRequest, source: Source,
                 task_no: Optional[str] = None) -> None:
        store_write(action, _log_fields(source, request, task_no=task_no))

    def _claim(self, key: str, owner: str, request_fingerprint: str):
        """The request's record. While this instance holds it (another item of the same batch, or
        a concurrent invocation on this instance), wait within the deadline for that to finish; a
        holder on another instance is not waited for (the trigger redelivers later)."""
        claim = None

        def decided() -> bool:
            nonlocal claim
            claim = self._p.store.acquire(key, owner, request_fingerprint, self._lease_until_ms(),
                                          self._p.now_ms(), self._unpublished_ttl_ms)
            record = claim.record
            return (claim.acquired or record.final or record.fingerprint != request_fingerprint
                    or not record.owner.startswith(f"{self._instance_id}/"))

        self._p.deadline.poll(decided, self._p.sleep)
        return claim

    def _new_owner(self) -> str:
        return f"{self._instance_id}/{uuid.uuid4().hex}"

    # --- publishing ---------------------------------------------------------------------------

    def _publish(self, request: DeletionRequest, source: Source, key: str, owner: str, task: Task,
                 submitted_at_ms: int = 0) -> Outcome:
        """submitted_at_ms: when an earlier delivery published the Submitted notification (0: not
        yet); only the task's first check is then still owed."""
        log = _log_fields(source, request, task_no=task.task_no, outcome=SUBMITTED, adopted=task.adopted or None,
                          joined=task.joined or None, task_status=task.task_status or None)
        logger.info("Deletion task submitted" if not task.joined else "Deletion joined the DS record's task", extra=log)
        at = _from_ms(submitted_at_ms) if submitted_at_ms else self._clock()
        notification = notifications.submitted(request, task.task_no, task.api_request_id, source, at,
                                               adopted=task.adopted, joined=task.joined, task_status=task.task_status)
        notification = notifications.with_safety(notification, task.guard)
        notified = bool(submitted_at_ms) or self._notify(notification, log)
        watched = self._watch(request, source, task, at, log) if notified else None
        if notified and watched is False:  # published, not yet watched: the redelivery schedules its check
            self._save(key, owner, {"notified": "1", "submitted_at": str(_ms(at)), "lease_until_ms": "0"}, request,
                       source, task.task_no)
        elif notified:
            self._save(key, owner, {"status": idempotency.PUBLISHED, "notified": "1", "final": "1"}, request, source,
                       task.task_no, self._settled_ttl_ms(key))
        else:
            logger.error("TaskNo not published: a redelivery will publish it", extra=log)
            self._save(key, owner, {"lease_until_ms": "0"}, request, source, task.task_no)
        return Outcome(SUBMITTED, source, request, task_no=task.task_no, api_request_id=task.api_request_id,
                       notified=notified, adopted=task.adopted, joined=task.joined, task_status=task.task_status,
                       watched=watched, guard=task.guard)

    def _settled_ttl_ms(self, key: str) -> int:
        """How long a published request's record answers for it. One keyed by what it asks only
        answers the copies that waited for it (an array holding it twice): asked again later, the
        DS record's task is asked after (joined while pending, a new one after a failure)."""
        if key.startswith(CONTENT_KEY):
            return COPY_WINDOW_MS
        return self._retention.settled_ms(key)

    def _notify(self, notification: Notification, log: dict) -> bool:
        try:
            # A publish whose answer was lost may be sent twice: consumers dedupe by TaskNo.
            self._p.publish_retrier.call(lambda: self._p.notifier.send(notification),
                                         retry_on=(RetryableError, OutcomeUnknownError), what="PublishMessage")
            return True
        except (CloudError, ValueError) as error:
            logger.error("Notification not published", extra={**log, "event": notification.event,
                                                                "publish_error": str(error)})
            return False

    # --- the other ends -------------------------------------------------------------------------

    def _failed(self, request: DeletionRequest, source: Source, key: str, owner: str, error: CloudError) -> Outcome:
        if not isinstance(error, TRANSIENT):
            return self._refused(request, source, key, owner, error)
        # Deferred (an expired token, a missing permission): not processed, like a retryable one,
        # but only a later delivery can succeed.
        failure = UNKNOWN if isinstance(error, OutcomeUnknownError) else RETRYABLE
        logger.error("Deletion task not submitted: left open for a redelivery",
                     extra=_log_fields(source, request, outcome=FAILED, code=error.code, reason=error.message,
                                       failure=failure, api_request_id=error.request_id))
        # Free the record at once: the redelivery takes it over (and reconciles if it was sent).
        self._save(key, owner, {"lease_until_ms": "0"}, request, source)
        return Outcome(FAILED, source, request, api_request_id=error.request_id, code=error.code,
                       message=error.message, failure=failure)

    def _refused(self, request: DeletionRequest, source: Source, key: str, owner: str, error: CloudError) -> Outcome:
        """Refused for good: published (where no caller hears the answer) and never retried."""
        log = _log_fields(source, request, outcome=FAILED, code=error.code, reason=error.message,
                          failure=PERMANENT, api_request_id=error.request_id)
        logger.error("Deletion task not submitted", extra=log)
        notified = None
        if not source.caller_sees_answer:
            notified = self._notify(notifications.failed(request, error.code, error.message, error.request_id,
                                                         source, self._clock()), log)
        # A redelivered message stays refused, also one whose id does not come again (keyed by what
        # it asks): neither sent nor published twice. A webhook caller, who read the answer, asking
        # again later makes a new attempt (no task exists): its record is final only until this
        # invocation ends, which answers a copy of the request in the same batch without a call.
        if not source.caller_sees_answer:
            final, ttl_ms = notified is not False, self._retention.settled_ms(key)
        else:
            final, ttl_ms = True, self._p.deadline.lease_ms()
        self._save(key, owner, {
            "status": idempotency.FAILED, "code": error.code, "message": error.message, "attempted_at_ms": "0",
            "notified": str(int(bool(notified))), "final": str(int(final)), "lease_until_ms": "0"},
            request, source, ttl_ms=ttl_ms)
        return Outcome(FAILED, source, request, api_request_id=error.request_id, code=error.code,
                       message=error.message, failure=PERMANENT, notified=notified)

    def _reject(self, item: IncomingRequest, error: InvalidRequest) -> Outcome:
        log = _log_fields(item.source, None, outcome=REJECTED, code=error.code, reason=error.message)
        logger.warning("Request rejected", extra=log)
        if item.source.caller_sees_answer:
            return Outcome(REJECTED, item.source, code=error.code, message=error.message)
        # Published once, however often it is delivered again (by its delivery id, or by what it
        # carried when the id does not come again).
        key, owner = rejection_key(item.payload, error.code, item.source), self._new_owner()
        ttl_ms = self._retention.settled_ms(key)
        try:
            claim = self._p.store.acquire(key, owner, "rejected", self._lease_until_ms(), self._p.now_ms(), ttl_ms)
            if claim.record.final:
                return Outcome(REJECTED, item.source, code=error.code, message=error.message, notified=True,
                               replayed=True)
        except StoreError:
            key = None  # publishing a rejection twice beats not publishing it
        notified = self._notify(notifications.rejected(item.payload, error, item.source, self._clock()), log)
        if key is not None:
            try:
                self._p.store.update(key, owner, {"status": idempotency.REJECTED, "code": error.code,
                                                  "final": str(int(notified)), "lease_until_ms": "0"}, ttl_ms)
            except StoreError:
                pass
        return Outcome(REJECTED, item.source, code=error.code, message=error.message, notified=notified)

    def _replay(self, record: IdempotencyRecord, request: DeletionRequest, source: Source) -> Outcome:
        logger.info("Already done: answered from the idempotency record",
                    extra=_log_fields(source, request, task_no=record.task_no or None, status=record.status))
        if record.status == idempotency.PUBLISHED:
            return Outcome(SUBMITTED, source, request, task_no=record.task_no, api_request_id=record.api_request_id,
                           notified=True, replayed=True, adopted=record.adopted, joined=record.joined,
                           task_status=record.task_status, guard=Clearance.from_record(record.safety))
        if record.status == GUARDED:
            return self._guarded_outcome(request, source, Clearance.from_record(record.safety), record.notified,
                                         replayed=True)
        return Outcome(FAILED, source, request, code=record.code, message=record.message, failure=PERMANENT,
                       notified=record.notified, replayed=True)

    def _busy(self, request: DeletionRequest, source: Source) -> Outcome:
        return Outcome(FAILED, source, request, code="RequestInProgress",
                       message="The same request is being processed by another invocation", failure=RETRYABLE)

    # --- following the task to its end (follow_up.py) ---------------------------------------------

    def _watch(self, request: DeletionRequest, source: Source, task: Task, submitted_at: datetime,
               log: dict) -> Optional[bool]:
        """Schedule the task's first check: True when it is scheduled (by this request or, for a
        joined task, by the request that made it), False when that failed, None when watching is off."""
        if self._p.watcher is None:
            return None
        return self._p.watcher.start(request, source, task.task_no, task.task_status, submitted_at, log)

    @property
    def collaborators(self) -> Collaborators:
        """What this invocation's use case was given: the follow-up checks share it."""
        return self._p

    # --- time ---------------------------------------------------------------------------------

    def _lease_until_ms(self) -> int:
        return self._p.now_ms() + self._p.deadline.lease_ms()

    # --- the checks before a deletion (guard.py) ----------------------------------------------

    def _dry_run(self, request: DeletionRequest, source: Source) -> Outcome:
        """What the request would come to: validated, pre-checked and safety-checked, and nothing
        more (no idempotency record, no lock, no task, no notification)."""
        log = _log_fields(source, request, dry_run=True)
        guard = self._p.guard or Guard(None, None, None, clock=lambda: 0.0, precheck=False, safety_check=False)
        try:
            clearance = guard.evaluate(request, log, lambda domain, key_tags: pending_deletions(
                self._p, domain, key_tags, self._settle_seconds))
        except StoreError as error:  # the domain's pending deletions unread: the check cannot decide
            return self._dry_run_failed(request, source, log, _store_unavailable(error))
        except CloudError as error:  # QueryDSRecord failed: as a real request's read would
            return self._dry_run_failed(request, source, log, error)
        logger.info("Dry run answered", extra={**log, "code": clearance.code, "would_submit": clearance.allowed})
        return Outcome(DRY_RUN, source, request, code=clearance.code, message=clearance.message, guard=clearance)

    @staticmethod
    def _dry_run_failed(request: DeletionRequest, source: Source, log: dict, error: CloudError) -> Outcome:
        failure = RETRYABLE if isinstance(error, TRANSIENT) else PERMANENT
        logger.warning("Dry run not answered", extra={**log, "code": error.code, "reason": error.message})
        return Outcome(FAILED, source, request, api_request_id=error.request_id, code=error.code,
                       message=error.message, failure=failure)

    def _guarded_end(self, request: DeletionRequest, source: Source, key: str, owner: str,
                     clearance: Clearance) -> Outcome:
        """The checks stopped the request before any send. Unavailable: left open for a redelivery.
        Refused, or nothing to delete: final, published where no caller hears the answer, and kept
        like a refusal of the service (a redelivered message neither checks nor publishes again)."""
        if clearance.transient:
            self._save(key, owner, {"lease_until_ms": "0"}, request, source)
            return Outcome(FAILED, source, request, code=clearance.code, message=clearance.message,
                           failure=RETRYABLE, guard=clearance)
        if source.caller_sees_answer:  # read by its caller: final only for copies in this invocation
            notified, final, ttl_ms = None, True, self._p.deadline.lease_ms()
        else:  # published once, however often it is delivered again (as _refused keeps its refusals)
            event = notifications.already_absent if clearance.absent else notifications.refused
            notified = self._notify(event(request, clearance, source, self._clock()),
                                    _log_fields(source, request, code=clearance.code))
            final, ttl_ms = notified, self._retention.settled_ms(key)
        self._save(key, owner, {
            "status": GUARDED, "code": clearance.code, "message": clearance.message, "safety": clearance.to_record(),
            "notified": str(int(bool(notified))), "final": str(int(final)), "lease_until_ms": "0"},
            request, source, ttl_ms=ttl_ms)
        return self._guarded_outcome(request, source, clearance, notified)

    def _guarded_outcome(self, request: DeletionRequest, source: Source, clearance: Optional[Clearance],
                         notified: Optional[bool], replayed: bool = False) -> Outcome:
        if clearance is not None and clearance.absent:
            return Outcome(ALREADY_ABSENT, source, request, code=clearance.code, message=clearance.message,
                           notified=notified, replayed=replayed, guard=clearance)
        code, message = (clearance.code, clearance.message) if clearance else ("DeletionRefused", "")
        return Outcome(FAILED, source, request, code=code, message=message, failure=PERMANENT, notified=notified,
                       replayed=replayed, guard=clearance)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def _store_unavailable(error: StoreError) -> RetryableError:
    return RetryableError("StoreUnavailable", f"The idempotency store failed: {error}", service="Store",
                          action="IdempotencyRecord")


def _log_fields(source: Source, request: Optional[DeletionRequest], **fields: object) -> dict:
    base = {"correlation_id": source.id, "trigger": source.trigger}
    if request is not None:
        base.update(domain=request.domain_name, key_tag=request.key_tag)
    return {**base, **{key: value for key, value in fields.items() if value is not None}}
