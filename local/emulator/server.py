"""HTTP plumbing: a threading HTTP/1.1 server with keep-alive, and the router that sends each
request to the Domain API, MNS or the admin API and logs every API call."""
from __future__ import annotations

import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Tuple
from urllib.parse import parse_qsl, urlsplit

from .admin import PREFIX as ADMIN_PREFIX
from .admin import Admin
from .domain_service import DomainService
from .http_types import CallRecord, HttpRequest, Reply
from .mns_service import MnsService
from .request_log import RequestLog

MAX_BODY_BYTES = 8 * 1024 * 1024


class Router:
    def __init__(self, domain: DomainService, mns: MnsService, admin: Admin, requests: RequestLog,
                 verbose: bool = False) -> None:
        self.domain = domain
        self.mns = mns
        self.admin = admin
        self.requests = requests
        self.verbose = verbose

    def handle(self, request: HttpRequest) -> Reply:
        if request.path.startswith(ADMIN_PREFIX):
            return self.admin.handle(request)
        if request.path.startswith(("/topics/", "/queues/")):
            service, record = self.mns, CallRecord("mns")
        elif request.path == "/" and request.method in ("GET", "POST"):
            service, record = self.domain, CallRecord("domain")
        else:
            return Reply(404, b'{"Code": "NotFound", "Message": "No emulated API at this path."}',
                         {"Content-Type": "application/json;charset=utf-8"}, "NotFound")
        self.requests.enter(record.service)
        try:
            reply = service.handle(request, record)
        except Exception:  # an emulator bug: say so loudly, never pass it off as a cloud error
            traceback.print_exc()
            reply = Reply(500, b'{"Code": "EmulatorBug", "Message": "see the emulator\'s stderr"}',
                          {"Content-Type": "application/json;charset=utf-8"}, "EmulatorBug")
        finally:
            self.requests.leave(record.service)
        self.requests.add(record, reply)
        return reply


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], router: Router) -> None:
        super().__init__(address, RequestHandler)
        self.router = router


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    server_version = "AlibabaCloudEmulator/1.0"
    timeout = 300  # close idle keep-alive connections (longer than any long poll)
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body leave together, at once: Nagle's algorithm with the client's delayed
        # ACK would otherwise hold every answer ~40 ms, which no real service does.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    def _headers(self) -> Dict[str, str]:
        headers: Dict[str, list] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value.strip())
        return {name: ",".join(sorted(values)) for name, values in headers.items()}

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES or "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._write(Reply(413, b'{"Code": "RequestTooLarge"}', {"Content-Type": "application/json"}))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = HttpRequest(
            method=self.command, target=self.path, path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)), headers=self._headers(),
            body=body, client_ip=self.client_address[0],
        )
        reply = self.server.router.handle(request)
        if reply.dropped:
            self.close_connection = True  # no answer: the client sees the connection close
            return
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        try:
            self._headers_buffer.append(b"\r\n" + reply.body)  # one write for the whole answer
            self.flush_headers()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout)
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:
        if self.server.router.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")
