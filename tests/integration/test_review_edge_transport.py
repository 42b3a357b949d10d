"""Edges found sound in review, held so: the budgeted socket over TLS (the path every deployed call
takes), and the DNS client against answers that do not answer its question."""
from __future__ import annotations

import datetime
import ipaddress
import socketserver
import ssl
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import requests.adapters
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cloud.dns import DnsClient
from cloud.errors import OutcomeUnknownError
from local.dns import SignedZone

from .test_call_budget import Misbehaving, domain_client, dribble


# --- TLS ------------------------------------------------------------------------------------------

def _certificate(directory) -> tuple:
    """A self-signed certificate for 127.0.0.1: (its PEM file, its key's PEM file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls(tmp_path, monkeypatch):
    """start(answer) -> the https:// URL of a Misbehaving server behind TLS that the session trusts."""
    cert_file, key_file = _certificate(tmp_path)
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(cert_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    servers = []

    def start(answer) -> str:
        server = Misbehaving(answer)
        server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
        servers.append(server)
        return server.url.replace("http://", "https://")

    yield start
    for server in servers:
        server.stop()


def _task_answer(raw, sock) -> None:
    body = b'{"RequestId": "R-1", "TaskNo": "T-1"}'
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def test_calls_over_tls_are_answered_on_one_kept_connection(tls):
    client = domain_client(tls(_task_answer))
    assert [client.save_deleting_ds_task("example.net", 1).task_no for _ in range(3)] == ["T-1"] * 3


def test_a_dribbled_answer_over_tls_is_cut_at_the_calls_budget(tls):
    client = domain_client(tls(dribble), timeout=(0.5, 1.0))
    started = time.monotonic()
    with pytest.raises(OutcomeUnknownError) as caught:
        client.save_deleting_ds_task("example.net", 1)
    assert caught.value.code == "ReadTimeout" and time.monotonic() - started < 2.5  # budget 1.5 s


# --- DNS answers that do not answer -----------------------------------------------------------------

@pytest.fixture(scope="module")
def zone():
    return SignedZone.generate("client.test", (13,))


def _good(zone, query):
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.want_dnssec(True)
    keys, sigs = zone.lookup(query.question[0].name, query.question[0].rdtype)
    response.answer.extend([keys, sigs])
    return response


def _framed(message) -> bytes:
    wire = message.to_wire()
    return struct.pack("!H", len(wire)) + wire


def _wrong_id(zone, query):
    response = _good(zone, query)
    response.id = (query.id + 1) % 65536
    return _framed(response)


def _wrong_question(zone, query):
    response = _good(zone, query)
    response.question = [dns.rrset.RRset(dns.name.from_text("other.test"), dns.rdataclass.IN, dns.rdatatype.DNSKEY)]
    return _framed(response)


def _not_a_response(zone, query):
    response = _good(zone, query)
    response.flags &= ~dns.flags.QR
    return _framed(response)


@pytest.fixture
def name_server():
    """start(respond) -> the port of a TCP name server on 127.0.0.1 answering respond(query, socket)."""
    servers = []

    def start(respond) -> int:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                length = struct.unpack("!H", self.request.recv(2))[0]
                wire = b""
                while len(wire) < length:
                    wire += self.request.recv(length - len(wire))
                respond(dns.message.from_wire(wire), self.request)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("spoof", [_wrong_id, _wrong_question, _not_a_response])
def test_an_answer_to_another_question_is_no_answer(zone, name_server, spoof):
    port = name_server(lambda query, sock: sock.sendall(spoof(zone, query)))
    answer = DnsClient(port=port, time_left=lambda: 2.0).query_dnskey("client.test", "ns", "127.0.0.1")
    assert answer.dnskey == () and "does not respond to the question asked" in answer.error


def test_a_dribbled_dns_answer_is_given_up_at_the_time_left(zone, name_server):
    def dribbled(query, sock) -> None:
        for byte in _framed(_good(zone, query)):
            time.sleep(0.1)
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    port = name_server(dribbled)
    started = time.monotonic()
    answer = DnsClient(port=port, time_left=lambda: 1.0).query_dnskey("client.test", "ns", "127.0.0.1")
    assert answer.dnskey == () and "did not answer within 1.0 s" in answer.error
    assert time.monotonic() - started < 1.5
