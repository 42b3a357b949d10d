"""The watch message: everything one check of a deletion task needs, carried from check to check
through the watch queue (WATCH_QUEUE), so that the checks keep no state of their own. Its shape
lives here only: encode() writes it, parse_watch_message() reads it back and refuses one that
breaks a rule with the field and the rule named (a truncated or hostile message never becomes
a traceback, nor a check of something it does not name).

    {"Type": "DSRecordDeletionWatch", "Version": 1, "TaskNo": "e893148f-...", "DomainName":
     "example.net", "KeyTag": 31589, "Source": {"Trigger": "http", "Id": "1-64f6cd87-..."},
     "Attempt": 1, "WatchingSince": "2026-12-04T10:00:00.000Z", "SubmittedAt": "2026-12-04T10:00:00.000Z",
     "LastTaskStatus": "EXECUTING", "StillListedSince": "2026-12-04T10:05:00.000Z"}

Source is the request's, whose notifications the checks publish. LastTaskStatus (the status the
previous check saw) and StillListedSince (when a check first saw the task succeeded with the
KeyTag still listed) are optional. A message of another Version is refused, not guessed at.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from .deletion_request import InvalidRequest, normalise_domain, parse_key_tag
from .notifications import timestamp
from .source import DIRECT, HTTP, MNS_QUEUE, MNS_TOPIC, TIMER, Source
from .task_state import STATUSES, parse_task_no

TYPE = "DSRecordDeletionWatch"
VERSION = 1
FIELDS = ("Type", "Version", "TaskNo", "DomainName", "KeyTag", "Source", "Attempt", "WatchingSince", "SubmittedAt",
          "LastTaskStatus", "StillListedSince")
OPTIONAL = ("LastTaskStatus", "StillListedSince")
TRIGGERS = (HTTP, MNS_QUEUE, MNS_TOPIC, TIMER, DIRECT)
MAX_ATTEMPT = 100_000  # a day of checks is about a hundred
MAX_SOURCE_ID = 512
CLOCK_SKEW = timedelta(minutes=5)  # a time later than now by more is not a time this function wrote
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CODE = "InvalidWatchMessage"


def is_watch_message(value: Any) -> bool:
    """Whether a queue message's body claims to be a watch message (it is then read as one, and
    refused as one if it breaks a rule, never taken for a deletion request)."""
    return isinstance(value, dict) and value.get("Type") == TYPE


@dataclass(frozen=True)
class WatchMessage:
    task_no: str
    domain_name: str
    key_tag: int
    source: Source  # the request's
    attempt: int
    watching_since: datetime
    submitted_at: datetime
    last_task_status: str = ""
    still_listed_since: Optional[datetime] = None

    def encode(self) -> str:
        body = {"Type": TYPE, "Version": VERSION, "TaskNo": self.task_no, "DomainName": self.domain_name,
                "KeyTag": self.key_tag, "Source": self.source.as_json(), "Attempt": self.attempt,
                "WatchingSince": timestamp(self.watching_since), "SubmittedAt": timestamp(self.submitted_at)}
        if self.last_task_status:
            body["LastTaskStatus"] = self.last_task_status
        if self.still_listed_since is not None:
            body["StillListedSince"] = timestamp(self.still_listed_since)
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"))

    def next(self, **changes: Any) -> "WatchMessage":
        """The message of the check after this one."""
        return replace(self, attempt=self.attempt + 1, **changes)


def _refused(field: Optional[str], rule: str) -> InvalidRequest:
    return InvalidRequest(CODE, field, f"{field} {rule}" if field else rule)


def _integer(raw: dict, field: str, low: int, high: int) -> int:
    value = raw.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refused(field, f"must be an integer from {low} to {high}")
    return value


def _time(raw: dict, field: str, now: datetime) -> datetime:
    value = raw.get(field)
    if not isinstance(value, str) or not TIMESTAMP.match(value):
        raise _refused(field, "must be a UTC time like 2026-12-04T10:00:00.000Z")
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise _refused(field, "must be a UTC time like 2026-12-04T10:00:00.000Z") from None
    if parsed > now + CLOCK_SKEW:
        raise _refused(field, "must not be in the future")
    return parsed


def _source(raw: dict) -> Source:
    value = raw.get("Source")
    rule = (f"must be {{\"Trigger\": one of {', '.join(TRIGGERS)}, \"Id\": 1 to {MAX_SOURCE_ID} characters}}")
    if not isinstance(value, dict) or set(value) != {"Trigger", "Id"} or value["Trigger"] not in TRIGGERS:
        raise _refused("Source", rule)
    if not isinstance(value["Id"], str) or not 1 <= len(value["Id"]) <= MAX_SOURCE_ID:
        raise _refused("Source", rule)
    return Source(value["Trigger"], value["Id"])


def parse_watch_message(raw: Any, now: datetime) -> WatchMessage:
    """The message, or InvalidRequest (Code InvalidWatchMessage) naming the field and the rule."""
    if not is_watch_message(raw):
        raise _refused("Type", f"must be {TYPE}")
    # The version first: another version's fields are its own.
    if "Version" not in raw:
        raise _refused("Version", "is required")
    if raw["Version"] != VERSION or isinstance(raw["Version"], bool):
        raise _refused("Version", f"must be {VERSION} (this function reads version {VERSION} only)")
    unknown = sorted(str(key) for key in raw if key not in FIELDS)
    if unknown:
        raise _refused(unknown[0][:80], f"is not a field of a watch message (allowed: {', '.join(FIELDS)})")
    missing = [field for field in FIELDS if field not in raw and field not in OPTIONAL]
    if missing:
        raise _refused(missing[0], "is required")
    try:
        task_no = parse_task_no(raw["TaskNo"], CODE)
        domain = normalise_domain(raw["DomainName"])
        key_tag = parse_key_tag(raw["KeyTag"])
    except InvalidRequest as error:  # the same rules as a request's, under the watch message's code
        raise InvalidRequest(CODE, error.field, error.message) from None
    last_status = raw.get("LastTaskStatus", "")
    if last_status not in STATUSES + ("",):
        raise _refused("LastTaskStatus", f"must be one of {', '.join(STATUSES)}")
    return WatchMessage(
        task_no=task_no, domain_name=domain, key_tag=key_tag, source=_source(raw),
        attempt=_integer(raw, "Attempt", 1, MAX_ATTEMPT), watching_since=_time(raw, "WatchingSince", now),
        submitted_at=_time(raw, "SubmittedAt", now), last_task_status=last_status,
        still_listed_since=_time(raw, "StillListedSince", now) if "StillListedSince" in raw else None,
    )
