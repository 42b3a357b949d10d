"""Following one task to its end: its notifications read from an inbox (inbox.py) and/or its
state asked of the webhook (GET /tasks/<TaskNo>), each event printed as it comes. Whichever
source tells the end first ends it: DSRecordDeletionCompleted (or a task that succeeded with its
KeyTag gone) is 0; DSRecordDeletionFailed, TimedOut, Refused, Rejected (or a task that failed)
are 1; --timeout with the task still pending is 3.

A request sent onto the queue has no TaskNo yet: its notifications are known by their Source Id,
the queue message's id, until its Submitted notification names the TaskNo."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from cloud.errors import CloudError
from deleter import notifications as events
from deleter.task_state import FAILURE, SUCCESS

from .errors import DONE, NOT_DONE, STILL_PENDING, Problem
from .inbox import Inbox, Notification
from .show import notification_line, task_line
from .webhook import Webhook, unsigned_refusal

NOT_FOUND_SECONDS = 60.0  # the service may not show a new task at once; longer, it has none


@dataclass(frozen=True)
class End:
    exit_code: int
    line: str


def end_of(body: dict) -> Optional[End]:
    """What a notification about the followed request says of its end (None: not the end)."""
    event, task = body.get("Event"), body.get("TaskNo")
    what = f"key tag {body.get('KeyTag')} of {body.get('DomainName')}"
    if event == events.COMPLETED:
        return End(DONE, f"{event}: the DS record with {what} is gone (TaskNo {task})")
    if event == events.FAILED:
        return End(NOT_DONE, f"{event} ({body.get('Code')}): {body.get('ErrorMsg') or body.get('Message')}"
                            f"{f' (TaskNo {task})' if task else ''}")
    if event == events.TIMED_OUT:
        return End(NOT_DONE, f"{event}: task {task} was still {body.get('LastTaskStatus') or 'not shown'} after "
                            f"{body.get('WatchedSeconds')} s of watching; ask GET /tasks/{task} or the console")
    if event in (events.REFUSED, events.REJECTED):
        return End(NOT_DONE, f"{event} ({body.get('Code')}): {body.get('Message')}")
    if event == events.ALREADY_ABSENT:
        return End(DONE, f"{event}: {body.get('Message')}")
    return None


class Follower:
    def __init__(self, *, task_no: Optional[str], message_ids: Sequence[str] = (), inbox: Optional[Inbox] = None,
                 webhook: Optional[Webhook] = None, poll_seconds: float = 5.0, timeout: float = 900.0,
                 out: Callable[[str], None], err: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._task_no = task_no
        self._message_ids = tuple(message_ids)
        self._inbox = inbox
        self._webhook = webhook
        self._poll_seconds = poll_seconds
        self._timeout = timeout
        self._out, self._err = out, err
        self._clock, self._sleep = clock, sleep
        self._seen_events: set = set()
        self._last_state: Optional[tuple] = None
        self._not_found_since: Optional[float] = None

    def run(self) -> int:
        self._announce()
        deadline = self._clock() + self._timeout
        next_poll = self._clock()
        while True:
            now = self._clock()
            if now >= deadline:
                return self._finish(self._still_pending())
            polling = self._webhook is not None and self._task_no is not None
            if polling and now >= next_poll:
                end = self._poll()
                next_poll = self._clock() + self._poll_seconds
                if end is not None:
                    return self._finish(end)
                continue
            until = min(deadline, next_poll) if polling else deadline
            if self._inbox is None or until - now < 1:  # nothing to read, or less than a receive's second
                self._sleep(until - now)
                continue
            end = self._read(int(until - now))
            if end is not None:
                return self._finish(end)

    # --- the inbox ------------------------------------------------------------------------------

    def _about(self, notification: Notification) -> bool:
        body = notification.body
        if self._task_no is not None and body.get("TaskNo") == self._task_no:
            return True
        source = body.get("Source") if isinstance(body.get("Source"), dict) else {}
        source_id = str(source.get("Id", ""))
        return any(source_id == sent or source_id.startswith(sent + "#") for sent in self._message_ids)

    def _read(self, wait: int) -> Optional[End]:
        try:
            notification = self._inbox.receive(wait)
        except CloudError as error:  # throttled, unavailable, an answer lost: read again
            self._err(f"follow: reading {self._inbox.queue}: {error}; reading again")
            self._sleep(1.0)
            return None
        if notification is None:
            return None
        if not self._about(notification):
            self._inbox.leave(notification)
            return None
        # Shown once: a message left in the queue comes back after its VisibilityTimeout, and a
        # notification may be published twice (its publish answer lost).
        once = (notification.event, notification.body.get("TaskNo"), str(notification.body.get("Source")))
        if once not in self._seen_events:
            self._seen_events.add(once)
            self._out(notification_line(notification.tag, notification.body))
        self._inbox.done(notification)
        if self._task_no is None and notification.event == events.SUBMITTED:
            self._task_no = str(notification.body.get("TaskNo"))
            self._err(f"follow: the request's task is {self._task_no}")
        return end_of(notification.body)

    # --- GET /tasks/<TaskNo> --------------------------------------------------------------------

    def _poll(self) -> Optional[End]:
        try:
            answer = self._webhook.task(self._task_no)
        except CloudError as error:
            if error.code == "ConnectionRefused":
                raise Problem(f"cannot reach the webhook: {error.message}") from None
            self._err(f"follow: GET /tasks/{self._task_no}: {error.code}: {error.message}; asking again")
            return None
        if answer.status == 401:
            raise unsigned_refusal()
        if answer.status == 400:
            raise Problem(f"the webhook refused GET /tasks/{self._task_no}: {answer.describe()}")
        if answer.status == 404:
            return self._not_found(answer)
        if answer.status != 200 or answer.body is None:
            self._err(f"follow: GET /tasks/{self._task_no} answered {answer.describe()}; asking again")
            return None
        self._not_found_since = None
        body = answer.body
        status, listed = body.get("TaskStatus"), body.get("KeyTagListed")
        if (status, listed) != self._last_state:
            self._last_state = (status, listed)
            self._out(task_line(body))
        if status == FAILURE:
            return End(NOT_DONE, f"task {self._task_no} failed at the registry ({FAILURE}): "
                                f"{body.get('ErrorMsg') or body.get('FailReason') or 'no ErrorMsg given'}")
        if status == SUCCESS and listed is not True:
            gone = ("the KeyTag is no longer listed" if listed is False
                    else "whether its KeyTag is still listed is not known here (KeyTagListed null)")
            return End(DONE, f"task {self._task_no} succeeded ({SUCCESS}); {gone}")
        return None  # pending, or succeeded with the KeyTag still listed (the list may lag)

    def _not_found(self, answer) -> Optional[End]:
        now = self._clock()
        if self._not_found_since is None:
            self._not_found_since = now
            self._err(f"follow: {answer.describe()}; asking again (a new task may not be shown at once)")
        elif now - self._not_found_since >= NOT_FOUND_SECONDS:
            return End(NOT_DONE, f"TaskNotFound: the account has shown no task {self._task_no} for "
                                f"{NOT_FOUND_SECONDS:g} s")
        return None

    # --- saying what it does --------------------------------------------------------------------

    def _announce(self) -> None:
        what = f"TaskNo {self._task_no}" if self._task_no else f"the request in message {', '.join(self._message_ids)}"
        how = []
        if self._inbox is not None:
            keep = ("deleting this task's messages once shown" if self._inbox.consume
                    else "deleting none")
            how.append(f"notifications from queue {self._inbox.queue} ({keep}; other messages are left as they are)")
        if self._webhook is not None:
            how.append(f"GET /tasks/<TaskNo> every {self._poll_seconds:g} s")
        self._err(f"follow: {what}: {' and '.join(how)}, for up to {self._timeout:g} s")

    def _still_pending(self) -> End:
        if self._task_no is None:
            return End(STILL_PENDING, f"no notification about message {', '.join(self._message_ids)} within "
                                      f"{self._timeout:g} s: is the request queue delivered to the function (its "
                                      "EventBridge trigger; make run does not deliver it) and the inbox subscribed "
                                      "to the notification topic?")
        last = f", last seen {self._last_state[0]}" if self._last_state else ""
        return End(STILL_PENDING, f"task {self._task_no} still pending after {self._timeout:g} s{last}: "
                                  f"follow it again later (follow {self._task_no})")

    def _finish(self, end: End) -> int:
        self._err(f"follow: {end.line}")
        if self._inbox is not None and self._inbox.left:
            self._err(f"follow: left {len(self._inbox.left)} message(s) of other tasks in {self._inbox.queue}, "
                      "visible again after its VisibilityTimeout")
        return end.exit_code
