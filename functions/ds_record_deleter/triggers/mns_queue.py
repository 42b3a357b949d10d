"""MNS queue trigger, delivered by EventBridge: a list of CloudEvents, one per message (event
streaming), or one CloudEvent alone (event-driven mode). A message holds deletion requests, or
(from the watch queue) a watch message: a check of a task (watch.py).

The batch is retried whole when the invocation fails; there is no per-message failure report."""
from __future__ import annotations

from typing import Any, Optional

from deleter.source import MNS_QUEUE, Source

from . import watch
from .common import Delivery, TriggerOptions, decode_message_body, summary_answer


def _is_cloud_event(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("type", "")).startswith("mns:Queue")


def matches(event: Any) -> bool:
    return _is_cloud_event(event) or (isinstance(event, list) and bool(event) and all(map(_is_cloud_event, event)))


def _cloud_events(event: Any) -> list:
    """A lone CloudEvent is a batch of one: else it would be taken for a direct invocation, its
    request refused as a request with unknown fields, and a watch message's check lost."""
    return event if isinstance(event, list) else [event]


def _data(cloud_event: dict) -> dict:
    return cloud_event.get("data") if isinstance(cloud_event.get("data"), dict) else {}


def _source(cloud_event: dict, position: int) -> Source:
    """Where the message came from: its id, or (a message without one) its position, which a
    redelivery does not keep, so the request is then keyed by its content."""
    own_id = str(_data(cloud_event).get("messageId") or cloud_event.get("id") or "")
    return Source(MNS_QUEUE, own_id or f"message-{position}", survives_redelivery=bool(own_id))


def _queue(cloud_event: dict) -> Optional[str]:
    """The queue EventBridge read the message from ("acs:mns:<region>:<account>:queues/<name>");
    the envelope is EventBridge's, so a sender to the queue cannot change it."""
    _, found, name = str(cloud_event.get("subject") or "").rpartition(":queues/")
    return name if found and name else None


def correlation_id(event: Any, context: Any) -> str:
    """One message: its id; several: the invocation's request id."""
    events = _cloud_events(event)
    return _source(events[0], 0).id if len(events) == 1 else str(getattr(context, "request_id", "") or "-")


def delivery(event: Any, context: Any, options: TriggerOptions) -> Delivery:
    items = [item for position, cloud_event in enumerate(_cloud_events(event))
             for item in watch.items_in(lambda: decode_message_body(_data(cloud_event).get("messageBody")),
                                        _source(cloud_event, position),
                                        options.max_batch, _queue(cloud_event), options.watch_queue)]
    return Delivery(items)


answer = summary_answer
