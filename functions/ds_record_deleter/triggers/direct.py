"""Direct invocation (scripts, async invokes, and an MNS topic's raw STREAM body): the request
JSON itself, or an array of requests."""
from __future__ import annotations

from typing import Any, List

from deleter.deletion_request import InvalidRequest
from deleter.outcome import Outcome
from deleter.source import DIRECT, Source

from .common import Delivery, problem_item, requests_in, summary


def matches(event: Any) -> bool:
    return True  # the fallback: whatever no other trigger claims


def delivery(event: Any, context: Any) -> Delivery:
    source = Source(DIRECT, str(getattr(context, "request_id", "") or "-"))
    if isinstance(event, InvalidRequest):  # the event was not JSON at all
        return Delivery([problem_item(event, source)], correlation_id=source.id)
    if isinstance(event, list) and not event:
        problem = InvalidRequest("InvalidRequest", None, "The array of requests is empty")
        return Delivery([problem_item(problem, source)], correlation_id=source.id)
    return Delivery(requests_in(event, source), correlation_id=source.id, as_batch=isinstance(event, list))


def answer(outcomes: List[Outcome], delivered: Delivery) -> dict:
    return summary(outcomes)
