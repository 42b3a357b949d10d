"""One adapter per trigger: event -> Delivery of plain requests; outcomes -> the trigger's answer.

Each adapter module has matches(event) (but direct, the fallback), correlation_id(event, context) (read before anything can
fail, so that every log line of the invocation carries it), delivery(event, context, options) and
answer(outcomes, delivery).
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Tuple

from . import direct, http, mns_queue, mns_topic, timer
from deleter.deletion_request import InvalidRequest

from .common import parse_json

# Most specific first; direct invocation takes whatever none of them claims.
ADAPTERS = (http, mns_queue, mns_topic, timer)


def decode_event(event: Any) -> Any:
    """FC hands the event over as bytes; tests and local tools may pass str or objects."""
    if isinstance(event, (bytes, bytearray, str)):
        try:
            return parse_json(event, "The event")
        except InvalidRequest as problem:  # the direct adapter turns it into a rejected request
            return problem
    return event


def recognise(event: Any) -> Tuple[ModuleType, Any]:
    """The adapter for this event, and the event decoded."""
    decoded = decode_event(event)
    for adapter in ADAPTERS:
        if adapter.matches(decoded):
            return adapter, decoded
    return direct, decoded

