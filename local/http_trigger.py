"""`make run`: the function behind a local HTTP trigger, on the embedded emulator.

Real HTTP requests on 127.0.0.1:$PORT (any method; bodies by Content-Length or chunked) become
FC 3.0 HTTP trigger events; the function's answers become HTTP responses. Each notification published to NOTIFY_TOPIC is printed as it arrives (read
from the queue subscribed to the topic), so a new user sees the whole flow.
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


from cloud.credentials import Credentials
from cloud.errors import CloudError
from cloud.http import new_session
from cloud.mns import MnsClient
from deleter.settings import ConfigurationError, Settings
from local.demo import DemoWorld
from local.emulator import Emulator
from local.emulator.mns_state import QUEUE_ENDPOINT
from local.runtime import DEFAULT_NOTIFY_TOPIC, LocalCloud, invoke, start_local_cloud

MAX_REQUEST_BYTES = 1024 * 1024  # the function itself refuses more than 64 KiB; this only guards the server
SAMPLE_REQUEST = {"DomainName": "example.net", "KeyTag": 31589}


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


def curl_line(port: int, body: str, signed: bool) -> str:
    """A ready command; with WEBHOOK_SECRET set, one that signs the request as the webhook requires."""
    curl = f"curl -sS -X POST http://127.0.0.1:{port}/ -H 'Content-Type: application/json'"
    if not signed:
        return f"  {curl} -d '{body}'"
    return (f"  body='{body}'; ts=$(date +%s)\n"
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


def make_handler(cloud: LocalCloud, port: int) -> type:
    # FC's built-in runtime runs one request per instance at a time; so does this one.
    one_at_a_time = threading.Lock()

    class TriggerHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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


def subscribed_queue(emulator: Emulator, topic: str) -> Optional[str]:
    """The queue subscribed to the topic in the embedded emulator's state (None if there is none)."""
    for subscription in emulator.snapshot().get("subscriptions", []):
        match = QUEUE_ENDPOINT.match(str(subscription.get("Endpoint", "")))
        if subscription.get("TopicName") == topic and match:
            return match.group(3)
    return None


def print_notifications(cloud: LocalCloud, queue: str, stop: threading.Event) -> None:
    """Long-poll the queue and print every notification as it arrives."""
    credentials = cloud.credentials
    mns = MnsClient(new_session(1), Credentials(credentials.access_key_id, credentials.access_key_secret,
                                                credentials.security_token), cloud.emulator.url)
    while not stop.is_set():
        try:
            message = mns.receive(queue, wait_seconds=5)
        except CloudError as error:
            print(f"[notification] could not read {queue}: {error}", file=sys.stderr)
            time.sleep(1)
            continue
        if message is None:
            continue
        try:
            body = json.dumps(json.loads(message.body), indent=2, ensure_ascii=False)
        except ValueError:
            body = message.body
        print(f"[notification] {body}", flush=True)
        mns.delete(queue, message.receipt_handle)


def main() -> int:
    port = int(os.environ.get("PORT", "9000"))
    emulator_port = int(os.environ.get("EMULATOR_PORT", "9100"))
    os.environ.pop("DOMAIN_API_ENDPOINT", None)  # `make run` always runs on the embedded emulator
    os.environ.pop("MNS_ENDPOINT", None)
    try:  # a function that would answer every caller 500 is not started at all
        Settings.from_environ({"NOTIFY_TOPIC": DEFAULT_NOTIFY_TOPIC, **os.environ})
    except ConfigurationError as error:
        print(f"make run: not started: {error}", file=sys.stderr)
        return 2
    demo = DemoWorld.start(os.environ)  # type: ignore[arg-type]  # signed zones of the seeded domains, DNS_* at them
    cloud = start_local_cloud(os.environ, emulator_port=emulator_port, seed=demo.seed)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(cloud, port))
    stop = threading.Event()
    topic = os.environ["NOTIFY_TOPIC"]
    queue = subscribed_queue(cloud.emulator, topic)
    if queue:
        threading.Thread(target=print_notifications, args=(cloud, queue, stop), daemon=True).start()
    print(f"Emulator (Domain API + MNS) on {cloud.emulator.url}; its state: {cloud.emulator.url}/__emulator__/state")
    print(f"Function on http://127.0.0.1:{port}/ (FC HTTP trigger); notifications of topic {topic} print below.")
    print("Delete a DS record of a seeded domain (the last step of a KSK rollover: safe, 202):")
    print(curl_line(port, json.dumps(SAMPLE_REQUEST), signed=bool(os.environ.get("WEBHOOK_SECRET"))))
    print("\n".join(demo.lines(lambda body: curl_line(port, body, signed=bool(os.environ.get("WEBHOOK_SECRET"))))))
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
