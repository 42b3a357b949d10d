"""Submitting one deletion exactly once: join the DS record's pending task if it has one, else
send, retry what was not processed, reconcile what may have been, and only then send again.

One pending task per DS record: whichever request creates (or adopts) a task for a DS record
notes it as the record's task (`task-of:<domain>|<KeyTag>`, beside the domain's marker). A later
request for the same record, under any key and from any trigger, asks the service how that task
stands (QueryTaskDetailList by TaskNo) before it may send: still waiting or executing, it joins
it (same TaskNo, no call); succeeded, it is answered with it (unless the KeyTag is listed again,
which a new task must delete); failed or unknown to the service, it makes a new task.

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

Before its first send (after the DS record's task was looked up, so a request for a record whose
task succeeded is answered with that task, not as nothing to delete), the request passes the
checks it is given (guard.py: the pre-check and the DNSSEC safety check), under the same lock, so
no other request of the domain sends between the check and the send. What they found is noted
with the send, for whoever adopts its task later.

All of it runs under the domain's lock (one request of a domain at a time, across instances
when the store is shared). Before every send, the request also leaves a marker on its domain
(written ahead, so that a crash cannot skip it), kept until it has its task claimed or knows it
made none: the lock lasts one invocation, the marker outlives it. A task of the domain that
appears in the meantime may be this request's, so no other request for the domain may send, or
adopt it: the next one reconciles for the marked request first (claiming a task found for it),
then clears the marker and goes on. Without the marker, a request whose own call created nothing
could adopt the task of an earlier request that failed before it learnt its outcome.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Optional, Sequence, TypeVar

from cloud.errors import CloudError, DeferredError, OutcomeUnknownError, PermanentError, RetryableError

from . import idempotency
from .deletion_request import DeletionRequest
from .guard import Clearance
from .idempotency import IdempotencyRecord, StoreError
from .log import logger
from .task_state import FAILURE, SUCCESS, key_tag_listed, read_task

T = TypeVar("T")

ACTION = "SaveSingleTaskForDeletingDSRecord"
MAX_SUBMISSIONS = 5  # sends after reconciling "not created"; the deadline bounds them too
RESUBMIT_RESERVE_SECONDS = 1.0  # time a resubmission needs after a settle wait
LISTING_POLL_SECONDS = 0.5  # between looks for a task made moments ago that is not listed yet


@dataclass(frozen=True)
class UnsettledSend:
    """The domain's marker: a request whose send may have created a task nobody claimed yet."""
    key: str
    key_tag: int
    first_sent_ms: int
    last_sent_ms: int

    def encode(self) -> str:
        return json.dumps([self.key, self.key_tag, self.first_sent_ms, self.last_sent_ms])

    @classmethod
    def decode(cls, text: str) -> "UnsettledSend":
        key, key_tag, first_sent_ms, last_sent_ms = json.loads(text)
        return cls(str(key), int(key_tag), int(first_sent_ms), int(last_sent_ms))


@dataclass(frozen=True)
class RecordTask:
    """A DS record's task: the TaskNo this function created or adopted for it, for which request,
    and when it was noted (ms; 0 when unknown)."""
    task_no: str
    key: str
    noted_ms: int = 0

    def encode(self) -> str:
        return json.dumps([self.task_no, self.key, self.noted_ms])

    @classmethod
    def decode(cls, text: Optional[str]) -> Optional["RecordTask"]:
        try:
            task_no, key, *rest = json.loads(text or "")
            return cls(str(task_no), str(key), int(rest[0]) if rest else 0)
        except (ValueError, TypeError):
            return None  # none, or unreadable: it protects nothing

    def may_be_unlisted(self, now_ms: int, settle_seconds: float) -> bool:
        """Noted so lately that the service's task listings may not show it yet: the TaskNo was
        answered, and whether the listings lag behind that answer is unverified. The settle time
        bounds it, as it bounds how late the service may act on a send."""
        return now_ms - self.noted_ms < settle_seconds * 1000


def record_task_name(domain: str, key_tag: int) -> str:
    return f"task-of:{domain}|{key_tag}"


def pending_deletions(parts: Any, domain: str, key_tags: Sequence[int], settle_seconds: float) -> Dict[int, str]:
    """{KeyTag: TaskNo} of the domain's DS records (of key_tags) whose deletion task, made by this
    function, has not failed: still to act, done while the registry's list lags, or made so lately
    that the service does not list it yet. The safety check judges their rows as gone (guard.py).
    A StoreError or a CloudError says nothing: the check cannot decide without it."""
    going = {}
    for key_tag in key_tags:
        noted = RecordTask.decode(parts.store.marker(record_task_name(domain, key_tag)))
        if noted is None:
            continue
        state = look_up(lambda: read_task(parts.domain_api, parts.retrier, noted.task_no, domain))
        if state is None:  # unknown to the service: going only while it may not be listed yet
            if noted.may_be_unlisted(parts.now_ms(), settle_seconds):
                going[key_tag] = noted.task_no
        elif state.status != FAILURE:
            going[key_tag] = noted.task_no
    return going


@dataclass(frozen=True)
class Task:
    task_no: str
    api_request_id: str
    adopted: bool = False
    joined: bool = False
    task_status: str = ""  # as the service last reported it, when adopted or joined
    guard: Optional[Clearance] = None  # what the checks before this request's send found


class Submission:
    def __init__(self, parts, request: DeletionRequest, key: str, owner: str, record: IdempotencyRecord, *,
                 ttl_ms: int, settle_seconds: float, log: dict, guard: Any = None) -> None:
        self._p = parts
        self._request = request
        self._key = key
        self._owner = owner
        self._ttl_ms = ttl_ms
        self._settle_seconds = settle_seconds
        self._log = log
        self._first_sent_ms = record.attempted_at_ms
        self._last_sent_ms = record.sent_at_ms or record.attempted_at_ms
        self._marker_name = f"unsettled:{request.domain_name}"
        self._record_task_name = record_task_name(request.domain_name, request.key_tag)
        # Whether a send of this request may have made a task nobody has found yet, and whether
        # the task it ends with is claimed: the domain's marker stays while either is in doubt.
        self._may_have_task = bool(record.attempted_at_ms)
        self._claimed = False
        # The checks before a send (deleter/guard.py), and what they found for this request's sends
        # (an earlier delivery's, from its record, until this one checks again).
        self._guard = guard
        earlier = Clearance.from_record(record.safety)
        self._clearance = earlier if earlier is not None and earlier.allowed else None

    def run(self) -> Task:
        """The request's task, or a CloudError (PermanentError DSRecordAbsent included) or a
        StoreError before anything could be sent safely.

        All of it under the domain's lock: reconciliation needs the domain quiet. The domain's
        marker is cleared when the request ends knowing its task (or that it made none), and
        kept when it may have one."""
        lock = f"domain:{self._request.domain_name}"
        owner, store = self._owner, self._p.store
        if not self._p.deadline.poll(lambda: store.lock(lock, owner, self._p.deadline.lease_ms()), self._p.sleep):
            raise RetryableError("DomainBusy", f"Another request for {self._request.domain_name} is being submitted",
                                 service="Domain", action=ACTION)
        try:
            task = self._run_settled()
        finally:
            store_write(lambda: store.unlock(lock, owner), self._log)
        # A task of this request's own send carries what the checks before it found.
        return task if task.joined or self._clearance is None else replace(task, guard=self._clearance)

    def _run_settled(self) -> Task:
        self._settle_earlier_send()
        try:
            task = self._run()
        except PermanentError:
            self._clear_marker()
            raise
        except (CloudError, StoreError) as error:
            if not self._may_have_task:  # every send was refused unprocessed (throttled, say)
                self._clear_marker()
                self._forget_sends()
            elif not isinstance(error, OutcomeUnknownError):
                # Whatever stopped it (the deadline, a throttled query), a send's outcome is still
                # not known: that is what the request's answer says.
                raise OutcomeUnknownError(error.code if isinstance(error, CloudError) else "StoreUnavailable",
                                          f"{error.message if isinstance(error, CloudError) else error}; a send of "
                                          "this request may have created a task: a redelivery reconciles first",
                                          service="Domain", action=ACTION) from None
            raise
        if self._claimed:  # else the next request reconciles for it, and claims it for it
            self._clear_marker()
        return task

    def _run(self) -> Task:
        if self._first_sent_ms:  # an earlier delivery sent it and never learnt the outcome
            task = self._reconcile(answered=False)
            if task is not None:
                return task
        task = self._join()
        if task is not None:
            return task
        if self._guard is not None:  # pre-check and safety check: raises unless the send may go
            going = lambda domain, key_tags: pending_deletions(self._p, domain, key_tags,  # noqa: E731
                                                               self._settle_seconds)
            self._clearance = self._guard.clear(self._request, self._log, going)
        for _ in range(MAX_SUBMISSIONS):
            try:
                submitted = self._p.retrier.call(self._send, what=ACTION)
            except OutcomeUnknownError as error:
                logger.warning("Outcome unknown: reconciling before any resubmission",
                               extra={**self._log, "code": error.code})
                task = self._reconcile(answered=error.answered_by_service)
                if task is not None:
                    return task
                continue
            self._note(idempotency.SUBMITTED, submitted.task_no, submitted.request_id, adopted=False)
            return Task(submitted.task_no, submitted.request_id)
        raise OutcomeUnknownError("Unreconciled", f"{MAX_SUBMISSIONS} submissions ended unknown",
                                  service="Domain", action=ACTION)

    def _send(self):
        self._note_sending(self._p.now_ms())
        request = self._request
        try:
            return self._p.domain_api.save_deleting_ds_task(request.domain_name, request.key_tag, request.lang,
                                                            request.user_client_ip)
        except OutcomeUnknownError:
            self._may_have_task = True
            # The call left later than noted (a rate-limit wait, the connect): settling is
            # counted from now, which is certainly after the service received it.
            try:
                self._note_sending(self._p.now_ms())
            except StoreError as error:  # the earlier note stands; the outcome is what matters
                logger.warning("Send time not updated", extra={**self._log, "store_error": str(error)})
            raise

    def _join(self) -> Optional[Task]:
        """The DS record's task when it is still to be answered with (pending, or succeeded with
        the KeyTag gone); None when a new task must be made."""
        existing = RecordTask.decode(self._p.store.marker(self._record_task_name))
        if existing is None:
            return None
        request, log = self._request, {**self._log, "task_no": existing.task_no}

        def read() -> Any:
            return look_up(lambda: read_task(self._p.domain_api, self._p.retrier, existing.task_no,
                                             request.domain_name))

        state = read()
        while state is None and existing.may_be_unlisted(self._p.now_ms(), self._settle_seconds):
            # Made moments ago: not listed is not "unknown" yet. Look again, or leave the
            # request open; a second task would be the worse mistake.
            wait = min(LISTING_POLL_SECONDS, self._settle_wait(existing.noted_ms))
            if wait > self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS:
                raise RetryableError("TaskNotListedYet", f"The DS record's task {existing.task_no} was made moments "
                                     "ago and is not listed yet; asked again, this request joins it",
                                     service="Domain", action="QueryTaskDetailList")
            self._p.sleep(wait)
            state = read()
        status = state.status if state is not None else ""
        if status == FAILURE or not status:
            logger.info("The DS record's earlier task " + ("failed" if status else "is unknown to the service")
                        + ": a new task is made", extra={**log, "task_status": status or None})
            return None
        if status == SUCCESS and look_up(lambda: key_tag_listed(self._p.domain_api, self._p.retrier,
                                                                request.domain_name, request.key_tag)):
            logger.info("The DS record's earlier task succeeded, but the KeyTag is listed again: a new task is made",
                        extra=log)
            return None
        # Never this request's own send's task: reconciliation (which reads claims) found that
        # already. The same key can still come back: a request keyed by what it asks, asked again.
        logger.info("Joined the DS record's task", extra={**log, "task_status": status})
        self._note(idempotency.SUBMITTED, existing.task_no, "", adopted=False, joined=True, task_status=status)
        self._clear_marker()  # no send of this request is unsettled (reconciled above, or none)
        return Task(existing.task_no, "", joined=True, task_status=status)

    def _note_sending(self, now: int) -> None:
        """The record and the domain's marker say a task may exist, before the call can make one."""
        changes = {"sent_at_ms": str(now)}
        if self._clearance is not None:  # the send's own checks, for whoever adopts its task later
            changes["safety"] = self._clearance.to_record()
        if not self._first_sent_ms:
            changes["attempted_at_ms"] = str(now)
        if not self._p.store.update(self._key, self._owner, changes, self._ttl_ms):
            raise StoreError("the idempotency record is no longer held by this invocation")
        self._first_sent_ms = self._first_sent_ms or now
        self._last_sent_ms = now
        marker = UnsettledSend(self._key, self._request.key_tag, self._first_sent_ms, now).encode()
        self._p.store.set_marker(self._marker_name, marker, self._ttl_ms)

    def _forget_sends(self) -> None:
        """No send of this request can have made a task (each was refused unprocessed, or found by
        reconciliation to have made none): its redelivery need not reconcile, nor wait for a
        settle time, before sending."""
        if self._first_sent_ms:
            store_write(lambda: self._p.store.update(self._key, self._owner, {"attempted_at_ms": "0", "sent_at_ms": "0"},
                                                     self._ttl_ms), self._log)

    def _clear_marker(self) -> None:
        try:
            current = self._p.store.marker(self._marker_name)
            marked = _decoded(current)
            if marked is not None and marked.key == self._key:
                self._p.store.clear_marker(self._marker_name, current)
        except StoreError as error:  # a marker left behind only makes the next request reconcile
            logger.warning("Domain marker not cleared", extra={**self._log, "store_error": str(error)})

    def _settle_earlier_send(self) -> None:
        """Before this request may send or adopt: settle another request's send that may have
        created a task of this domain (its task, if found, is claimed for it)."""
        raw = self._p.store.marker(self._marker_name)
        if raw is None:
            return
        earlier = _decoded(raw)
        if earlier is None:
            self._p.store.clear_marker(self._marker_name, raw)  # unreadable: it protects nothing
            return
        if earlier.key == self._key and self._first_sent_ms:
            return  # its own send, which its record knows of: _run reconciles it
        self._wait_to_settle(earlier.last_sent_ms, RetryableError(
            "DomainUnsettled", "An earlier request's deletion for this domain may still be acted on; this request "
            "waits for it", service="Domain", action=ACTION))
        domain = self._request.domain_name
        try:
            found = self._p.reconciler.reconcile(domain, earlier.key_tag, earlier.key, earlier.first_sent_ms)
        except CloudError as error:  # about the earlier request, not this one: try again later
            raise RetryableError("DomainUnsettled", f"Reconciling an earlier request for this domain failed "
                                 f"({error.code})", service="Domain", action=ACTION) from None
        if found.task_no:
            # Its own redelivery adopts it (the claim names it); until then, this line records it.
            # Already claimed: the request had its task, only its marker was left behind.
            log = logger.info if found.claimed_before else logger.error
            log("Task of an earlier request found" + ("" if found.claimed_before else " and claimed for it"), extra={
                **self._log, "task_no": found.task_no, "for_idempotency_key": earlier.key,
                "for_key_tag": earlier.key_tag})
            # Noted as its DS record's task (its own note may not have been written): a request for
            # the same record joins it instead of sending.
            self._p.store.set_marker(record_task_name(domain, earlier.key_tag),
                                     RecordTask(found.task_no, earlier.key, self._p.now_ms()).encode(), self._ttl_ms)
        self._p.store.clear_marker(self._marker_name, raw)

    def _reconcile(self, answered: bool) -> Optional[Task]:
        """The adopted task, or None when sending again is safe."""
        request = self._request
        try:
            found = self._p.reconciler.reconcile(request.domain_name, request.key_tag, self._key,
                                                 self._first_sent_ms)
        except CloudError as error:
            if isinstance(error, (RetryableError, OutcomeUnknownError)):
                raise
            # A refused query (a missing permission, an expired token) says nothing about the
            # task that may exist: the request stays unsettled for a redelivery, never refused.
            raise OutcomeUnknownError("ReconcileFailed", f"Reconciliation was refused ({error.code}: "
                                      f"{error.message})", service="Domain", action=error.action,
                                      request_id=error.request_id) from None
        if found.task_no:
            logger.info("Task adopted by reconciliation", extra={**self._log, "task_no": found.task_no,
                                                                 "task_status": found.task_status or None})
            self._note(idempotency.SUBMITTED, found.task_no, "", adopted=True, task_status=found.task_status)
            return Task(found.task_no, "", adopted=True, task_status=found.task_status)
        if not found.key_tag_listed:
            raise PermanentError("DSRecordAbsent",
                                 f"KeyTag {request.key_tag} is no longer listed for {request.domain_name} and no "
                                 "deletion task since the first attempt was found; nothing was submitted again",
                                 service="Domain", action="QueryDSRecord")
        if answered or self._settle_wait(self._last_sent_ms) <= 0:
            self._may_have_task = False  # the service is done with every send: none made a task
            return None
        self._wait_to_settle(self._last_sent_ms, OutcomeUnknownError(
            "Unsettled", "The service may still act on the last send; a redelivery will reconcile again before "
            "sending", service="Domain", action=ACTION))
        return self._reconcile(answered=True)

    def _settle_wait(self, last_sent_ms: int) -> float:
        """Seconds until the service can no longer act on a send made at last_sent_ms."""
        return self._settle_seconds - (self._p.now_ms() - last_sent_ms) / 1000

    def _wait_to_settle(self, last_sent_ms: int, too_late: CloudError) -> None:
        """Sleep until a send has settled, or raise too_late if that leaves no time to act."""
        wait = self._settle_wait(last_sent_ms)
        if wait <= 0:
            return
        if wait > self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS:
            raise too_late
        self._p.sleep(wait)

    def _note(self, status: str, task_no: str, api_request_id: str, adopted: bool, joined: bool = False,
              task_status: str = "") -> None:
        """The TaskNo is claimed for the request and noted as its DS record's task, then goes into
        its record. A store failure here must not lose it: it is logged at ERROR with the TaskNo,
        and the request goes on to publish. The claim and the note come first, each on its own:
        while a task is unclaimed, another request's reconciliation could take it, and while it is
        not noted, another request for the record would not join it; the domain's marker stays up
        until both are written (the next request then writes them for it). A joined task is
        another request's: it is neither claimed nor noted again."""
        log = {**self._log, "task_no": task_no}
        if not joined:
            claimed = store_write(lambda: self._p.store.claim_task(task_no, self._key, self._ttl_ms), log)
            note = RecordTask(task_no, self._key, self._p.now_ms()).encode()
            noted = claimed and store_write(lambda: self._p.store.set_marker(
                self._record_task_name, note, self._ttl_ms) or True, log)
            self._claimed = bool(noted)
        changes = {"status": status, "task_no": task_no, "api_request_id": api_request_id,
                   "adopted": str(int(adopted)), "joined": str(int(joined)), "task_status": task_status}
        if store_write(lambda: self._p.store.update(self._key, self._owner, changes, self._ttl_ms), log) is False:
            # The lease lapsed (an invocation that overran): the claim still ties the task to the
            # request, so its next delivery adopts it instead of sending again.
            logger.error("Idempotency record no longer held", extra=log)


def look_up(read: Callable[[], T]) -> T:
    """A read (retried) the decision to send depends on. Refused (a permission, a parameter the
    service does not take), it says nothing about the DS record: the request stays open, never fails."""
    try:
        return read()
    except PermanentError as error:
        raise DeferredError(error.code, f"Looking up the DS record's task was refused ({error.message})",
                            service=error.service, action=error.action, request_id=error.request_id) from None


def store_write(step: Callable[[], T], log: dict) -> Optional[T]:
    """A store write that must not stop the request (a task may exist): its answer, or None
    when the store failed, logged at ERROR with log's fields (the TaskNo, when there is one)."""
    try:
        return step()
    except StoreError as error:
        logger.error("Idempotency store failed", extra={**log, "store_error": str(error)})
        return None


def _decoded(raw: Optional[str]) -> Optional[UnsettledSend]:
    """The marker, or None when there is none or it cannot be read."""
    if raw is None:
        return None
    try:
        return UnsettledSend.decode(raw)
    except (ValueError, TypeError, OverflowError):
        return None
