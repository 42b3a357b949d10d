"""MNS state: topics, queues with their messages, and topic-to-queue subscriptions.

Not thread-safe by itself: the caller holds EmulatorState's lock (and waits on its Condition
for long polling). A message is visible when its visible_at has passed: sending with a delay
and receiving (for the queue's VisibilityTimeout) both push visible_at into the future.
"""
from __future__ import annotations

import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from cloud.mns import body_md5

from .errors import ApiError
from .mns_xml import render_xml

MAX_MESSAGE_BYTES = 65536
DEFAULT_PRIORITY = 8
QUEUE_ENDPOINT = re.compile(r"^acs:mns:([^:]+):([^:]+):queues/([^/]+)$")


def queue_not_exist() -> ApiError:
    return ApiError(404, "QueueNotExist", "The queue name you provided is not exist.")


def topic_not_exist() -> ApiError:
    return ApiError(404, "TopicNotExist", "The topic name you provided is not exist.")


@dataclass
class QueueMessage:
    message_id: str
    body: str
    priority: int
    enqueue_ms: int
    visible_at_ms: int
    first_dequeue_ms: int = 0
    dequeue_count: int = 0
    receipt_handle: Optional[str] = None  # the handle of the latest receive

    def received_view(self) -> Dict[str, Any]:
        return {
            "MessageId": self.message_id, "ReceiptHandle": self.receipt_handle,
            "MessageBodyMD5": body_md5(self.body), "MessageBody": self.body,
            "EnqueueTime": self.enqueue_ms, "NextVisibleTime": self.visible_at_ms,
            "FirstDequeueTime": self.first_dequeue_ms, "DequeueCount": self.dequeue_count,
            "Priority": self.priority,
        }


@dataclass
class Queue:
    name: str
    visibility_timeout: int = 30
    delay_seconds: int = 0
    polling_wait_seconds: int = 0
    maximum_message_size: int = MAX_MESSAGE_BYTES
    messages: List[QueueMessage] = field(default_factory=list)

    @classmethod
    def from_dict(cls, entry: Dict[str, Any]) -> "Queue":
        return cls(
            name=entry["QueueName"], visibility_timeout=int(entry.get("VisibilityTimeout", 30)),
            delay_seconds=int(entry.get("DelaySeconds", 0)),
            polling_wait_seconds=int(entry.get("PollingWaitSeconds", 0)),
            maximum_message_size=int(entry.get("MaximumMessageSize", MAX_MESSAGE_BYTES)),
        )


@dataclass
class Topic:
    name: str
    maximum_message_size: int = MAX_MESSAGE_BYTES
    # Every message published, with its tag, for the admin state (the queues only hold bodies).
    published: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class Subscription:
    topic_name: str
    name: str
    endpoint: str
    notify_content_format: str = "SIMPLIFIED"  # SIMPLIFIED (raw body), JSON or XML
    filter_tag: str = ""

    @classmethod
    def from_dict(cls, entry: Dict[str, Any]) -> "Subscription":
        return cls(entry["TopicName"], entry["SubscriptionName"], entry["Endpoint"],
                   entry.get("NotifyContentFormat", "SIMPLIFIED"), entry.get("FilterTag", ""))

    def as_dict(self) -> Dict[str, Any]:
        return {"TopicName": self.topic_name, "SubscriptionName": self.name, "Endpoint": self.endpoint,
                "NotifyContentFormat": self.notify_content_format, "FilterTag": self.filter_tag}


class MnsStore:
    def __init__(self, seed: Dict[str, Any], clock: Callable[[], float]) -> None:
        self.account_id = seed["account_id"]
        self.region = seed["region"]
        self._clock = clock
        self._seq = itertools.count(1)
        self.topics = {t["TopicName"]: Topic(t["TopicName"], int(t.get("MaximumMessageSize", MAX_MESSAGE_BYTES)))
                       for t in seed.get("topics", [])}
        self.queues = {q["QueueName"]: Queue.from_dict(q) for q in seed.get("queues", [])}
        self.subscriptions = [Subscription.from_dict(s) for s in seed.get("subscriptions", [])]

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _message_id(self) -> str:
        return f"{uuid.uuid4().hex[:16].upper()}-1-{self.now_ms():X}-{next(self._seq):09d}"

    def topic(self, name: str) -> Topic:
        if name not in self.topics:
            raise topic_not_exist()
        return self.topics[name]

    def queue(self, name: str) -> Queue:
        if name not in self.queues:
            raise queue_not_exist()
        return self.queues[name]

    # --- writing ---------------------------------------------------------------------------

    def send(self, queue_name: str, body: str, delay_seconds: Optional[int] = None,
             priority: int = DEFAULT_PRIORITY) -> QueueMessage:
        queue = self.queue(queue_name)
        now = self.now_ms()
        delay = queue.delay_seconds if delay_seconds is None else delay_seconds
        message = QueueMessage(self._message_id(), body, priority, now, now + delay * 1000)
        queue.messages.append(message)
        return message

    def publish(self, topic_name: str, body: str, tag: str = "") -> str:
        """Fan the message out to the topic's queue subscriptions; the topic's MessageId."""
        topic = self.topic(topic_name)
        message_id = self._message_id()
        topic.published.append({"MessageId": message_id, "MessageTag": tag, "MessageBody": body,
                                "PublishTime": self.now_ms()})
        for subscription in self.subscriptions:
            if subscription.topic_name != topic_name:
                continue
            if subscription.filter_tag and subscription.filter_tag != tag:
                continue
            queue_name = self._subscribed_queue(subscription)
            if queue_name in self.queues:  # a missing endpoint queue loses the notification
                self.send(queue_name, self._notification(subscription, message_id, body, tag))
        return message_id

    def _subscribed_queue(self, subscription: Subscription) -> Optional[str]:
        match = QUEUE_ENDPOINT.match(subscription.endpoint)
        if not match or (match.group(1), match.group(2)) != (self.region, self.account_id):
            return None
        return match.group(3)

    def _notification(self, subscription: Subscription, message_id: str, body: str, tag: str) -> str:
        if subscription.notify_content_format == "SIMPLIFIED":
            return body
        fields = {
            "TopicOwner": self.account_id, "TopicName": subscription.topic_name, "Subscriber": self.account_id,
            "SubscriptionName": subscription.name, "MessageId": message_id, "MessageMD5": body_md5(body),
            "Message": body, "PublishTime": self.now_ms(),
        }
        if tag:
            fields["MessageTag"] = tag
        if subscription.notify_content_format == "JSON":
            return json.dumps(fields, ensure_ascii=False)
        return render_xml("Notification", fields).decode("utf-8")

    # --- reading ---------------------------------------------------------------------------

    def receive(self, queue_name: str, count: int) -> List[QueueMessage]:
        """Up to count visible messages (highest priority, then oldest), now in flight."""
        queue = self.queue(queue_name)
        now = self.now_ms()
        visible = sorted((m for m in queue.messages if m.visible_at_ms <= now),
                         key=lambda m: (m.priority, m.enqueue_ms))
        chosen = visible[:count]
        for message in chosen:
            message.dequeue_count += 1
            message.first_dequeue_ms = message.first_dequeue_ms or now
            message.visible_at_ms = now + queue.visibility_timeout * 1000
            message.receipt_handle = f"{next(self._seq):X}-{uuid.uuid4().hex}"
        return chosen

    def seconds_until_visible(self, queue_name: str) -> Optional[float]:
        """How long until some message of the queue becomes visible (None: no message)."""
        queue = self.queue(queue_name)
        if not queue.messages:
            return None
        soonest = min(message.visible_at_ms for message in queue.messages)
        return max(0.0, (soonest - self.now_ms()) / 1000)

    def delete(self, queue_name: str, receipt_handle: str) -> None:
        """Only the latest handle of a message still in flight deletes it."""
        queue = self.queue(queue_name)
        now = self.now_ms()
        for message in queue.messages:
            if message.receipt_handle == receipt_handle and message.visible_at_ms > now:
                queue.messages.remove(message)
                return
        raise ApiError(400, "ReceiptHandleError", "The receipt handle you provide is not valid.")

    def snapshot(self) -> Dict[str, Any]:
        now = self.now_ms()

        def message_view(message: QueueMessage) -> Dict[str, Any]:
            state = "visible" if message.visible_at_ms <= now else ("inflight" if message.dequeue_count else "delayed")
            return {**message.received_view(), "State": state}

        return {
            "topics": [{"TopicName": t.name, "MaximumMessageSize": t.maximum_message_size, "Published": t.published}
                       for t in self.topics.values()],
            "queues": [
                {"QueueName": q.name, "VisibilityTimeout": q.visibility_timeout, "DelaySeconds": q.delay_seconds,
                 "PollingWaitSeconds": q.polling_wait_seconds, "MaximumMessageSize": q.maximum_message_size,
                 "Messages": [message_view(m) for m in q.messages]}
                for q in self.queues.values()
            ],
            "subscriptions": [s.as_dict() for s in self.subscriptions],
        }

