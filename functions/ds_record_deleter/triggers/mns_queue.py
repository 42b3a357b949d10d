"""MNS queue trigger, delivered by EventBridge: a list of CloudEvents, one per message.

The batch is retried whole when the invocation fails; there is no per-message failure report."""
from __future__ import annotations

from typing import Any, List

from deleter.deletion_request import InvalidRequest
from deleter.outcome import Outcome
from deleter.source import MNS_QUEUE, IncomingRequest, Source

from .common import Delivery, TriggerOptions, decode_message_body, problem_item, requests_in, summary


def matches(event: Any) -> bool:
    return (isinstance(event, list) and bool(event)
            and all(isinstance(item, dict) and str(item.get("type", "")).startswith("mns:Queue") for item in event))


def _data(cloud_event: dict) -> dict:
    return cloud_event.get("data") if isinstance(cloud_event.get("data"), dict) else {}


def _message_id(cloud_event: dict, position: int) -> str:
    return str(_data(cloud_event).get("messageId") or cloud_event.get("id") or "") or f"message-{position}"


def correlation_id(event: list, context: Any) -> str:
    """One message: its id; several: the invocation's request id."""
    return _message_id(event[0], 0) if len(event) == 1 else str(getattr(context, "request_id", "") or "-")


def _requests_of(cloud_event: dict, position: int, options: TriggerOptions) -> List[IncomingRequest]:
    data = _data(cloud_event)
    source = Source(MNS_QUEUE, _message_id(cloud_event, position))
    try:
        return requests_in(decode_message_body(data.get("messageBody")), source, options.max_batch)
    except InvalidRequest as problem:
        return [problem_item(problem, source)]


def delivery(event: list, context: Any, options: TriggerOptions) -> Delivery:
    items = [item for position, cloud_event in enumerate(event) for item in _requests_of(cloud_event, position, options)]
    return Delivery(items)


def answer(outcomes: List[Outcome], delivered: Delivery) -> dict:
    return summary(outcomes)
