"""What arrived, and from where: the plain form every trigger adapter turns its event into."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .deletion_request import InvalidRequest

HTTP = "http"
MNS_QUEUE = "mns_queue"
MNS_TOPIC = "mns_topic"
TIMER = "timer"
DIRECT = "direct"


@dataclass(frozen=True)
class Source:
    trigger: str
    id: str  # the message id, the HTTP request id, or the invocation's request id
    # The id is the delivery's own (a queue's or topic's message id, a timer's name and time),
    # so a redelivery carries it again: it can key the request's idempotency record.
    survives_redelivery: bool = False
    # The delivery's own id (id without the "#<position>" that tells the items of an array apart):
    # items are keyed by it and by what they ask, never by their position.
    delivery_id: str = ""

    def __post_init__(self) -> None:
        if not self.delivery_id:
            object.__setattr__(self, "delivery_id", self.id)

    def item(self, position: int) -> "Source":
        """The source of the request at `position` of an array this delivery carried."""
        return Source(self.trigger, f"{self.id}#{position}", self.survives_redelivery, self.delivery_id)

    @property
    def caller_sees_answer(self) -> bool:
        """Only a webhook caller reliably reads the answer; a queue, topic or timer delivery
        (and an async direct invoke) leaves its result nowhere but the notification topic."""
        return self.trigger == HTTP

    def as_json(self) -> dict:
        return {"Trigger": self.trigger, "Id": self.id}


@dataclass(frozen=True)
class IncomingRequest:
    """One request as the trigger delivered it: a decoded JSON value, or why it could not be
    decoded (problem), plus the caller's address when the trigger knows it."""
    payload: Any
    source: Source
    client_ip: Optional[str] = None
    problem: Optional[InvalidRequest] = None
