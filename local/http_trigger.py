"""`make run`: the function behind a local HTTP trigger, on the embedded emulator.

Real HTTP requests on 127.0.0.1:$PORT (any method; bodies by Content-Length or chunked) become
FC 3.0 HTTP trigger events; the function's answers become HTTP responses. Each notification
published to NOTIFY_TOPIC is printed with its MessageTag as it arrives (read from a queue
subscribed to the topic in JSON format), and the watch queue's messages are delivered back to the
function as its EventBridge trigger would (local/queue_trigger.py), so a new user sees a
deletion's whole life: submitted, then completed or failed seconds later.
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


from cloud.mns import ReceivedMessage
from deleter.settings import ConfigurationError, Settings
from local.demo import DemoWorld
from local.queue_trigger import deliver_queue, poll_queue
from local.runtime import (DEFAULT_NOTIFY_TOPIC, DEFAULT_WATCH_QUEUE, LocalCloud, invoke, seed_with_queue,
                           seed_with_topic, start_local_cloud)

MAX_REQUEST_BYTES = 1024 * 1024  # the function itself refuses more than 64 KiB; this only guards the server
SAMPLE_REQUEST = {"DomainName": "example.net", "KeyTag": 31589}
FAILING_REQUEST = {"DomainName": "example.info", "KeyTag": 20326}  # the seed plans its task to fail
WATCH_FIRST_DELAY_SECONDS = "2"  # a task's first check comes soon: its end is seen seconds later


def http_event(method: str, target: str, headers: dict, body: bytes, source_ip: str, port: int) -> dict:
    """An FC 3.0 HTTP trigger event (multi-valued headers comma-joined, binary bodies base64)."""
    path, _, query = target.partition("?")
    parameters: dict = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(timezone.utc)
    return {
        "version": "v1",
        "rawPath": path,
        "body": text,
        "isBase64Encoded": is_base64,
        "headers": headers,
        "queryParameters": parameters,
        "requestContext": {
            "accountId": "local",
            "domainName": f"127.0.0.1:{port}",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": headers.get("User-Agent", "")},
            "requestId": f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:12]}",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timeEpoch": str(int(now.timestamp() * 1000)),
        },
    }


# The signing recipes stop here, with a message, rather than send a request signed with nothing.
SECRET_GUARD = '  : "${WEBHOOK_SECRET:?set WEBHOOK_SECRET to the secret make run was started with}"'


def curl_line(port: int, body: str, signed: bool) -> str:
    """A ready command; with WEBHOOK_SECRET set, one that signs the request as the webhook requires."""
    curl = f"curl -sS -X POST http://127.0.0.1:{port}/ -H 'Content-Type: application/json'"
    if not signed:
        return f"  {curl} -d '{body}'"
    return (f"{SECRET_GUARD}\n"
            f"  body='{body}'; ts=$(date +%s)\n"
            "  sig=$(printf '%s.%s' \"$ts\" \"$body\" | openssl dgst -sha256 -hmac \"$WEBHOOK_SECRET\" -r | cut -d' ' -f1)\n"
            f"  {curl} -H \"X-Webhook-Timestamp: $ts\" -H \"X-Webhook-Signature: v1=$sig\" -d \"$body\"")


class UnreadableBody(Exception):
    """The request's body cannot be read as sent: answered at once, and the connection closed
    (where the body ends is not known, so nothing after it can be read as a request)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,8}$")
MAX_LINE_BYTES = 8192


def read_chunked(stream: Any, limit: int) -> bytes:
    """A Transfer-Encoding: chunked body (RFC 9112 7.1): chunks, the last of size 0, trailers."""
    body = bytearray()
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
        if not line.endswith(b"\n") or not CHUNK_SIZE.match(size_text):
            raise UnreadableBody(400, "InvalidRequest", "The chunked body is malformed")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise UnreadableBody(413, "PayloadTooLarge", "The body is too large")
        chunk = stream.read(size)
        if len(chunk) != size or stream.readline(MAX_LINE_BYTES + 1) not in (b"\r\n", b"\n"):
            raise UnreadableBody(400, "InvalidRequest", "The chunked body is malformed")
        body += chunk
    for _ in range(100):  # trailer fields, up to the empty line that ends the request
        line = stream.readline(MAX_LINE_BYTES + 1)
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise UnreadableBody(400, "InvalidRequest", "The chunked body has too many trailer fields")


def read_body(headers: Any, stream: Any, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """The request's body, by Transfer-Encoding: chunked or by Content-Length (none: empty)."""
    coding = (headers.get("Transfer-Encoding") or "").strip().lower()
    if coding == "chunked":
        return read_chunked(stream, limit)
    if coding:
        raise UnreadableBody(501, "NotImplemented", "Only the chunked Transfer-Encoding is supported")
    length_text = (headers.get("Content-Length") or "0").strip()
    if not length_text.isdigit():
        raise UnreadableBody(400, "InvalidRequest", "Content-Length must be a number of bytes")
    if int(length_text) > limit:
        raise UnreadableBody(413, "PayloadTooLarge", "The body is too large")
    return stream.read(int(length_text))


def make_handler(cloud: LocalCloud, port: int, one_at_a_time: Optional[threading.Lock] = None) -> type:
    # FC's built-in runtime runs one request per instance at a time; so does this one (the lock
    # is shared with the watch queue's deliveries: they run on the same instance).
    one_at_a_time = one_at_a_time or threading.Lock()

    class TriggerHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle's algorithm and the client's delayed ACK,
        # every answer on a kept-alive connection would wait ~40 ms (as the emulator once did).
        disable_nagle_algorithm = True

        def __getattr__(self, name: str) -> Any:
            """Every method (HEAD, OPTIONS, any other) reaches the function, which answers it."""
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _serve(self) -> None:
            try:
                body = read_body(self.headers, self.rfile)
            except UnreadableBody as problem:
                self.close_connection = True
                self._write(problem.status, {"Content-Type": "application/json", "Connection": "close"},
                            json.dumps({"Code": problem.code, "Message": problem.message}).encode("utf-8"))
                return
            headers: dict = {}
            for name, value in self.headers.items():
                headers[name] = f"{headers[name]},{value}" if name in headers else value
            event = http_event(self.command, self.path, headers, body, self.client_address[0], port)
            with one_at_a_time:
                answer = invoke(json.dumps(event).encode("utf-8"), cloud)
            payload = answer.get("body") or ""
            data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode("utf-8")
            self._write(int(answer.get("statusCode", 200)), answer.get("headers") or {}, data)

        def _write(self, status: int, headers: dict, data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers of the body, not the body
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"[http] {self.address_string()} {format % args}", file=sys.stderr)

    return TriggerHandler


def port_taken(port: int, setting: str, error: OSError) -> int:
    """One line, no traceback: which port, and the setting that moves it."""
    print(f"make run: port {port} on 127.0.0.1 is in use ({error.strerror}): stop what holds it, or set {setting}",
          file=sys.stderr)
    return 2


def console_queue(topic: str) -> str:
    return f"{topic}-console"


def run_seed(topic: str, watch_queue: str, base: Optional[dict] = None) -> dict:
    """What `make run`'s emulator starts from: `base` (default: the default seed) with NOTIFY_TOPIC,
    the watch queue, and a queue that receives the topic's messages in JSON format (which carries
    each message's MessageTag) for the console."""
    seed = seed_with_queue(seed_with_topic(topic, base), watch_queue, visibility_timeout=5)
    seed_with_queue(seed, console_queue(topic))
    seed["subscriptions"].append({
        "TopicName": topic, "SubscriptionName": console_queue(topic), "NotifyContentFormat": "JSON",
        "Endpoint": f"acs:mns:{seed['region']}:{seed['account_id']}:queues/{console_queue(topic)}"})
    return seed


def notification_line(message: ReceivedMessage) -> str:
    """A notification as the console prints it: its MessageTag, then its body, indented."""
    try:
        envelope = json.loads(message.body)
        tag, body = envelope.get("MessageTag", ""), envelope["Message"]
        body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, KeyError, TypeError, AttributeError):
        tag, body = "", message.body
    return f"[notification {tag}] {body}" if tag else f"[notification] {body}"


def print_notifications(cloud: LocalCloud, queue: str, stop: threading.Event) -> None:
    """Long-poll the queue and print every notification as it arrives."""
    def show(message: ReceivedMessage) -> bool:
        print(notification_line(message), flush=True)
        return True

    poll_queue(cloud, queue, show, stop, wait_seconds=5)


def task_query_line(port: int, signed: bool) -> str:
    """A ready command asking how a task stands; with WEBHOOK_SECRET set, signed over the empty body."""
    url = f"http://127.0.0.1:{port}/tasks/$TASK_NO"
    if not signed:
        return f"  curl -sS {url}"
    return (f"{SECRET_GUARD}\n"
            "  ts=$(date +%s); sig=$(printf '%s.' \"$ts\" | openssl dgst -sha256 -hmac \"$WEBHOOK_SECRET\" -r | cut -d' ' -f1)\n"
            f"  curl -sS {url} -H \"X-Webhook-Timestamp: $ts\" -H \"X-Webhook-Signature: v1=$sig\"")


def port_setting(name: str, default: int) -> int:
    """The port a setting names; ValueError with the one line to print when it names none."""
    value = os.environ.get(name, "").strip() or str(default)
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        raise ValueError(f"make run: {name}={value} is not a port (1..65535)")
    return int(value)


def main() -> int:
    try:
        port, emulator_port = port_setting("PORT", 9000), port_setting("EMULATOR_PORT", 9100)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    os.environ.pop("DOMAIN_API_ENDPOINT", None)  # `make run` always runs on the embedded emulator
    os.environ.pop("MNS_ENDPOINT", None)
    os.environ.setdefault("WATCH_QUEUE", DEFAULT_WATCH_QUEUE)  # set empty, watching is off
    os.environ.setdefault("WATCH_FIRST_DELAY_SECONDS", WATCH_FIRST_DELAY_SECONDS)
    try:  # a function that would answer every caller 500 is not started at all
        Settings.from_environ({"NOTIFY_TOPIC": DEFAULT_NOTIFY_TOPIC, **os.environ})
    except ConfigurationError as error:
        print(f"make run: not started: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("NOTIFY_TOPIC", DEFAULT_NOTIFY_TOPIC)
    topic, watch_queue = os.environ["NOTIFY_TOPIC"], os.environ["WATCH_QUEUE"].strip()
    try:  # bound first, so a port in use is told before anything starts; served once the cloud is up
        server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    except OSError as error:
        return port_taken(port, "PORT", error)
    demo = DemoWorld.start(os.environ)  # type: ignore[arg-type]  # signed zones of the seeded domains, DNS_* at them
    try:
        cloud = start_local_cloud(os.environ, emulator_port=emulator_port,  # type: ignore[arg-type]
                                  seed=run_seed(topic, watch_queue, demo.seed))
    except OSError as error:
        server.server_close()
        demo.stop()
        return port_taken(emulator_port, "EMULATOR_PORT", error)
    one_at_a_time = threading.Lock()
    server.RequestHandlerClass = make_handler(cloud, port, one_at_a_time)
    stop = threading.Event()
    threading.Thread(target=print_notifications, args=(cloud, console_queue(topic), stop), daemon=True).start()
    if watch_queue:
        def invoke_once(event: bytes) -> Any:
            with one_at_a_time:
                return invoke(event, cloud)

        threading.Thread(target=deliver_queue, args=(cloud, watch_queue, invoke_once, stop), daemon=True).start()
    signed = bool(os.environ.get("WEBHOOK_SECRET"))
    print(f"Emulator (Domain API + MNS) on {cloud.emulator.url}; its state: {cloud.emulator.url}/__emulator__/state")
    print(f"Function on http://127.0.0.1:{port}/ (FC HTTP trigger); notifications of topic {topic} print below.")
    if signed:
        print("Started with WEBHOOK_SECRET from your environment: every request is signed (a retry needs a new "
              "timestamp and signature).")
    print("Delete a DS record of a seeded domain (the last step of a KSK rollover: safe, 202):")
    print(curl_line(port, json.dumps(SAMPLE_REQUEST), signed=signed))
    print("\n".join(demo.lines(lambda body: curl_line(port, body, signed=signed))))
    print("One whose task the registry will refuse (the failure notification follows):")
    print(curl_line(port, json.dumps(FAILING_REQUEST), signed=signed))
    print("How a task stands (TASK_NO=<the TaskNo of an answer>):")
    print(task_query_line(port, signed))
    if watch_queue:
        print(f"Each task is followed to its end: checks through queue {watch_queue}, the first after "
              f"{os.environ['WATCH_FIRST_DELAY_SECONDS']} s.")
    print("Ready. Ctrl-C stops.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        cloud.stop()
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
