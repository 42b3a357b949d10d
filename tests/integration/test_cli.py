"""The operator's tool's parts against the emulator, in process: `follow` reading an inbox in each
MNS subscription format (what it shows, what it leaves in the queue, what --consume deletes), a
queue request followed by its message id, the timeout, and the webhook's signature used once per
second. The notifications are the function's own (invoked as FC would)."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cloud.credentials import Credentials
from cloud.http import new_session
from cloud.mns import MnsClient
from local.cli.errors import DONE, NOT_DONE, STILL_PENDING
from local.cli.follow import Follower, end_of
from local.cli.inbox import Inbox, decode
from local.cli.webhook import Webhook
from local.emulator import Emulator
from local.emulator.seed import load_seed
from local.http_trigger import make_handler
from local.queue_trigger import cloud_events

TOPIC = "ds-record-deleter-notifications"
WATCH_QUEUE = "ds-record-deleter-watch"
REQUEST_QUEUE = "ds-record-deleter-requests"
FORMATS = {"ops-json": "JSON", "ops-xml": "XML", "ops-raw": "SIMPLIFIED"}
INBOXES = {**FORMATS, "ops-quick": "SIMPLIFIED"}  # ops-quick: a VisibilityTimeout of 1 s
SECRET = "an-integration-webhook-secret-0123456789"


def inbox_seed() -> dict:
    """The default seed, plus an operator's inbox of each format subscribed to the topic."""
    seed = load_seed()
    for queue, content_format in INBOXES.items():
        seed["queues"].append({"QueueName": queue, "VisibilityTimeout": 1 if queue == "ops-quick" else 30})
        seed["subscriptions"].append({
            "TopicName": TOPIC, "SubscriptionName": queue, "NotifyContentFormat": content_format,
            "Endpoint": f"acs:mns:{seed['region']}:{seed['account_id']}:queues/{queue}"})
    return seed


@pytest.fixture(scope="module")
def inbox_emulator():
    with Emulator(port=0, seed=inbox_seed(), task_delays=(0, 0)) as server:
        yield server


@pytest.fixture
def emulator(inbox_emulator):
    """This module's emulator for the `function` fixture (conftest), reset to its seed."""
    inbox_emulator.wait_idle()
    inbox_emulator.reset()
    return inbox_emulator


@pytest.fixture
def watching(function, monkeypatch):
    monkeypatch.setenv("WATCH_QUEUE", WATCH_QUEUE)
    monkeypatch.setenv("WATCH_FIRST_DELAY_SECONDS", "1")
    return function


def mns_of(emulator) -> MnsClient:
    sts = emulator.sts_credentials
    return MnsClient(new_session(1), Credentials(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"]),
                     emulator.url)


def queue_messages(emulator, queue: str) -> list:
    return next(q["Messages"] for q in emulator.snapshot()["queues"] if q["QueueName"] == queue)


def delete_one(function, domain: str, key_tag: int) -> str:
    """A direct invocation's deletion (its Submitted published), then its watch check delivered as
    the watch queue's trigger would (the task ends on the emulator's next read): its TaskNo."""
    [result] = function.invoke({"DomainName": domain, "KeyTag": key_tag})["Results"]
    [check] = [m for m in queue_messages(function.emulator, WATCH_QUEUE) if result["TaskNo"] in m["MessageBody"]]
    function.invoke(cloud_events([(check["MessageId"], check["MessageBody"])], WATCH_QUEUE,
                                 function.emulator.account_id, function.emulator.region))
    return result["TaskNo"]


class Printed:
    def __init__(self) -> None:
        self.out, self.err = [], []


def follower(printed: Printed, **options) -> Follower:
    return Follower(out=printed.out.append, err=printed.err.append, **options)


@pytest.fixture
def busy_inboxes(watching):
    """Each inbox holds, before the followed task's messages: another task's Submitted, and a
    message that is no notification at all. Returns the followed TaskNo."""
    mns = mns_of(watching.emulator)
    [other] = watching.invoke({"DomainName": "example.org", "KeyTag": 54321})["Results"]
    for queue in FORMATS:
        mns.send(queue, "not a notification")
    task_no = delete_one(watching, "example.net", 31589)
    return task_no, other["TaskNo"]


@pytest.mark.parametrize("queue", FORMATS)
def test_follow_reads_each_format_and_deletes_nothing_by_default(watching, busy_inboxes, queue):
    task_no, other_task = busy_inboxes
    printed = Printed()
    inbox = Inbox(mns_of(watching.emulator), queue)
    assert follower(printed, task_no=task_no, inbox=inbox, timeout=10).run() == DONE
    assert [line.split("] ")[0] for line in printed.out] == ["[notification DSDelSubmitted",
                                                             "[notification DSDelCompleted"]
    completed = json.loads(printed.out[1].split("] ", 1)[1])
    assert (completed["Event"], completed["TaskNo"], completed["DomainName"]) == (
        "DSRecordDeletionCompleted", task_no, "example.net")
    assert printed.err[-2] == (f"follow: DSRecordDeletionCompleted: the DS record with key tag 31589 of example.net "
                               f"is gone (TaskNo {task_no})")
    assert printed.err[-1] == (f"follow: left 2 message(s) of other tasks in {queue}, visible again after its "
                               "VisibilityTimeout")
    # Peeked, not taken: every message is still in the queue, the others' read once and hidden only
    # for the queue's VisibilityTimeout.
    messages = queue_messages(watching.emulator, queue)
    assert len(messages) == 4
    others = [m for m in messages if task_no not in m["MessageBody"]]
    assert {("not a notification" in m["MessageBody"], other_task in m["MessageBody"]) for m in others} == {
        (True, False), (False, True)}
    assert {(m["State"], m["DequeueCount"]) for m in others} == {("inflight", 1)}


def test_follow_with_consume_deletes_the_followed_tasks_messages_only(watching, busy_inboxes):
    task_no, other_task = busy_inboxes
    printed = Printed()
    inbox = Inbox(mns_of(watching.emulator), "ops-json", consume=True)
    assert follower(printed, task_no=task_no, inbox=inbox, timeout=10).run() == DONE
    assert len(printed.out) == 2
    left = [m["MessageBody"] for m in queue_messages(watching.emulator, "ops-json")]
    assert len(left) == 2 and not any(task_no in body for body in left)
    assert any(other_task in body for body in left) and "not a notification" in left
    # The other inboxes were not touched at all.
    assert {len(queue_messages(watching.emulator, queue)) for queue in ("ops-xml", "ops-raw")} == {4}


def test_a_notification_received_again_is_shown_once(watching):
    """Left in the queue, a message comes back after the VisibilityTimeout (1 s here), and a
    notification published twice (its publish answer lost) comes twice: each is shown once."""
    [result] = watching.invoke({"DomainName": "example.net", "KeyTag": 31589})["Results"]
    mns = mns_of(watching.emulator)
    [submitted] = [n for n in watching.notifications() if n["Event"] == "DSRecordDeletionSubmitted"]
    submitted.pop("_tag")
    mns.publish(TOPIC, json.dumps(submitted), "DSDelSubmitted")  # the same notification, published again
    printed, ended = Printed(), []
    follow = follower(printed, task_no=result["TaskNo"], inbox=Inbox(mns, "ops-quick"), timeout=15)
    thread = threading.Thread(target=lambda: ended.append(follow.run()))
    thread.start()
    time.sleep(3)  # the Submitted messages read, visible again, read again
    assert [m["DequeueCount"] >= 2 for m in queue_messages(watching.emulator, "ops-quick")] == [True, True]
    [check] = queue_messages(watching.emulator, WATCH_QUEUE)
    watching.invoke(cloud_events([(check["MessageId"], check["MessageBody"])], WATCH_QUEUE,
                                 watching.emulator.account_id, watching.emulator.region))
    thread.join(timeout=15)
    assert ended == [DONE]
    assert [line.split("] ")[0] for line in printed.out] == ["[notification DSDelSubmitted",
                                                             "[notification DSDelCompleted"]


def test_a_request_sent_onto_the_queue_is_followed_by_its_message_id_to_its_rejection(function):
    """Until a notification names the TaskNo, the request's own are known by their Source Id."""
    mns = mns_of(function.emulator)
    sent = mns.send(REQUEST_QUEUE, json.dumps({"DomainName": "example.net", "KeyTag": "31589"}))
    mns.send(REQUEST_QUEUE, json.dumps({"DomainName": "example.com", "KeyTag": "x"}))  # another sender's
    for message in queue_messages(function.emulator, REQUEST_QUEUE):  # the queue's trigger, a message a batch
        function.invoke(cloud_events([(message["MessageId"], message["MessageBody"])], REQUEST_QUEUE,
                                     function.emulator.account_id, function.emulator.region))
    printed = Printed()
    end = follower(printed, task_no=None, message_ids=[sent.message_id], inbox=Inbox(mns, "ops-json"), timeout=10)
    assert end.run() == NOT_DONE
    [line] = printed.out
    rejected = json.loads(line.split("] ", 1)[1])
    assert line.startswith("[notification DSDelRejected] ")
    assert rejected["Source"] == {"Trigger": "mns_queue", "Id": sent.message_id}
    assert printed.err[-1] == ("follow: DSRecordDeletionRejected (InvalidParameter): KeyTag must be an integer from "
                               "0 to 65535 (a JSON number, not a string)")


def test_a_task_with_no_end_in_time_exits_3_and_says_how_to_go_on(function):
    printed = Printed()
    inbox = Inbox(mns_of(function.emulator), "ops-json")
    started = time.monotonic()
    assert follower(printed, task_no="0c6f9a55-2f68-4bd6-8e1f-1e0b2f1c1d1a", inbox=inbox, timeout=2).run() == \
        STILL_PENDING
    assert 2 <= time.monotonic() - started < 5
    assert printed.err[-1] == ("follow: task 0c6f9a55-2f68-4bd6-8e1f-1e0b2f1c1d1a still pending after 2 s: follow it "
                               "again later (follow 0c6f9a55-2f68-4bd6-8e1f-1e0b2f1c1d1a)")


@pytest.mark.parametrize("body, exit_code, line", [
    ({"Event": "DSRecordDeletionSubmitted", "TaskNo": "T-1"}, None, None),
    ({"Event": "DSRecordDeletionTimedOut", "TaskNo": "T-1", "LastTaskStatus": "EXECUTING", "WatchedSeconds": 86400},
     NOT_DONE, "DSRecordDeletionTimedOut: task T-1 was still EXECUTING after 86400 s of watching; ask GET /tasks/T-1 "
               "or the console"),
    ({"Event": "DSRecordDeletionRefused", "Code": "DeletionWouldBreakDNSSEC", "Message": "Deleting …"},
     NOT_DONE, "DSRecordDeletionRefused (DeletionWouldBreakDNSSEC): Deleting …"),
    ({"Event": "DSRecordDeletionFailed", "Code": "DomainNotExist", "Message": "Not in this account"},
     NOT_DONE, "DSRecordDeletionFailed (DomainNotExist): Not in this account"),
    ({"Event": "DSRecordAlreadyAbsent", "Message": "The registry lists no DS record with KeyTag 9"},
     DONE, "DSRecordAlreadyAbsent: The registry lists no DS record with KeyTag 9"),
], ids=["submitted", "timed-out", "refused", "failed-at-submission", "already-absent"])
def test_each_end_of_a_request_has_its_exit_code(body, exit_code, line):
    end = end_of(body)
    assert ((end.exit_code, end.line) if end else (None, None)) == (exit_code, line)


def notification(event: str, **fields) -> str:
    return json.dumps({"Event": event, "TaskNo": "T-1", **fields})


@pytest.mark.parametrize("body, tag", [
    (notification("DSRecordDeletionCompleted"), "DSDelCompleted"),  # SIMPLIFIED: the tag its event has
    (json.dumps({"TopicName": TOPIC, "MessageId": "M", "MessageTag": "Mine",
                 "Message": notification("DSRecordDeletionCompleted")}), "Mine"),
    ('<?xml version="1.0" encoding="utf-8"?><Notification xmlns="http://mns.aliyuncs.com/doc/v1/">'
     f'<MessageTag>Mine</MessageTag><Message>{notification("DSRecordDeletionCompleted")}</Message></Notification>',
     "Mine"),
    (base64.b64encode(notification("DSRecordDeletionCompleted").encode()).decode(), "DSDelCompleted"),
], ids=["simplified", "json", "xml", "base64"])
def test_decode_reads_every_format(body, tag):
    assert decode(body) == ({"Event": "DSRecordDeletionCompleted", "TaskNo": "T-1"}, tag)


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"Message": "not json"}', '{"Some": "thing"}',
                                  "<Notification><Message>x</Message></Notification>", "<broken"])
def test_decode_takes_nothing_else_for_a_notification(body):
    assert decode(body) is None


# --- the webhook: a signature is good for one request -------------------------------------------

@pytest.fixture
def signed_trigger(function, monkeypatch):
    """make run's HTTP trigger in front of the function, with WEBHOOK_SECRET: its URL."""
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.RequestHandlerClass = make_handler(function.cloud, port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()
    server.server_close()


class FrozenClock:
    """The same second until someone sleeps: two callers sign in one second, for sure."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def test_the_same_request_signed_twice_in_one_second_is_signed_again_for_the_next(signed_trigger, function):
    clock, reported = FrozenClock(), []
    dry_run = {"DomainName": "example.net", "KeyTag": 31589, "DryRun": True}
    first, second = (Webhook(signed_trigger, SECRET, clock=clock.time, sleep=clock.sleep, report=reported.append)
                     for _ in range(2))
    assert first.post(dry_run).status == 200 and reported == []
    answer = second.post(dry_run)  # another process, the same second: the same signature, a replay
    assert (answer.status, answer.body["WouldSubmit"]) == (200, True)
    assert reported == ["webhook: 401; signing it again with a later timestamp (a signature is good for one request)"]
    assert function.tasks() == []


def test_a_wrong_secret_is_refused_twice_and_answered_401(signed_trigger):
    reported = []
    answer = Webhook(signed_trigger, "not-the-secret-of-this-function-0123", report=reported.append).post(
        {"DomainName": "example.net", "KeyTag": 31589, "DryRun": True})
    assert answer.status == 401 and len(reported) == 1


def test_polling_a_task_the_account_does_not_have_ends_after_a_minute(signed_trigger):
    clock, printed = FrozenClock(), Printed()
    webhook = Webhook(signed_trigger, SECRET, clock=clock.time, sleep=clock.sleep, report=printed.err.append)
    follow = follower(printed, task_no="no-such-task", webhook=webhook, poll_seconds=20, timeout=600,
                      clock=clock.time, sleep=clock.sleep)
    assert follow.run() == NOT_DONE
    assert printed.out == []
    assert printed.err[1].startswith("follow: 404 TaskNotFound: The account has no task no-such-task; asking again")
    assert printed.err[-1] == "follow: TaskNotFound: the account has shown no task no-such-task for 60 s"


def test_a_webhook_gone_after_taking_the_post_leaves_the_outcome_unknown_not_a_setup_error():
    """The first POST was read and never answered (the deletion may have been made), then nothing
    listened any more: 'cannot reach the webhook' (exit 2, could not run as asked) hid that the
    deletion may exist; it is an unknown outcome (exit 1), to be sent again with the same key."""
    import socket

    from local.cli.errors import Problem

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def take_one_then_go():
        connection, _ = listener.accept()
        connection.recv(65536)  # the POST arrives...
        listener.close()  # ...and the webhook goes away before answering
        connection.close()

    threading.Thread(target=take_one_then_go, daemon=True).start()
    clock, reported = FrozenClock(), []
    webhook = Webhook(f"http://127.0.0.1:{port}/", SECRET, retries=2, clock=clock.time, sleep=clock.sleep,
                      report=reported.append)
    with pytest.raises(Problem) as raised:
        webhook.post({"DomainName": "example.net", "KeyTag": 31589})
    assert raised.value.exit_code == NOT_DONE, raised.value.message
    assert "whether the deletion was made is not known" in raised.value.message


def test_the_secret_is_read_as_the_function_reads_it_and_never_printed_in_any_form():
    """A trailing newline or space (a secret pasted from a file) is stripped by the function, so
    the tool signs with the stripped value too; and a secret percent-encoded in a printed line
    (an echoed URL) is masked as well as the plain one."""
    import io
    from urllib.parse import quote

    from local.cli import Console
    from local.cli.settings import webhook_secret

    secret = "an/secret+with=signs-0123456789abcdef"
    assert webhook_secret({"WEBHOOK_SECRET": f" {secret}\n"}, unsigned=False) == secret
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, (secret,))
    console.out(f"plain {secret} encoded {quote(secret, safe='')} twice {quote(quote(secret, safe=''), safe='')}")
    for form in (secret, quote(secret, safe=""), quote(quote(secret, safe=""), safe="")):
        assert form not in out.getvalue()
