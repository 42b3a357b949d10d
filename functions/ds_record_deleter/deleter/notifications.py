"""Notification messages published to NOTIFY_TOPIC, one per outcome that someone must hear of.

Their shape is notification.schema.json beside this file (tests validate every message against
it). Each message's MessageTag names its event in at most 16 characters, so a subscription can
filter on it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from .deletion_request import DeletionRequest, InvalidRequest
from .source import Source

SUBMITTED = "DSRecordDeletionSubmitted"
REJECTED = "DSRecordDeletionRejected"
FAILED = "DSRecordDeletionFailed"
TAGS = {SUBMITTED: "DSDelSubmitted", REJECTED: "DSDelRejected", FAILED: "DSDelFailed"}
MAX_ECHOED_REQUEST_BYTES = 8 * 1024  # a rejected request is echoed back only when small


@dataclass(frozen=True)
class Notification:
    event: str
    body: dict

    @property
    def tag(self) -> str:
        return TAGS[self.event]

    def to_json(self) -> str:
        # ASCII with escapes: a lone surrogate or U+FFFE in an echoed request can neither break the
        # UTF-8 encoding nor the XML that carries the message (MNS refuses characters XML cannot).
        return json.dumps(self.body, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def from_json(text: str) -> Notification:
    """A notification from its published JSON (Notification.to_json)."""
    body = json.loads(text)
    return Notification(body["Event"], body)


def timestamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _request_fields(request: DeletionRequest) -> dict:
    return {"DomainName": request.domain_name, "KeyTag": request.key_tag}


def submitted(request: DeletionRequest, task_no: str, api_request_id: str, source: Source,
              at: datetime, adopted: bool = False, joined: bool = False, task_status: str = "") -> Notification:
    body = {"Event": SUBMITTED, "TaskNo": task_no, "RequestId": api_request_id, **_request_fields(request),
            "Source": source.as_json(), "SubmittedAt": timestamp(at)}
    if adopted:  # the call's answer was lost; the task was found by reconciliation
        body["Adopted"] = True
    if joined:  # another request's pending task for the same DS record: no new task was made
        body["Joined"] = True
    if task_status:  # as the service reported it when the task was adopted or joined
        body["TaskStatus"] = task_status
    return Notification(SUBMITTED, body)


def rejected(payload: Any, error: InvalidRequest, source: Source, at: datetime) -> Notification:
    body = {"Event": REJECTED, "Code": error.code, "Message": error.message, "Source": source.as_json(),
            "RejectedAt": timestamp(at)}
    if error.field:
        body["Field"] = error.field
    echoed = _echo(payload)
    if echoed is not None:
        body["Request"] = echoed
    return Notification(REJECTED, body)


def failed(request: DeletionRequest, code: str, message: str, api_request_id: Optional[str], source: Source,
           at: datetime) -> Notification:
    body = {"Event": FAILED, **_request_fields(request), "Code": code, "Message": message,
            "Source": source.as_json(), "FailedAt": timestamp(at)}
    if api_request_id:
        body["RequestId"] = api_request_id
    return Notification(FAILED, body)


def _echo(payload: Any) -> Any:
    """The rejected request as received, if it is JSON and small enough to carry along."""
    try:
        text = json.dumps(payload, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return payload if len(text) <= MAX_ECHOED_REQUEST_BYTES else None


class Notifier:
    """Publishes notifications to one topic through an MNS-like publish(topic, body, tag)."""

    def __init__(self, publish: Callable[[str, str, str], Any], topic: str) -> None:
        self._publish = publish
        self._topic = topic

    def send(self, notification: Notification) -> Any:
        return self._publish(self._topic, notification.to_json(), notification.tag)


# --- how a task ended, told by the follow-up checks (follow_up.py) ---------------------------------

COMPLETED = "DSRecordDeletionCompleted"
TIMED_OUT = "DSRecordDeletionTimedOut"
TAGS.update({COMPLETED: "DSDelCompleted", TIMED_OUT: "DSDelTimedOut"})


def _task_fields(watch: Any) -> dict:
    """The task and its request, from a watch message (watch_message.WatchMessage)."""
    return {"TaskNo": watch.task_no, "DomainName": watch.domain_name, "KeyTag": watch.key_tag,
            "Source": watch.source.as_json(), "SubmittedAt": timestamp(watch.submitted_at)}


def completed(watch: Any, at: datetime) -> Notification:
    """The task succeeded and the KeyTag is no longer listed."""
    return Notification(COMPLETED, {"Event": COMPLETED, **_task_fields(watch), "CompletedAt": timestamp(at)})


def task_failed(watch: Any, code: str, message: str, at: datetime, *, error_msg: Optional[str] = None,
                try_count: Optional[int] = None, fail_reason: Optional[str] = None) -> Notification:
    """The task failed (Code TaskFailed, the service's ErrorMsg, TryCount, FailReason when it gave
    them), or succeeded with its KeyTag still listed (Code KeyTagStillListed): the same event as a
    refusal at submission, so one subscription hears of every deletion that did not happen."""
    body = {"Event": FAILED, **_task_fields(watch), "Code": code, "Message": message, "FailedAt": timestamp(at)}
    optional = {"ErrorMsg": error_msg, "TryCount": try_count, "FailReason": fail_reason}
    body.update({name: value for name, value in optional.items() if value is not None})
    return Notification(FAILED, body)


def timed_out(watch: Any, last_task_status: str, watched_seconds: int, at: datetime) -> Notification:
    """Still pending WATCH_MAX_SECONDS after watching began (LastTaskStatus: the last status the
    service showed; absent when it never showed the task)."""
    body = {"Event": TIMED_OUT, **_task_fields(watch), "WatchedSeconds": watched_seconds, "TimedOutAt": timestamp(at)}
    if last_task_status:
        body["LastTaskStatus"] = last_task_status
    return Notification(TIMED_OUT, body)
# --- the checks before a deletion (guard.py) ----------------------------------------------------

REFUSED = "DSRecordDeletionRefused"
ALREADY_ABSENT = "DSRecordAlreadyAbsent"
TAGS.update({REFUSED: "DSDelRefused", ALREADY_ABSENT: "DSAlreadyAbsent"})
MAX_BODY_BYTES = 60 * 1024  # an MNS message is at most 64 KiB; a verdict of many servers is trimmed below it


def refused(request: DeletionRequest, clearance: Any, source: Source, at: datetime) -> Notification:
    """The DNSSEC safety check refused the deletion: no task was made."""
    body = {"Event": REFUSED, **_request_fields(request), "Code": clearance.code, "Message": clearance.message,
            **clearance.facts(), "Source": source.as_json(), "RefusedAt": timestamp(at)}
    return _fitted(Notification(REFUSED, body))


def already_absent(request: DeletionRequest, clearance: Any, source: Source, at: datetime) -> Notification:
    """The registry lists no DS record with the KeyTag: nothing to delete, no task was made."""
    body = {"Event": ALREADY_ABSENT, **_request_fields(request), "Message": clearance.message,
            **clearance.facts(), "Source": source.as_json(), "CheckedAt": timestamp(at)}
    return Notification(ALREADY_ABSENT, body)


def with_safety(notification: Notification, clearance: Any) -> Notification:
    """A Submitted notification with what the checks before its send found (SafetyCheck, the DS
    rows deleted, Forced with the verdict it overrode); unchanged when no check ran for it."""
    if clearance is None:
        return notification
    return _fitted(Notification(notification.event, {**notification.body, **clearance.facts()}))


def _fitted(notification: Notification) -> Notification:
    """The notification within MAX_BODY_BYTES: a verdict from many name servers first loses each
    server's row-by-row findings (the remaining rows still say where and why each fails), then the
    servers' list (the verdict's Message still names the servers it is about)."""
    verdict = notification.body.get("Verdict")
    if verdict is None or len(notification.to_json()) <= MAX_BODY_BYTES:
        return notification
    servers = [{key: server.get(key) for key in ("NameServer", "Address", "Error", "States")}
               for server in verdict.get("Servers", ())]
    for trimmed in ({**verdict, "Servers": servers}, {**verdict, "Servers": []}):
        fitted = Notification(notification.event, {**notification.body, "Verdict": trimmed})
        if len(fitted.to_json()) <= MAX_BODY_BYTES:
            break
    return fitted
