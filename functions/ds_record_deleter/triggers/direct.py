"""Direct invocation (scripts, async invokes, and an MNS topic's raw STREAM body): the request
JSON itself, or an array of requests."""
from __future__ import annotations

from typing import Any

from deleter.deletion_request import InvalidRequest
from deleter.source import DIRECT, Source

from .common import Delivery, TriggerOptions, check_depth, requests_or_problem, summary_answer


def correlation_id(event: Any, context: Any) -> str:
    return str(getattr(context, "request_id", "") or "-")


def delivery(event: Any, context: Any, options: TriggerOptions) -> Delivery:
    def read() -> Any:
        if isinstance(event, InvalidRequest):  # the event was not JSON at all
            raise event
        return check_depth(event, "The event")

    return Delivery(requests_or_problem(read, Source(DIRECT, correlation_id(event, context)), options.max_batch))


answer = summary_answer
