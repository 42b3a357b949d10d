"""`make run`'s stand-in for the EventBridge queue trigger (local/queue_trigger.py), on an
embedded emulator: each message reaches the function as a CloudEvent, and only a message whose
invocation succeeded is deleted; a failed one comes back after the queue's visibility timeout."""
from __future__ import annotations

import json
import threading
import time

from cloud.credentials import Credentials
from cloud.http import new_session
from cloud.mns import MnsClient
from local.emulator.seed import load_seed
from local.queue_trigger import deliver_queue
from local.runtime import seed_with_queue, start_local_cloud
from triggers.common import RedeliveryRequired


def test_a_message_is_deleted_only_once_its_invocation_succeeded():
    cloud = start_local_cloud({"NOTIFY_TOPIC": "ds-record-deleter-notifications"},
                              seed=seed_with_queue(load_seed(), "checks", visibility_timeout=1))
    events, stop = [], threading.Event()

    def invoke(raw: bytes):
        events.append(json.loads(raw))
        if len(events) == 1:
            raise RedeliveryRequired("a check failed transiently")
        return {"Results": []}

    try:
        credentials = cloud.credentials
        MnsClient(new_session(1), Credentials(credentials.access_key_id, credentials.access_key_secret,
                                              credentials.security_token), cloud.emulator.url).send("checks", "hello")
        thread = threading.Thread(target=deliver_queue, args=(cloud, "checks", invoke, stop, lambda line: None))
        thread.start()
        give_up = time.monotonic() + 10
        while len(events) < 2 and time.monotonic() < give_up:
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=5)
        [queue] = [q for q in cloud.emulator.snapshot()["queues"] if q["QueueName"] == "checks"]
    finally:
        cloud.stop()
    assert len(events) == 2, events  # failed once, then delivered again
    first, again = (event[0] for event in events)
    assert first["type"] == "mns:Queue:SendMessage" and first["data"]["messageBody"] == "hello"
    assert again["data"]["messageId"] == first["data"]["messageId"]
    assert first["subject"].endswith(":queues/checks")
    assert queue["Messages"] == []  # deleted after the invocation that succeeded
