"""The DNS adapter of the safety check: each name-server address's DNSKEY RRset and its RRSIGs.

    client = DnsClient(resolver=("127.0.0.1", 5353) or None, port=53, time_left=deadline.remaining)
    answers = client.dnskey_answers("example.com")   # -> tuple[ServerAnswer, ...]

The delegation's NS names and their A/AAAA addresses come from a resolver (`resolver`, or the
system's resolver when None). Then every address of every name server is asked, at `port`, over
TCP, with RD clear and DO set, for the domain's DNSKEY RRset; each answer must be authoritative
(AA), carry EDNS with DO echoed, and be NOERROR. What comes back per address is the DNSKEY RDATAs
and the RRSIG RDATAs over them (wire format, plain bytes), or why that address gave none: this
adapter never raises for a DNS failure, it reports it, and deleter.safety.judge turns a report it
cannot judge into SafetyCheckUnavailable.

Every query's timeout is cut to what `time_left()` says the invocation has: none outlives it.
dnspython is imported on the first lookup, not with this module (the function's cold start).
"""
from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

from .http import MIN_CALL_SECONDS, TimeLeft

DEFAULT_PORT = 53
DEFAULT_QUERY_TIMEOUT = 3.0   # seconds for one query, before the invocation's deadline cuts it
EDNS_PAYLOAD = 1232           # the DNS flag day 2020 size; the DNSKEY queries go over TCP anyway
MAX_PARALLEL = 8              # queries in flight at once for one check

Resolver = Tuple[str, int]  # (IP address, port)


@dataclass(frozen=True)
class ServerAnswer:
    """One address's answer: the DNSKEY and RRSIG(DNSKEY) RDATAs, or why there is none to judge.
    name_server and address are "" where the lookup that would have named them failed."""
    name_server: str
    address: str
    dnskey: Tuple[bytes, ...] = ()
    rrsig: Tuple[bytes, ...] = ()
    error: Optional[str] = None


def parse_resolver(text: str) -> Resolver:
    """'192.0.2.53', '192.0.2.53:5353', '[2001:db8::53]:53' or '2001:db8::53' -> (address, port).
    An IP address, not a name: resolving the resolver's name would need a resolver."""
    text = text.strip()
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"not host:port: {text!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"not an IP address: {host!r}") from None
    return address, parse_port(port)


def parse_port(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"not a port number (1..65535): {text!r}")
    return int(text)


class DnsClient:
    def __init__(self, resolver: Optional[Resolver] = None, port: int = DEFAULT_PORT, *,
                 time_left: Optional[TimeLeft] = None, query_timeout: float = DEFAULT_QUERY_TIMEOUT,
                 address_types: Sequence[str] = ("A", "AAAA")) -> None:
        self._resolver_address = resolver
        self._port = port
        self._time_left = time_left
        self._query_timeout = query_timeout
        self._address_types = tuple(address_types)
        self._resolver = None  # dnspython's, made on first use (the system's reads resolv.conf)

    def dnskey_answers(self, domain: str) -> Tuple[ServerAnswer, ...]:
        """Every address of every name server of the domain's delegation, each with its answer."""
        servers, failures = self.name_servers(domain)
        targets = [(name, address) for name, addresses in servers for address in addresses]
        answers = _parallel(lambda target: self.query_dnskey(domain, *target), targets)
        return tuple(failures) + tuple(answers)

    def name_servers(self, domain: str) -> Tuple[Tuple[Tuple[str, Tuple[str, ...]], ...], Tuple[ServerAnswer, ...]]:
        """((ns name, its addresses), ...) and a ServerAnswer for each lookup that failed (an NS
        whose addresses may be incomplete is reported, so the check does not pass without it)."""
        try:
            answer = self._resolve(domain, "NS")
        except Exception as error:  # noqa: BLE001 -- every failure is reported, never raised
            return (), (ServerAnswer("", "", error=f"the name servers of {domain} could not be looked up: "
                                                   f"{_lookup_problem(error)}"),)
        names = sorted({rdata.target.to_text(omit_final_dot=True).lower() for rdata in answer})
        lookups = [(name, rdtype) for name in names for rdtype in self._address_types]
        results = dict(zip(lookups, _parallel(lambda lookup: self._addresses(*lookup), lookups)))
        servers, failures = [], []
        for name in names:
            addresses: list = []
            for rdtype in self._address_types:
                found, problem = results[(name, rdtype)]
                addresses.extend(found)
                if problem:
                    failures.append(ServerAnswer(name, "", error=f"its {rdtype} addresses could not be looked up: "
                                                                 f"{problem}"))
            if addresses:
                servers.append((name, tuple(addresses)))
            elif not any(failure.name_server == name for failure in failures):
                failures.append(ServerAnswer(name, "", error="it has no address"))
        return tuple(servers), tuple(failures)

    def query_dnskey(self, domain: str, name_server: str, address: str) -> ServerAnswer:
        """Ask one address for the DNSKEY RRset: TCP, RD clear, DO set, an authoritative answer."""
        import dns.exception
        import dns.flags
        import dns.message
        import dns.name
        import dns.query
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype

        def failed(why: str) -> ServerAnswer:
            return ServerAnswer(name_server, address, error=why)

        timeout = self._timeout()
        if timeout is None:
            return failed("no time was left in this invocation to ask it")
        owner = dns.name.from_text(domain)
        query = dns.message.make_query(owner, dns.rdatatype.DNSKEY, use_edns=0, want_dnssec=True,
                                       payload=EDNS_PAYLOAD)
        query.flags &= ~dns.flags.RD
        try:
            response = dns.query.tcp(query, address, timeout=timeout, port=self._port)
        except dns.exception.Timeout:
            return failed(f"it did not answer within {timeout:.1f} s")
        except ConnectionRefusedError:
            return failed("it refused the TCP connection")
        except (OSError, EOFError) as error:
            return failed(f"the TCP connection failed ({type(error).__name__}: {error})")
        except dns.exception.DNSException as error:
            return failed(f"its answer is malformed ({type(error).__name__}: {error})")
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            return failed(f"it answered {dns.rcode.to_text(rcode)}")
        if not response.flags & dns.flags.AA:
            return failed("it answered without authority (AA clear): it does not serve the zone")
        if response.flags & dns.flags.TC:
            return failed("its TCP answer was truncated")
        if response.edns < 0 or not response.ednsflags & dns.flags.DO:
            return failed("it did not echo DO, so the signatures it holds may be missing from its answer")
        keys = response.get_rrset(response.answer, owner, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        sigs = response.get_rrset(response.answer, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                                  dns.rdatatype.DNSKEY)
        if keys is None:
            # No DNSKEY: the zone is unsigned there (NODATA), which is judgeable only from the zone's
            # own apex; another zone's SOA (a parent served by the same host) says nothing about it.
            soa = response.get_rrset(response.authority, owner, dns.rdataclass.IN, dns.rdatatype.SOA)
            if soa is None or response.answer:
                return failed("its answer has neither the DNSKEY RRset nor the zone's SOA")
        return ServerAnswer(name_server, address, tuple(rdata.to_wire() for rdata in keys or ()),
                            tuple(rdata.to_wire() for rdata in sigs or ()))

    # --- helpers --------------------------------------------------------------------------------

    def _timeout(self) -> Optional[float]:
        if self._time_left is None:
            return self._query_timeout
        budget = self._time_left()
        return None if budget < MIN_CALL_SECONDS else min(self._query_timeout, budget)

    def _resolve(self, name: str, rdtype: str):
        import dns.resolver

        timeout = self._timeout()
        if timeout is None:
            raise TimeoutError("no time was left in this invocation")
        if self._resolver is None:
            if self._resolver_address is None:
                resolver = dns.resolver.Resolver()
            else:
                import dns.nameserver

                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = [dns.nameserver.Do53Nameserver(*self._resolver_address)]
            resolver.cache = None
            self._resolver = resolver
        # One resend within the query's time when a UDP answer is lost.
        self._resolver.timeout = max(timeout / 2, MIN_CALL_SECONDS)
        return self._resolver.resolve(name, rdtype, lifetime=timeout, search=False)

    def _addresses(self, name: str, rdtype: str) -> Tuple[Tuple[str, ...], Optional[str]]:
        import dns.resolver

        try:
            return tuple(sorted({rdata.address for rdata in self._resolve(name, rdtype)})), None
        except dns.resolver.NoAnswer:
            return (), None  # no address of this type
        except Exception as error:  # noqa: BLE001 -- reported, never raised
            return (), _lookup_problem(error)


def _lookup_problem(error: BaseException) -> str:
    import dns.resolver

    if isinstance(error, dns.resolver.NXDOMAIN):
        return "the name does not exist (NXDOMAIN)"
    if isinstance(error, dns.resolver.NoAnswer):
        return "the resolver has no such records"
    if isinstance(error, (dns.resolver.LifetimeTimeout, TimeoutError)):
        return "the resolver did not answer in time"
    if isinstance(error, dns.resolver.NoNameservers):
        return "the resolver failed (SERVFAIL or refused)"
    return f"{type(error).__name__}: {error}"


def _parallel(call: Callable, items: list) -> list:
    """call(item) for every item, a few at once (each bounded by its own timeout), in order."""
    if len(items) <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items)), thread_name_prefix="dns") as pool:
        return list(pool.map(call, items))
