"""A call's answer cut or stalled mid-stream, and one time budget per call (issue 8, points 6
and 8): against a real socket that misbehaves, alone and in front of the emulator."""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from typing import Callable, Optional

import pytest
import requests

from cloud.credentials import Credentials
from cloud.domain_api import DomainApiClient
from cloud.errors import OutcomeUnknownError, RetryableError
from cloud.http import new_session
from cloud.mns import MnsClient
from triggers.common import RedeliveryRequired

from .test_one_task_per_record import queue_message

SAVE = "SaveSingleTaskForDeletingDSRecord"
CREDENTIALS = Credentials("LTAI-test", "secret-test")


def _read_request(stream) -> bytes:
    """One HTTP/1.1 request (headers and a Content-Length body), raw."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return b""
        head += line
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + stream.read(length)


class Misbehaving:
    """A local server whose answers are written by `answer(raw_request, socket)`: it may cut,
    dribble or stall them."""

    def __init__(self, answer: Callable[[bytes, socket.socket], None]) -> None:
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while True:
                    raw = _read_request(self.rfile)
                    if not raw or outer.closed.is_set():
                        return
                    answer(raw, self.connection)

        self.closed = threading.Event()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def misbehaving():
    servers = []

    def start(answer):
        servers.append(Misbehaving(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def cut_short(raw: bytes, sock: socket.socket) -> None:
    body = b'{"RequestId": "X", "TaskNo": "never-read-whole"}'
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                 + body[:20])
    sock.shutdown(socket.SHUT_RDWR)  # the connection ends mid-body


def dribble(raw: bytes, sock: socket.socket) -> None:
    """A byte every 0.2 s: no single read ever waits long, the whole answer takes 10 s."""
    body = b'{"RequestId": "X", "TaskNo": "slow"}' + b" " * 14
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    for byte in body:
        time.sleep(0.2)
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


def domain_client(url: str, timeout=(1.0, 1.0), time_left: Optional[Callable[[], float]] = None):
    return DomainApiClient(new_session(2), CREDENTIALS, endpoint=url, timeout=timeout, time_left=time_left)


def test_an_answer_cut_mid_body_is_an_unknown_outcome_for_the_send_and_retryable_for_a_read(misbehaving):
    server = misbehaving(cut_short)
    with pytest.raises(OutcomeUnknownError) as caught:
        domain_client(server.url).save_deleting_ds_task("example.com", 1)
    assert caught.value.code == "IncompleteAnswer" and not caught.value.answered_by_service
    with pytest.raises(RetryableError) as caught:
        domain_client(server.url).query_ds_records("example.com")
    assert caught.value.code == "IncompleteAnswer"


def test_a_cut_publish_is_retryable_for_the_caller_as_an_unknown_outcome(misbehaving):
    server = misbehaving(cut_short)
    with pytest.raises(OutcomeUnknownError) as caught:  # the publish retrier retries unknown ones
        MnsClient(new_session(1), CREDENTIALS, server.url, timeout=(1.0, 1.0)).publish("topic", "body")
    assert caught.value.code == "IncompleteAnswer"


def test_a_dribbled_answer_cannot_keep_a_call_past_its_budget(misbehaving):
    """Every read gets its byte within the read timeout; only a total budget ends the call."""
    server = misbehaving(dribble)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownError) as caught:
        domain_client(server.url, timeout=(0.5, 1.0)).save_deleting_ds_task("example.com", 1)
    assert caught.value.code == "ReadTimeout"
    assert time.monotonic() - started < 3  # the budget is 1.5 s; the dribble lasts 10 s


def test_the_invocations_time_left_caps_the_budget(misbehaving):
    server = misbehaving(dribble)
    started = time.monotonic()
    ends = started + 0.8
    with pytest.raises(RetryableError):
        domain_client(server.url, timeout=(3.0, 10.0), time_left=lambda: max(0.0, ends - time.monotonic())
                      ).query_ds_records("example.com")
    assert time.monotonic() - started < 2


# --- the same, in front of the emulator, through the whole function ------------------------------

def proxy_to(emulator_url: str, misbehave_on: str, how: Callable[[bytes, socket.socket], None], times: int = 1):
    """Forwards every call to the emulator as it came (the signature covers the Host header), but
    answers the first `times` calls of `misbehave_on` as `how` does, after the emulator has
    processed them."""
    session = requests.Session()
    left = [times]

    def answer(raw: bytes, sock: socket.socket) -> None:
        head, _, body = raw.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ")
        headers = dict(line.split(": ", 1) for line in header_lines)
        forwarded = session.request(method, emulator_url + target, headers=headers, data=body)
        if headers.get("x-acs-action") == misbehave_on and left[0] > 0:
            left[0] -= 1
            how(raw, sock)
            return
        payload = forwarded.content
        sock.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                     % (forwarded.status_code, forwarded.headers.get("Content-Type", "").encode(), len(payload))
                     + payload)

    return answer


def test_a_send_whose_answer_is_cut_is_reconciled_and_its_task_adopted(function, emulator, misbehaving,
                                                                         monkeypatch):
    """Not an UnexpectedError leaving the record leased: an unknown outcome, reconciled."""
    proxy = misbehaving(proxy_to(emulator.url, SAVE, cut_short))
    monkeypatch.setenv("DOMAIN_API_ENDPOINT", proxy.url)
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0")
    [result] = function.invoke([queue_message({"DomainName": "example.com", "KeyTag": 2371}, "M-cut")])["Results"]
    [task] = function.tasks()
    assert (result["TaskNo"], result["Adopted"]) == (task["TaskNo"], True)
    assert len(function.domain_api_calls(SAVE)) == 1


def test_a_stalled_send_never_outlives_the_invocation(function, emulator, misbehaving, monkeypatch):
    proxy = misbehaving(proxy_to(emulator.url, SAVE, dribble))
    monkeypatch.setenv("DOMAIN_API_ENDPOINT", proxy.url)
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "0.5")
    started = time.monotonic()
    with pytest.raises(RedeliveryRequired) as caught:
        function.invoke([queue_message({"DomainName": "example.com", "KeyTag": 2371}, "M-stall")],
                        timeout_seconds=3)
    assert time.monotonic() - started < 3  # FC would have stopped it at 3 s
    assert '"Failure": "UNKNOWN"' in str(caught.value)  # the send may have made a task
    assert len(function.tasks()) == 1  # the stalled call did reach the service: its outcome is unknown
