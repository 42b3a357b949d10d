"""Queue visibility, receipt handles and topic fan-out, on a clock the test controls."""
from __future__ import annotations

import json

import pytest

from local.emulator.errors import ApiError
from local.emulator.mns_state import MnsStore, body_md5

ACCOUNT, REGION = "1234567890123456", "cn-hangzhou"


class FakeClock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def endpoint(queue):
    return f"acs:mns:{REGION}:{ACCOUNT}:queues/{queue}"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store(clock):
    seed = {
        "account_id": ACCOUNT, "region": REGION,
        "topics": [{"TopicName": "t"}],
        "queues": [{"QueueName": "plain", "VisibilityTimeout": 10}, {"QueueName": "tagged"}, {"QueueName": "json"}],
        "subscriptions": [
            {"TopicName": "t", "SubscriptionName": "s1", "Endpoint": endpoint("plain")},
            {"TopicName": "t", "SubscriptionName": "s2", "Endpoint": endpoint("tagged"), "FilterTag": "keep"},
            {"TopicName": "t", "SubscriptionName": "s3", "Endpoint": endpoint("json"), "NotifyContentFormat": "JSON"},
            {"TopicName": "t", "SubscriptionName": "lost", "Endpoint": endpoint("missing")},
            {"TopicName": "t", "SubscriptionName": "other", "Endpoint": f"acs:mns:{REGION}:999:queues/plain"},
        ],
    }
    return MnsStore(seed, clock)


def bodies(store, queue):
    return [m.body for m in store.queue(queue).messages]


def test_fan_out_honours_filter_tags_formats_and_endpoints(store):
    message_id = store.publish("t", "hello", "drop")
    assert bodies(store, "plain") == ["hello"]  # not twice: the other account's endpoint is ignored
    assert bodies(store, "tagged") == []
    notification = json.loads(bodies(store, "json")[0])
    assert notification["Message"] == "hello" and notification["MessageId"] == message_id
    assert notification["MessageMD5"] == body_md5("hello") and notification["MessageTag"] == "drop"
    assert (notification["TopicName"], notification["SubscriptionName"], notification["TopicOwner"]) == ("t", "s3", ACCOUNT)
    store.publish("t", "kept", "keep")
    assert bodies(store, "tagged") == ["kept"]


def test_a_delayed_message_appears_after_its_delay(store, clock):
    store.send("plain", "later", delay_seconds=5)
    assert store.receive("plain", 1) == []
    assert store.seconds_until_visible("plain") == pytest.approx(5)
    clock.now += 5
    assert [m.body for m in store.receive("plain", 1)] == ["later"]


def test_a_received_message_returns_after_the_visibility_timeout_with_a_new_handle(store, clock):
    store.send("plain", "m")
    [first] = store.receive("plain", 1)
    first_handle = first.receipt_handle
    assert first.visible_at_ms == int(clock.now * 1000) + 10_000
    assert store.receive("plain", 1) == []
    clock.now += 10
    [again] = store.receive("plain", 1)
    assert again.dequeue_count == 2 and again.receipt_handle != first_handle
    assert again.first_dequeue_ms == int((clock.now - 10) * 1000)
    with pytest.raises(ApiError) as caught:
        store.delete("plain", first_handle)
    assert caught.value.code == "ReceiptHandleError"
    store.delete("plain", again.receipt_handle)
    assert store.queue("plain").messages == []


def test_a_handle_is_stale_once_the_message_is_visible_again(store, clock):
    store.send("plain", "m")
    [message] = store.receive("plain", 1)
    clock.now += 11
    with pytest.raises(ApiError):
        store.delete("plain", message.receipt_handle)


def test_higher_priority_first_then_oldest(store, clock):
    store.send("plain", "low", priority=16)
    clock.now += 1
    store.send("plain", "high-old", priority=1)
    clock.now += 1
    store.send("plain", "high-new", priority=1)
    assert [m.body for m in store.receive("plain", 3)] == ["high-old", "high-new", "low"]


def test_unknown_names(store):
    with pytest.raises(ApiError) as topic:
        store.publish("nope", "x")
    with pytest.raises(ApiError) as queue:
        store.send("nope", "x")
    assert (topic.value.code, topic.value.status, queue.value.code, queue.value.status) == (
        "TopicNotExist", 404, "QueueNotExist", 404)


def test_the_received_view_has_every_field_the_sdk_requires(store):
    store.send("plain", "m")
    [message] = store.receive("plain", 1)
    assert set(message.received_view()) == {
        "MessageId", "ReceiptHandle", "MessageBodyMD5", "MessageBody", "EnqueueTime", "NextVisibleTime",
        "FirstDequeueTime", "DequeueCount", "Priority"}
