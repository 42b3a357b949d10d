"""Following a deletion task to its end, a use case beside the deletion: everyone is told how it
ended (DSRecordDeletionCompleted, DSRecordDeletionFailed or DSRecordDeletionTimedOut).

Once a request's TaskNo is published, the Watcher schedules a check: a watch message
(watch_message.py) sent to WATCH_QUEUE with DelaySeconds, which the queue's trigger delivers back
to this function. Each check asks the service (QueryTaskDetailList), then:

- WAITING_EXECUTE / EXECUTING (or a TaskNo the service does not show yet): the next check is
  scheduled, later each time (WATCH_FIRST_DELAY_SECONDS, doubled per check, at most 15 minutes);
- EXECUTE_SUCCESS: QueryDSRecord must no longer list the KeyTag, then Completed is published; a
  KeyTag still listed is checked again for STILL_LISTED_GRACE_SECONDS (the listing may lag the
  task), then published as Failed with Code KeyTagStillListed;
- EXECUTE_FAILURE: Failed with the service's ErrorMsg, TryCount and FailReason;
- still pending WATCH_MAX_SECONDS after watching began: TimedOut, with the last status seen.

The message carries all a check needs, so checks keep no state; the store only makes each effect
happen once (once.py): a task's end is published once (`watch:<TaskNo>|end`: one end per task,
whichever check decides it first) and each check is scheduled once (`watch:<TaskNo>#<Attempt>`),
however often a message is delivered again. The end told is noted (`task-ended:<TaskNo>`), so a
late copy of an earlier check neither tells a second end (a Completed after a KeyTagStillListed
or a TimedOut) nor starts the checks again: it answers the end told, without a call. The
per-attempt key is also why a joined request (the DS record's task is another request's) starts
no second chain of checks: its first check is the task's first check, already scheduled;
if that scheduling had failed, the joined request's schedules it. A task adopted or joined after
it ended is checked at once, so its end is told.

A check that cannot finish (a call throttled or refused for now, the store down, a publish or a
send that failed) is not settled: the invocation fails, and the queue trigger delivers the watch
message again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from cloud.errors import CloudError, OutcomeUnknownError, PermanentError, RetryableError

from . import notifications
from .deletion_request import DeletionRequest
from .idempotency import StoreError
from .log import logger
from .notifications import Notification
from .once import Busy, Once
from .source import Source
from .task_state import ENDED, FAILURE, STATUSES, SUCCESS, encode_note, key_tag_listed, note_name, read_task
from .watch_message import WatchMessage

MAX_DELAY_SECONDS = 15 * 60  # between two checks
# How long a task that succeeded may still show its KeyTag before that is told as a failure. The
# registry's DS list may lag the task's status (unverified); a quarter of an hour covers a lag.
STILL_LISTED_GRACE_SECONDS = 15 * 60

WATCHING, ENDED_NOW, UNWATCHED, NOT_CHECKED = "WATCHING", "ENDED", "UNWATCHED", "FAILED"


@dataclass(frozen=True)
class WatchSettings:
    queue: Optional[str]  # None: watching is off
    first_delay_seconds: int = 30
    max_seconds: int = 86400


def delay_before(attempt: int, first_delay_seconds: int) -> int:
    """Seconds before check `attempt` (1, 2, ...): the first delay, doubled per check, capped."""
    return min(MAX_DELAY_SECONDS, first_delay_seconds * 2 ** min(attempt - 1, 20))


@dataclass(frozen=True)
class IncomingCheck:
    """A watch message as the queue trigger delivered it."""
    message: WatchMessage
    source: Source  # the delivery's (the watch queue's message id); the request's is message.source


@dataclass(frozen=True)
class CheckOutcome:
    status: str  # WATCHING, ENDED, UNWATCHED, or FAILED (not settled: the message must come again)
    source: Source
    message: WatchMessage
    task_status: str = ""
    event: str = ""                    # ENDED: the notification published
    next_attempt: Optional[int] = None  # WATCHING: the check scheduled
    next_delay_seconds: Optional[int] = None
    replayed: bool = False             # the effect had been made by an earlier delivery
    code: Optional[str] = None         # FAILED: why
    reason: Optional[str] = None

    @property
    def settled(self) -> bool:
        return self.status != NOT_CHECKED


class Watcher:
    """Schedules checks: a task's first when its TaskNo is published, each next one from a check."""

    def __init__(self, send: Optional[Callable[[str, int], Any]], settings: WatchSettings, once: Once,
                 store: Any, retrier: Any, clock: Callable[[], datetime], note_ttl_ms: int) -> None:
        self._send = send  # (body, delay_seconds) -> SendMessage to WATCH_QUEUE; None: watching is off
        self.settings = settings
        self._once = once
        self._store = store
        self._retrier = retrier  # publishing's: a send may use the deadline's margin
        self._clock = clock
        self._note_ttl_ms = note_ttl_ms

    @property
    def on(self) -> bool:
        return self._send is not None

    def start(self, request: DeletionRequest, source: Source, task_no: str, task_status: str,
              submitted_at: datetime, log: dict) -> Optional[bool]:
        """Watch a task whose TaskNo was just published: True when its first check is scheduled
        (now or before), False when that failed (logged at ERROR with the TaskNo: the request's
        redelivery schedules it), None when watching is off."""
        self._note(task_no, request, log)
        if not self.on:
            return None
        now = self._clock()
        message = WatchMessage(task_no, request.domain_name, request.key_tag, source, 1, now, submitted_at,
                               last_task_status=task_status)
        first = min(delay_before(1, self.settings.first_delay_seconds), self.settings.max_seconds)
        delay = 0 if task_status in ENDED else first  # an ended task's end is told at once
        try:
            self.schedule(message, delay, log)
        except (CloudError, StoreError, Busy, ValueError) as error:
            logger.error("TaskNo published but its first check not scheduled: a redelivery schedules it",
                         extra={**log, "watch_error": str(error) or type(error).__name__})
            return False
        return True

    def schedule(self, message: WatchMessage, delay_seconds: int, log: dict) -> bool:
        """Send the watch message for its check, once per TaskNo and attempt; False when an
        earlier delivery had sent it. Raises what kept it from being sent."""
        body = message.encode()

        def send() -> None:
            self._retrier.call(lambda: self._send(body, delay_seconds),
                               retry_on=(RetryableError, OutcomeUnknownError), what="SendMessage")

        return self._once.run(f"watch:{message.task_no}#{message.attempt}", send, log)

    def _note(self, task_no: str, request: DeletionRequest, log: dict) -> None:
        """Which DS record the TaskNo is for (GET /tasks/<TaskNo> reads it); only that answer's
        KeyTagListed depends on it, so a failure is a warning."""
        try:
            self._store.set_marker(note_name(task_no), encode_note(request.domain_name, request.key_tag),
                                   self._note_ttl_ms)
        except StoreError as error:
            logger.warning("TaskNo's DS record not noted", extra={**log, "store_error": str(error)})


class FollowUpUseCase:
    def __init__(self, parts: Any, once: Once, clock: Callable[[], datetime]) -> None:
        self._p = parts  # deletion.Collaborators: the same ports, store, retriers and deadline
        self._watcher: Watcher = parts.watcher
        self._settings = self._watcher.settings
        self._once = once
        self._clock = clock

    def check(self, item: IncomingCheck) -> CheckOutcome:
        """Never raises: a defect leaves the message to be delivered again."""
        try:
            return self._check(item)
        except Exception as error:
            logger.exception("Unexpected error", extra=_log_fields(item))
            return CheckOutcome(NOT_CHECKED, item.source, item.message, code="UnexpectedError",
                                reason=type(error).__name__)

    def _check(self, item: IncomingCheck) -> CheckOutcome:
        message, log = item.message, _log_fields(item)
        try:
            told = self._p.store.marker(ended_name(message.task_no))
        except StoreError as error:
            return self._not_done("Task not checked: the watch message comes again", item, "", error, log)
        if told:
            logger.info("Task's end already published", extra={**log, "event": told})
            return CheckOutcome(ENDED_NOW, item.source, message, task_status=message.last_task_status, event=told,
                                replayed=True)
        try:
            state = read_task(self._p.domain_api, self._p.retrier, message.task_no, message.domain_name)
            listed = state is not None and state.status == SUCCESS and key_tag_listed(
                self._p.domain_api, self._p.retrier, message.domain_name, message.key_tag)
        except PermanentError as error:
            # Refused for good (the domain left the account, say): it tells nothing of the task,
            # and failing for ever would stop the queue's stream. Watched on to the bound.
            logger.error("Task check refused: watched on until WATCH_MAX_SECONDS", extra={
                **log, "code": error.code, "reason": error.message})
            state, listed = None, False
        except CloudError as error:
            if not self._out_of_time(self._clock() - message.watching_since):
                logger.warning("Task not checked: the watch message comes again", extra={
                    **log, "code": error.code, "reason": error.message})
                return CheckOutcome(NOT_CHECKED, item.source, message, code=error.code, reason=error.message)
            # Past the bound, a read that keeps failing (a permission removed for good) must not
            # hold the end back for ever: the last status seen is told.
            logger.warning("Task not checked at its bound: its last status is told", extra={
                **log, "code": error.code, "reason": error.message})
            state, listed = None, False
        status = state.status if state is not None else ""
        log["task_status"] = status or None
        logger.info("Task checked", extra=log)
        if status and status not in STATUSES:  # a status this function does not know: pending, as far as it can tell
            logger.warning("Unknown task status", extra=log)
            status = ""
        now = self._clock()
        watched = now - message.watching_since
        if status == FAILURE:
            return self._end(item, status, notifications.task_failed(
                message, "TaskFailed", state.error_msg or "The deletion task failed", now,
                error_msg=state.error_msg, try_count=state.try_count, fail_reason=state.fail_reason), log)
        if status == SUCCESS and not listed:
            return self._end(item, status, notifications.completed(message, now), log)
        if status == SUCCESS:
            since = message.still_listed_since or now
            if now - since >= timedelta(seconds=STILL_LISTED_GRACE_SECONDS) or self._out_of_time(watched):
                return self._end(item, status, notifications.task_failed(
                    message, "KeyTagStillListed", f"The deletion task succeeded, but KeyTag {message.key_tag} is "
                    f"still listed for {message.domain_name} {int((now - since).total_seconds())} s later", now), log)
            return self._next(item, status, watched, log, still_listed_since=since)
        if self._out_of_time(watched):
            return self._end(item, status, notifications.timed_out(
                message, status or message.last_task_status, int(watched.total_seconds()), now), log)
        return self._next(item, status, watched, log)

    def _out_of_time(self, watched: timedelta) -> bool:
        return watched.total_seconds() >= self._settings.max_seconds

    def _next(self, item: IncomingCheck, status: str, watched: timedelta, log: dict, **changes: Any) -> CheckOutcome:
        message = item.message
        if not self._watcher.on:  # WATCH_QUEUE was unset while this task was watched
            logger.warning("Watching is off (WATCH_QUEUE unset): the task is no longer watched", extra=log)
            return CheckOutcome(UNWATCHED, item.source, message, task_status=status)
        left = math.ceil(self._settings.max_seconds - watched.total_seconds())
        delay = max(0, min(delay_before(message.attempt + 1, self._settings.first_delay_seconds), left))
        following = message.next(last_task_status=status or message.last_task_status, **changes)
        try:
            made = self._watcher.schedule(following, delay, log)
        except (CloudError, StoreError, Busy, ValueError) as error:
            return self._not_done("Next check not scheduled: the watch message comes again", item, status, error, log)
        return CheckOutcome(WATCHING, item.source, message, task_status=status, next_attempt=following.attempt,
                            next_delay_seconds=delay, replayed=not made)

    def _end(self, item: IncomingCheck, status: str, notification: Notification, log: dict) -> CheckOutcome:
        """Publish how the task ended, once per TaskNo (whichever end was decided first), and note it."""
        def publish(decided: str) -> None:
            told = notifications.from_json(decided)
            self._p.publish_retrier.call(lambda: self._p.notifier.send(told),
                                         retry_on=(RetryableError, OutcomeUnknownError), what="PublishMessage")

        task_no, event = item.message.task_no, notification.event
        log, made = {**log, "event": event}, False
        try:
            # The end decided first stands: told again as it was, however the task stands now.
            made, decided = self._once.run_decided(f"watch:{task_no}|end", notification.to_json(), publish, log)
            event = notifications.from_json(decided).event
            self._p.store.set_marker(ended_name(task_no), event, self._once.settled_ttl_ms)
        except (CloudError, StoreError, Busy, ValueError) as error:
            if isinstance(error, StoreError) and made:  # told, not noted: only a late copy could tell it again
                logger.warning("Task's end published but not noted", extra={**log, "store_error": str(error)})
            else:
                return self._not_done("Task's end not published: the watch message comes again", item, status,
                                      error, log)
        logger.info("Task's end published" if made else "Task's end already published", extra={**log, "event": event})
        return CheckOutcome(ENDED_NOW, item.source, item.message, task_status=status, event=event, replayed=not made)

    @staticmethod
    def _not_done(what: str, item: IncomingCheck, status: str, error: Exception, log: dict) -> CheckOutcome:
        code = getattr(error, "code", None) or {Busy: "InProgress", StoreError: "StoreUnavailable"}.get(
            type(error), type(error).__name__)
        reason = getattr(error, "message", None) or str(error)
        logger.error(what, extra={**log, "code": code, "reason": reason})
        return CheckOutcome(NOT_CHECKED, item.source, item.message, task_status=status, code=code, reason=reason)


def ended_name(task_no: str) -> str:
    """The marker of the end told for a task (its notification's Event)."""
    return f"task-ended:{task_no}"


def _log_fields(item: IncomingCheck) -> dict:
    message = item.message
    return {"correlation_id": item.source.id, "trigger": item.source.trigger, "task_no": message.task_no,
            "domain": message.domain_name, "key_tag": message.key_tag, "attempt": message.attempt,
            "request_source": message.source.id}
