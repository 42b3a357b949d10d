"""`make run`'s local HTTP trigger, served in-process on a free port: chunked bodies, every HTTP
method passed through to the function, and the embedded emulator seeded with NOTIFY_TOPIC."""
from __future__ import annotations

import http.client
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local.http_trigger import make_handler
from local.runtime import start_local_cloud

REQUEST = b'{"DomainName": "example.net", "KeyTag": 31589}'


@pytest.fixture
def trigger(function):
    """The local HTTP trigger in front of the function (on the test emulator): its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.RequestHandlerClass = make_handler(function.cloud, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def answer_of(connection: http.client.HTTPConnection) -> tuple:
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send request bytes as they are; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return received
            received += data


def test_a_chunked_body_is_read_whole_and_the_connection_stays_usable(trigger, function):
    connection = http.client.HTTPConnection("127.0.0.1", trigger, timeout=30)
    pieces = [REQUEST[:10], REQUEST[10:11], REQUEST[11:]]
    connection.request("POST", "/", body=iter(pieces), encode_chunked=True,
                       headers={"Content-Type": "application/json"})
    status, _, body = answer_of(connection)
    assert status == 202, body
    assert [task["TaskNo"] for task in function.tasks()] == [json.loads(body)["TaskNo"]]
    connection.request("GET", "/")  # the same connection: nothing of the chunked body is left over
    status, _, body = answer_of(connection)
    assert status == 405 and json.loads(body)["Code"] == "MethodNotAllowed"
    connection.close()


def test_a_chunked_body_with_extensions_and_trailers(trigger, function):
    chunks = b"5;note=x\r\n" + REQUEST[:5] + b"\r\n" + format(len(REQUEST) - 5, "x").encode() + b"\r\n" \
        + REQUEST[5:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    answered = raw_exchange(trigger, head + chunks)
    assert answered.startswith(b"HTTP/1.1 202 "), answered
    assert len(function.tasks()) == 1


@pytest.mark.parametrize("chunks, status, code", [
    (b"zz\r\nabc\r\n0\r\n\r\n", 400, "InvalidRequest"),           # not a hex size
    (b"5\r\nabc\r\n0\r\n\r\n", 400, "InvalidRequest"),             # shorter than it says
    (b"-1\r\n", 400, "InvalidRequest"),
    (b"200000\r\n" + b"x" * 16, 413, "PayloadTooLarge"),           # 2 MiB announced
], ids=["not-hex", "short-chunk", "negative", "too-large"])
def test_an_unreadable_chunked_body_is_a_json_error_and_the_connection_closes(trigger, function, chunks, status,
                                                                             code):
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    answered = raw_exchange(trigger, head + chunks)  # returns once the server closed the connection
    head_lines, _, body = answered.partition(b"\r\n\r\n")
    assert head_lines.startswith(f"HTTP/1.1 {status} ".encode()), answered
    assert json.loads(body)["Code"] == code
    assert answered.count(b"HTTP/1.1") == 1  # no second answer to leftover bytes
    assert function.cloud_calls() == []


def test_a_content_length_that_is_not_a_number_is_a_400(trigger, function):
    answered = raw_exchange(trigger, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n0123456789")
    assert answered.startswith(b"HTTP/1.1 400 ") and answered.count(b"HTTP/1.1") == 1


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "PURGE"])
def test_every_method_reaches_the_function_which_answers_405(trigger, method):
    connection = http.client.HTTPConnection("127.0.0.1", trigger, timeout=30)
    connection.request(method, "/")
    status, headers, body = answer_of(connection)
    assert (status, headers["Allow"], headers["Content-Type"]) == (405, "POST", "application/json")
    assert json.loads(body)["Code"] == "MethodNotAllowed"
    connection.close()


def test_head_gets_the_functions_405_headers_without_a_body(trigger):
    connection = http.client.HTTPConnection("127.0.0.1", trigger, timeout=30)
    connection.request("HEAD", "/")
    status, headers, body = answer_of(connection)
    assert (status, headers["Allow"], headers["Content-Type"]) == (405, "POST", "application/json")
    assert body == b"" and int(headers["Content-Length"]) > 0
    connection.request("GET", "/")  # no stray body on the connection
    get_status, get_headers, get_body = answer_of(connection)
    assert get_status == 405
    assert int(headers["Content-Length"]) == int(get_headers["Content-Length"]) == len(get_body)  # HEAD: GET's headers
    connection.close()


def test_the_embedded_emulator_has_the_notify_topic_it_is_given_and_a_queue_on_it():
    environ = {"NOTIFY_TOPIC": "my-team-ds-deletions"}
    cloud = start_local_cloud(environ)
    try:
        state = cloud.emulator.snapshot()
        assert "my-team-ds-deletions" in [topic["TopicName"] for topic in state["topics"]]
        [subscription] = [s for s in state["subscriptions"] if s["TopicName"] == "my-team-ds-deletions"]
        assert subscription["Endpoint"].endswith(":queues/my-team-ds-deletions-inbox")
        assert "my-team-ds-deletions-inbox" in [queue["QueueName"] for queue in state["queues"]]
        cloud.emulator.reset()  # the seed keeps them
        assert "my-team-ds-deletions" in [topic["TopicName"] for topic in cloud.emulator.snapshot()["topics"]]
    finally:
        cloud.stop()


def test_the_default_topic_is_seeded_once():
    cloud = start_local_cloud({})
    try:
        state = cloud.emulator.snapshot()
        assert [t["TopicName"] for t in state["topics"]].count("ds-record-deleter-notifications") == 1
        assert [s["TopicName"] for s in state["subscriptions"]].count("ds-record-deleter-notifications") == 1
    finally:
        cloud.stop()
