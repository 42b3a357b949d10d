"""The transport adapter's shortcuts (issue 12): one pool per origin, kept; no proxy selection or
cookie extraction per call; still a requests.Response, and requests' exceptions for failures."""
from __future__ import annotations

import http.server
import socket
import threading

import pytest
import requests

from cloud.http import BudgetedAdapter, new_session, send


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Set-Cookie", "session=abc")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _post(session, url):
    return send(session, "POST", url, headers={"host": "x"}, body=b"", timeout=(2, 2), service="Test", action="A",
                mutating=False)


def test_answers_are_requests_responses_over_one_kept_pool(server, monkeypatch):
    session = new_session(2)
    adapter = session.get_adapter(server)
    assert isinstance(adapter, BudgetedAdapter)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # never consulted: a signed call goes direct
    first = _post(session, f"{server}/?a=1&b=%2F")
    second = _post(session, f"{server}/path?c=3")
    assert isinstance(first, requests.Response) and first.status_code == 200 and first.ok
    assert first.content == b"/?a=1&b=%2F" and second.content == b"/path?c=3"  # path and query as built
    assert first.headers["content-type"].startswith("application/json") and first.encoding == "utf-8"
    assert first.url == f"{server}/?a=1&b=%2F" and first.request.method == "POST"
    assert len(first.cookies) == 0  # the answer's Set-Cookie is not extracted
    assert len(adapter._pools) == 1
    assert first.raw._pool is second.raw._pool  # noqa: SLF001 -- one pool per origin


def test_a_closed_pool_is_replaced_and_a_refused_connection_is_still_requests_error(server):
    session = new_session(1)
    _post(session, server)
    adapter = session.get_adapter(server)
    adapter.poolmanager.clear()  # closes every pool, as an eviction would
    assert _post(session, server).status_code == 200
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        adapter.send(requests.Request("POST", f"http://127.0.0.1:{closed_port}/").prepare(), timeout=(1, 1))
