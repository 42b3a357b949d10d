"""The queue trigger's part in following tasks: a queue message is a watch message (a check of a
task, deleter/follow_up.py) or a deletion request; the body tells which. A watch message that
breaks a rule becomes an invalid item, published once as DSRecordDeletionRejected like any
invalid request: refused clearly, never a traceback, never mistaken for a request."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, List, Optional

from deleter.deletion_request import InvalidRequest
from deleter.follow_up import IncomingCheck
from deleter.source import Source
from deleter.watch_message import CODE as WATCH_CODE, is_watch_message, parse_watch_message

from .common import problem_item, requests_in


def items_in(read: Callable[[], Any], source: Source, max_batch: int, queue: Optional[str] = None,
             watch_queue: Optional[str] = None) -> List[Any]:
    """The check a message asks for, or the requests it carries (see common.requests_or_problem).
    A watch message is a check only from the watch queue: one sent to the request queue (anyone
    may ask for deletions there) could otherwise tell an end of a task it made up, with the
    task's real end then published no more (each end is published once per TaskNo)."""
    try:
        value = read()
        if is_watch_message(value):
            if watch_queue and queue and queue != watch_queue:
                raise InvalidRequest(WATCH_CODE, None, f"A watch message is a check only on the watch queue "
                                     f"({watch_queue}), not on {queue}")
            return [IncomingCheck(parse_watch_message(value, datetime.now(timezone.utc)), source)]
    except InvalidRequest as problem:
        return [problem_item(problem, source)]
    return requests_in(value, source, max_batch)
