"""A local stand-in for the EventBridge queue trigger: it long-polls an MNS queue of the embedded
emulator and hands each message to the function as the trigger would, a list of CloudEvents with
`data.messageId` and `data.messageBody`. A message is deleted only when the invocation succeeded;
one whose invocation failed comes back after the queue's VisibilityTimeout, as in the cloud.

`make run` uses it for the watch queue (WATCH_QUEUE), so a deletion's checks come back to the
function and its end is told; tests use cloud_events() to deliver messages themselves."""
from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, List, Tuple

from cloud.credentials import Credentials
from cloud.errors import CloudError
from cloud.http import new_session
from cloud.mns import MnsClient, ReceivedMessage


def cloud_events(messages: Iterable[Tuple[str, str]], queue: str, account_id: str, region: str) -> List[dict]:
    """The event EventBridge delivers for (message id, body) pairs of a queue, body not encoded
    (the templates set IsBase64Decode)."""
    now = datetime.now(timezone.utc)
    return [{
        "id": str(uuid.uuid4()), "source": f"MNS-{queue}", "specversion": "1.0", "type": "mns:Queue:SendMessage",
        "datacontenttype": "application/json; charset=utf-8",
        "subject": f"acs:mns:{region}:{account_id}:queues/{queue}",
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "aliyunaccountid": account_id, "aliyunregionid": region,
        "data": {"requestId": uuid.uuid4().hex.upper(), "messageId": message_id, "messageBody": body},
    } for message_id, body in messages]


def report_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def poll_queue(cloud: Any, queue: str, handle: Callable[[ReceivedMessage], bool], stop: threading.Event,
               report: Callable[[str], None] = report_line, wait_seconds: int = 1) -> None:
    """Until stop is set: each message of one of the embedded emulator's queues to handle(), and
    deleted when it says so (else it comes back after the queue's visibility timeout)."""
    credentials = cloud.credentials
    mns = MnsClient(new_session(1), Credentials(credentials.access_key_id, credentials.access_key_secret,
                                                credentials.security_token), cloud.emulator.url)
    while not stop.is_set():
        try:
            message = mns.receive(queue, wait_seconds=wait_seconds)
            if message is not None and handle(message):
                mns.delete(queue, message.receipt_handle)
        except CloudError as error:
            report(f"[{queue}] {error}")
            time.sleep(1)


def deliver_queue(cloud: Any, queue: str, invoke: Callable[[bytes], Any], stop: threading.Event,
                  report: Callable[[str], None] = report_line) -> None:
    """Each message of the queue, once visible, to invoke() (the function: one invocation per
    message, as a batch of one); deleted when the invocation succeeded."""
    def handle(message: ReceivedMessage) -> bool:
        event = cloud_events([(message.message_id, message.body)], queue, cloud.account_id, cloud.region)
        try:
            answer = invoke(json.dumps(event).encode("utf-8"))
        except Exception as error:  # the invocation failed: the message comes back after its visibility timeout
            report(f"[{queue}] the invocation failed; the message comes again: {type(error).__name__}: {error}")
            return False
        report(f"[{queue}] {json.dumps(answer, ensure_ascii=False)}")
        return True

    poll_queue(cloud, queue, handle, stop, report)
