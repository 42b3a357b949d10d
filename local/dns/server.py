"""Small DNS servers on loopback addresses: signed authoritative servers and a stub resolver.

    from local.dns import LocalDnsServers, SignedZone

    zone = SignedZone.generate("example.net", algorithms=(13,))
    with LocalDnsServers.start([zone]) as servers:          # ns1/ns2.dns.test on 127.0.53.1 and .2
        client = DnsClient(resolver=servers.resolver, port=servers.port)
        servers["127.0.53.2"].mode = "no-aa"                 # one server misbehaves
        servers["127.0.53.2"].stop()                         # ... or is gone (connection refused)

`LocalDnsServers.start(zones, addresses=..., *, port=0, names=None, delegate=None)`:
- `zones`: a list of SignedZone served by every address, or {address: [zones]} when servers serve
  different zones or different copies of one (multi-signer providers: `zone.variant(...)`);
- every authoritative server listens on its own address (Linux routes all of 127.0.0.0/8 to lo),
  UDP and TCP, all on one port: `port`, or a free one when 0 (the adapter asks every name server
  on one DNS_PORT);
- `names`: {address: NS name} (default ns1.dns.test, ns2.dns.test, ... in order; two addresses
  given one name are one name server with two addresses);
- `delegate`: {zone: {NS name: [addresses]}} for servers run elsewhere (knot, or an address where
  nothing listens), added to what the resolver answers;
- the stub resolver (on RESOLVER_ADDRESS, the same port) answers the NS query of each zone with
  the names of the servers that serve it, and A/AAAA queries for those names: what DNS_RESOLVER
  points at. `servers.environment()` gives {"DNS_RESOLVER": "host:port", "DNS_PORT": "port"}.

An authoritative server answers with AA for its zones (REFUSED for other names), ignores RD, adds
RRSIGs when the query has DO, and truncates UDP answers to the query's EDNS size. Its `mode`
makes it misbehave for tests: "refuse" (REFUSED), "servfail", "no-aa" (answers with AA clear),
"no-edns" (no OPT record, no RRSIGs: a server that ignores DO), "silent" (never answers).
"""
from __future__ import annotations

import socketserver
import struct
import threading
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from .zones import SignedZone

DEFAULT_ADDRESSES = ("127.0.53.1", "127.0.53.2")
RESOLVER_ADDRESS = "127.0.53.53"
MODES = ("normal", "refuse", "servfail", "no-aa", "no-edns", "silent")
BIND_ATTEMPTS = 20
TCP_IDLE_SECONDS = 30


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = False  # a UDP port taken by another test must fail the bind, not be shared


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True  # the next test may bind the port while old connections linger
    block_on_close = False


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.dns.respond(data, tcp=False)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        sock.settimeout(TCP_IDLE_SECONDS)
        try:
            while True:
                size = _read(sock, 2)
                if size is None:
                    return
                data = _read(sock, struct.unpack("!H", size)[0])
                if data is None:
                    return
                reply = self.server.dns.respond(data, tcp=True)
                if reply is not None:
                    sock.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _read(sock, count: int) -> Optional[bytes]:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class DnsServer:
    """UDP and TCP on one (address, port); each query is answered by respond() on a thread."""

    def __init__(self, address: str, port: int = 0) -> None:
        self.address = address
        self.port = port
        self.mode = "normal"
        self.queries: List[Tuple[str, dns.message.Message]] = []  # ("tcp" or "udp", query) as received
        self._servers: List[socketserver.BaseServer] = []

    def start(self) -> "DnsServer":
        tcp = _TcpServer((self.address, self.port), _TcpHandler)
        try:
            udp = _UdpServer((self.address, tcp.server_address[1]), _UdpHandler)
        except OSError:
            tcp.server_close()
            raise
        self.port = tcp.server_address[1]
        for server in (tcp, udp):
            server.dns = self
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"dns-{self.address}", daemon=True).start()
        self._servers = [tcp, udp]
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    @property
    def running(self) -> bool:
        return bool(self._servers)

    def respond(self, wire: bytes, tcp: bool) -> Optional[bytes]:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.flags & dns.flags.QR:
            return None
        self.queries.append(("tcp" if tcp else "udp", query))
        if self.mode == "silent":
            return None
        response = self.answer(query)
        return None if response is None else _to_wire(response, query, tcp)

    def answer(self, query: dns.message.Message) -> Optional[dns.message.Message]:
        raise NotImplementedError


class AuthoritativeServer(DnsServer):
    def __init__(self, address: str, zones: Iterable[SignedZone], port: int = 0, mode: str = "normal") -> None:
        super().__init__(address, port)
        self.zones = list(zones)
        self.mode = mode

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)  # RD echoed, and otherwise ignored
        if self.mode == "refuse" or len(query.question) != 1:
            response.set_rcode(dns.rcode.REFUSED if self.mode == "refuse" else dns.rcode.FORMERR)
            return response
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        question = query.question[0]
        zone = self._zone_for(question.name)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        if self.mode != "no-aa":
            response.flags |= dns.flags.AA
        dnssec = query.edns >= 0 and bool(query.ednsflags & dns.flags.DO)
        if self.mode == "no-edns":
            response.use_edns(False)
            dnssec = False
        elif dnssec:
            response.want_dnssec(True)
        rrset, sigs = zone.lookup(question.name, question.rdtype)
        if rrset is not None:
            section = response.answer
        else:
            if question.name != zone.name:
                response.set_rcode(dns.rcode.NXDOMAIN)
            rrset, sigs = zone.lookup(zone.name, dns.rdatatype.SOA)
            section = response.authority
        section.append(rrset)
        if dnssec and sigs is not None:
            section.append(sigs)
        return response

    def _zone_for(self, name: dns.name.Name) -> Optional[SignedZone]:
        zones = [zone for zone in self.zones if name.is_subdomain(zone.name)]
        return max(zones, key=lambda zone: len(zone.name), default=None)


class StubResolver(DnsServer):
    """Answers like a recursive resolver (RA set, no AA) from a table: each zone's NS names and
    each name server's addresses. Modes: "normal", "servfail", "silent"."""

    def __init__(self, address: str, delegations: Mapping[str, Sequence[str]],
                 hosts: Mapping[str, Sequence[str]], port: int = 0) -> None:
        super().__init__(address, port)
        self.delegations = {dns.name.from_text(zone): [dns.name.from_text(ns) for ns in names]
                            for zone, names in delegations.items()}
        self.hosts = {dns.name.from_text(name): list(addresses) for name, addresses in hosts.items()}

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query, recursion_available=True)
        if self.mode == "servfail" or len(query.question) != 1:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        if rdtype == dns.rdatatype.NS and name in self.delegations:
            response.answer.append(dns.rrset.from_text_list(name, 300, "IN", "NS",
                                                            [ns.to_text() for ns in self.delegations[name]]))
        elif rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and name in self.hosts:
            family = [address for address in self.hosts[name] if (":" in address) == (rdtype == dns.rdatatype.AAAA)]
            if family:
                response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, family))
        elif name not in self.delegations and name not in self.hosts:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


def _to_wire(response: dns.message.Message, query: dns.message.Message, tcp: bool) -> bytes:
    limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer, response.authority, response.additional = [], [], []
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)


ZoneSpec = Union[Sequence[SignedZone], Mapping[str, Sequence[SignedZone]]]


class LocalDnsServers:
    """Authoritative servers on their addresses plus the stub resolver that delegates to them."""

    def __init__(self, servers: Dict[str, AuthoritativeServer], resolver: StubResolver) -> None:
        self.servers = servers
        self.stub = resolver

    @classmethod
    def start(cls, zones: ZoneSpec, addresses: Sequence[str] = DEFAULT_ADDRESSES, *, port: int = 0,
              names: Optional[Mapping[str, str]] = None,
              delegate: Optional[Mapping[str, Mapping[str, Sequence[str]]]] = None,
              resolver_address: str = RESOLVER_ADDRESS) -> "LocalDnsServers":
        served = dict(zones) if isinstance(zones, Mapping) else {address: list(zones) for address in addresses}
        names = dict(names or {})
        for index, address in enumerate(served):
            names.setdefault(address, f"ns{index + 1}.dns.test")
        delegations: Dict[str, List[str]] = {}
        hosts: Dict[str, List[str]] = {}
        for address, zone_list in served.items():
            hosts.setdefault(names[address], []).append(address)
            for zone in zone_list:
                _add(delegations.setdefault(zone.domain, []), names[address])
        for zone_name, servers in (delegate or {}).items():
            for ns_name, ns_addresses in servers.items():
                _add(delegations.setdefault(zone_name.rstrip("."), []), ns_name)
                hosts.setdefault(ns_name, []).extend(ns_addresses)
        last_error: Optional[OSError] = None
        for _ in range(1 if port else BIND_ATTEMPTS):
            started: List[DnsServer] = []
            try:
                resolver = StubResolver(resolver_address, delegations, hosts, port).start()
                started.append(resolver)
                servers = {}
                for address, zone_list in served.items():
                    servers[address] = AuthoritativeServer(address, zone_list, resolver.port).start()
                    started.append(servers[address])
                return cls(servers, resolver)
            except OSError as error:  # the port is taken on one of the addresses: try another
                last_error = error
                for server in started:
                    server.stop()
        raise OSError(f"no port free on all of {[resolver_address, *served]}: {last_error}")

    @property
    def port(self) -> int:
        """The one port every server listens on (DNS_PORT)."""
        return self.stub.port

    @property
    def resolver(self) -> Tuple[str, int]:
        """(address, port) of the stub resolver (DNS_RESOLVER)."""
        return self.stub.address, self.stub.port

    def environment(self) -> Dict[str, str]:
        return {"DNS_RESOLVER": f"{self.stub.address}:{self.stub.port}", "DNS_PORT": str(self.port)}

    def __getitem__(self, address: str) -> AuthoritativeServer:
        return self.servers[address]

    def stop(self) -> None:
        for server in [self.stub, *self.servers.values()]:
            if server.running:
                server.stop()

    def __enter__(self) -> "LocalDnsServers":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _add(names: List[str], name: str) -> None:
    if name not in names:
        names.append(name)
