"""Timer trigger: {"triggerTime", "triggerName", "payload": "<one request or an array, as JSON>"}."""
from __future__ import annotations

from typing import Any, List

from deleter.deletion_request import InvalidRequest
from deleter.outcome import Outcome
from deleter.source import TIMER, Source

from .common import Delivery, TriggerOptions, parse_json, problem_item, requests_in, summary


def matches(event: Any) -> bool:
    return isinstance(event, dict) and {"triggerTime", "triggerName"} <= event.keys()


def correlation_id(event: dict, context: Any) -> str:
    return f"{event.get('triggerName')}@{event.get('triggerTime')}"


def delivery(event: dict, context: Any, options: TriggerOptions) -> Delivery:
    source = Source(TIMER, correlation_id(event, context))
    payload = event.get("payload")
    try:
        if not payload:
            raise InvalidRequest("MissingParameter", "payload",
                                 "payload is required: the timer must carry a request or an array of them")
        items = requests_in(parse_json(payload, "The timer's payload"), source, options.max_batch)
    except InvalidRequest as problem:
        items = [problem_item(problem, source)]
    return Delivery(items)


def answer(outcomes: List[Outcome], delivered: Delivery) -> dict:
    return summary(outcomes)
