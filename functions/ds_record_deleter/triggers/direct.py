"""Direct invocation (scripts, async invokes, and an MNS topic's raw STREAM body): the request
JSON itself, or an array of requests."""
from __future__ import annotations

from typing import Any, List

from deleter.deletion_request import InvalidRequest
from deleter.outcome import Outcome
from deleter.source import DIRECT, Source

from .common import Delivery, TriggerOptions, check_depth, problem_item, requests_in, summary


def matches(event: Any) -> bool:
    return True  # the fallback: whatever no other trigger claims


def correlation_id(event: Any, context: Any) -> str:
    return str(getattr(context, "request_id", "") or "-")


def delivery(event: Any, context: Any, options: TriggerOptions) -> Delivery:
    source = Source(DIRECT, correlation_id(event, context))
    try:
        if isinstance(event, InvalidRequest):  # the event was not JSON at all
            raise event
        if isinstance(event, list) and not event:
            raise InvalidRequest("InvalidRequest", None, "The array of requests is empty")
        items = requests_in(check_depth(event, "The event"), source, options.max_batch)
    except InvalidRequest as problem:
        return Delivery([problem_item(problem, source)])
    return Delivery(items, as_batch=isinstance(event, list))


def answer(outcomes: List[Outcome], delivered: Delivery) -> dict:
    return summary(outcomes)
