"""The queue trigger's part in following tasks: a queue message is a watch message (a check of a
task, deleter/follow_up.py) or a deletion request; the body tells which. A watch message that
breaks a rule becomes an invalid item, published once as DSRecordDeletionRejected like any
invalid request: refused clearly, never a traceback, never mistaken for a request."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, List

from deleter.deletion_request import InvalidRequest
from deleter.follow_up import IncomingCheck
from deleter.source import Source
from deleter.watch_message import is_watch_message, parse_watch_message

from .common import problem_item, requests_in


def items_in(read: Callable[[], Any], source: Source, max_batch: int) -> List[Any]:
    """The check a message asks for, or the requests it carries (see common.requests_or_problem)."""
    try:
        value = read()
        if is_watch_message(value):
            return [IncomingCheck(parse_watch_message(value, datetime.now(timezone.utc)), source)]
    except InvalidRequest as problem:
        return [problem_item(problem, source)]
    return requests_in(value, source, max_batch)
