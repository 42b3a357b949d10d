"""Timer trigger: {"triggerTime", "triggerName", "payload": "<one request or an array, as JSON>"}."""
from __future__ import annotations

from typing import Any

from deleter.deletion_request import InvalidRequest
from deleter.source import TIMER, Source

from .common import Delivery, TriggerOptions, parse_json, requests_or_problem, summary_answer


def matches(event: Any) -> bool:
    return isinstance(event, dict) and {"triggerTime", "triggerName"} <= event.keys()


def correlation_id(event: dict, context: Any) -> str:
    return f"{event.get('triggerName')}@{event.get('triggerTime')}"


def delivery(event: dict, context: Any, options: TriggerOptions) -> Delivery:
    def read() -> Any:
        payload = event.get("payload")
        if not payload:
            raise InvalidRequest("MissingParameter", "payload",
                                 "payload is required: the timer must carry a request or an array of them")
        return parse_json(payload, "The timer's payload")

    return Delivery(requests_or_problem(read, Source(TIMER, correlation_id(event, context), survives_redelivery=True), options.max_batch))


answer = summary_answer
