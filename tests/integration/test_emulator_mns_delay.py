"""Queue SendMessage's DelaySeconds (0..604800, overriding the queue's default): a delayed
message is invisible to ReceiveMessage until its delay has passed. Proved through the
function's own MnsClient and through the official aliyun-mns-sdk."""
from __future__ import annotations

import time

import pytest
import requests
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message

from cloud.credentials import Credentials
from cloud.http import new_session
from cloud.mns import MnsClient
from local.emulator import Emulator, raw_client

FOLLOWUP = "ds-record-deleter-followup"
WEEK = 604800


def our_client(emulator) -> MnsClient:
    c = emulator.sts_credentials
    return MnsClient(new_session(2), Credentials(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"]),
                     emulator.url)


def sdk_queue(emulator, name=FOLLOWUP):
    c = emulator.sts_credentials
    queue = Account(emulator.url, c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"]).get_queue(name)
    queue.set_encoding(False)
    return queue


def queued(emulator, name=FOLLOWUP):
    return next(q["Messages"] for q in emulator.snapshot()["queues"] if q["QueueName"] == name)


def test_our_client_sends_a_message_that_appears_only_after_its_delay(emulator):
    client = our_client(emulator)
    sent = client.send(FOLLOWUP, "in a second", delay_seconds=1)
    sent_at = time.monotonic()
    assert client.receive(FOLLOWUP, wait_seconds=0) is None
    [message] = queued(emulator)
    assert (message["MessageId"], message["State"]) == (sent.message_id, "delayed")

    received = client.receive(FOLLOWUP, wait_seconds=5)  # a long poll that wakes when the delay ends

    assert received.body == "in a second" and time.monotonic() - sent_at >= 0.9
    client.delete(FOLLOWUP, received.receipt_handle)


def test_the_sdk_sends_with_a_delay_and_receives_after_it(emulator):
    queue = sdk_queue(emulator)
    queue.send_message(Message("later", delay_seconds=1))
    sent_at = time.monotonic()
    with pytest.raises(MNSServerException) as nothing_yet:
        queue.receive_message(0)
    assert nothing_yet.value.type == "MessageNotExist"
    assert queue.receive_message(5).message_body == "later" and time.monotonic() - sent_at >= 0.9


def test_the_longest_delay_is_a_week_and_one_second_more_is_invalid(emulator):
    queue = sdk_queue(emulator)
    queue.send_message(Message("next week", delay_seconds=WEEK))
    [message] = queued(emulator)
    assert message["State"] == "delayed"
    assert message["NextVisibleTime"] - message["EnqueueTime"] == WEEK * 1000

    with pytest.raises(MNSServerException) as caught:  # the SDK checks only for negatives: the service refuses
        queue.send_message(Message("too late", delay_seconds=WEEK + 1))
    assert caught.value.type == "InvalidArgument" and "604800" in caught.value.message
    assert len(queued(emulator)) == 1


@pytest.mark.parametrize("delay", ["-1", "1.5", "soon"])
def test_a_delay_that_is_not_a_whole_number_of_seconds_in_range_is_invalid(emulator, delay):
    body = raw_client.message_xml("x", DelaySeconds=delay)
    with requests.Session() as session:
        response = session.send(raw_client.mns_request(emulator.url, emulator.access_key, "POST",
                                                       f"/queues/{FOLLOWUP}/messages", body), timeout=10)
    assert response.status_code == 400 and "<Code>InvalidArgument</Code>" in response.text
    assert queued(emulator) == []


def test_a_message_delay_overrides_the_queues_default():
    seed = {"queues": [{"QueueName": "slow", "DelaySeconds": 60}]}
    with Emulator(seed=seed) as emulator:
        client = our_client(emulator)
        client.send("slow", "default delay")
        client.send("slow", "no delay", delay_seconds=0)
        assert client.receive("slow").body == "no delay"
        assert client.receive("slow") is None
        assert [m["State"] for m in queued(emulator, "slow")] == ["delayed", "inflight"]
