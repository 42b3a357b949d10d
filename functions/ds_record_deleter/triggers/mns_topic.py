"""MNS topic trigger. JSON format: {"TopicName", "Message", "MessageId", ...}. STREAM format:
the raw body (indistinguishable from a direct invocation, and handled as one) or, with message
attributes, {"body": "...", "attrs": {...}}."""
from __future__ import annotations

from typing import Any

from deleter.source import MNS_TOPIC, Source

from .common import Delivery, TriggerOptions, decode_message_body, requests_or_problem, summary_answer


def matches(event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    json_format = {"TopicName", "Message", "MessageId"} <= event.keys()
    stream_with_attributes = set(event) == {"body", "attrs"} and isinstance(event.get("attrs"), dict)
    return json_format or stream_with_attributes


def _message_id(event: dict) -> str:
    """The topic message's id (JSON format); a STREAM event carries none."""
    return str(event.get("MessageId") or "") if "Message" in event else ""


def correlation_id(event: dict, context: Any) -> str:
    return _message_id(event) or str(getattr(context, "request_id", "") or "-")


def delivery(event: dict, context: Any, options: TriggerOptions) -> Delivery:
    body = event.get("Message") if "Message" in event else event.get("body")
    # Without a message id, a redelivery is keyed like a direct invoke: by the request itself.
    source = Source(MNS_TOPIC, correlation_id(event, context), survives_redelivery=bool(_message_id(event)))
    return Delivery(requests_or_problem(lambda: decode_message_body(body), source, options.max_batch))


answer = summary_answer
