"""A deletion task as the service reports it now: its QueryTaskDetailList detail, and whether its
DS record's KeyTag is still listed (QueryDSRecord). The follow-up checks (follow_up.py) and
GET /tasks/<TaskNo> (task_query.py) both read it here.

A TaskDetail names the domain but not the KeyTag, so when a TaskNo is published this function
notes which DS record it is for (`task-note:<TaskNo>`, the TaskNo's note), kept as long as a
record that may hold an unpublished TaskNo."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from .deletion_request import InvalidRequest
from .retry import Retrier

WAITING, EXECUTING, SUCCESS, FAILURE = "WAITING_EXECUTE", "EXECUTING", "EXECUTE_SUCCESS", "EXECUTE_FAILURE"
STATUSES = (WAITING, EXECUTING, SUCCESS, FAILURE)
ENDED = (SUCCESS, FAILURE)
# The documentation shows UUIDs (e893148f-6343-4ae1-9eba-6e2a4116e142); the rule leaves room
# for any other form of letters, digits and hyphens, and nothing a path or a log could misread.
TASK_NO = re.compile(r"^[A-Za-z0-9-]{1,64}$")
TASK_NO_RULE = "TaskNo must be 1 to 64 letters, digits or hyphens"


def parse_task_no(value: Any, code: str = "InvalidTaskNo") -> str:
    if not isinstance(value, str) or not TASK_NO.fullmatch(value):  # not match: $ passes a final newline
        raise InvalidRequest(code, "TaskNo", TASK_NO_RULE)
    return value


@dataclass(frozen=True)
class TaskState:
    task_no: str
    domain_name: str
    status: str  # one of STATUSES as the service names it (an unknown name is passed on as it is)
    status_code: Optional[int]
    create_time: str  # as the service gives it ("2018-01-25 20:46:57", no time zone)
    update_time: str
    error_msg: Optional[str]
    fail_reason: Optional[str]
    try_count: Optional[int]

    @property
    def ended(self) -> bool:
        return self.status in ENDED


def read_task(domain_api: Any, retrier: Retrier, task_no: str, domain: Optional[str] = None) -> Optional[TaskState]:
    """The task's detail (of `domain` when given), or None when the service does not know the
    TaskNo (for this domain). A deletion task made by SaveSingleTaskForDeletingDSRecord has one."""
    page = retrier.call(lambda: domain_api.query_task_details(task_no, domain=domain), what="QueryTaskDetailList")
    for detail in page.details:
        if detail.task_no == task_no and (domain is None or detail.domain_name == domain):
            return TaskState(task_no, detail.domain_name, detail.task_status,
                             detail.task_status_code if detail.task_status_code >= 0 else None,
                             detail.create_time, detail.update_time, detail.error_msg or None,
                             detail.fail_reason or None, _count(detail.try_count))
    return None


def _count(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def key_tag_listed(domain_api: Any, retrier: Retrier, domain: str, key_tag: int) -> bool:
    records = retrier.call(lambda: domain_api.query_ds_records(domain), what="QueryDSRecord").records
    return any(record.key_tag == key_tag for record in records)


# --- which DS record a TaskNo is for ------------------------------------------------------------

def note_name(task_no: str) -> str:
    return f"task-note:{task_no}"


def encode_note(domain: str, key_tag: int) -> str:
    return json.dumps([domain, key_tag])


def decode_note(text: Optional[str]) -> Optional[Tuple[str, int]]:
    """(DomainName, KeyTag), or None when there is no note or it cannot be read."""
    try:
        domain, key_tag = json.loads(text or "")
        return str(domain), int(key_tag)
    except (ValueError, TypeError):
        return None
