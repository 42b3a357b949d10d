"""cloud.dns.DnsClient against the local servers: how it asks, and every way an answer fails."""
from __future__ import annotations

import time

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest

from cloud.dns import DnsClient, ServerAnswer
from local.dns import LocalDnsServers, SignedZone


@pytest.fixture(scope="module")
def zone():
    return SignedZone.generate("client.test", (13, 15))


@pytest.fixture
def servers(zone):
    with LocalDnsServers.start([zone]) as started:
        yield started


def client(servers, **options) -> DnsClient:
    options.setdefault("time_left", lambda: 10.0)
    return DnsClient(resolver=servers.resolver, port=servers.port, **options)


def test_every_address_is_asked_over_tcp_without_recursion_with_do(servers, zone):
    answers = client(servers).dnskey_answers("client.test")
    keys, sigs = zone.dnskey_wire()
    assert [(a.name_server, a.address, a.error) for a in answers] == [("ns1.dns.test", "127.0.53.1", None),
                                                                      ("ns2.dns.test", "127.0.53.2", None)]
    assert all(set(a.dnskey) == set(keys) and set(a.rrsig) == set(sigs) for a in answers)
    for address in ("127.0.53.1", "127.0.53.2"):
        [(transport, query)] = servers[address].queries
        assert transport == "tcp" and not query.flags & dns.flags.RD and query.ednsflags & dns.flags.DO
        assert query.question[0].rdtype == dns.rdatatype.DNSKEY
    asked = sorted((q.question[0].name.to_text(), dns.rdatatype.to_text(q.question[0].rdtype))
                   for _, q in servers.stub.queries)
    assert asked == [("client.test.", "NS"), ("ns1.dns.test.", "A"), ("ns1.dns.test.", "AAAA"),
                     ("ns2.dns.test.", "A"), ("ns2.dns.test.", "AAAA")]


def test_a_name_server_with_two_addresses_is_asked_at_both(zone):
    names = {"127.0.53.1": "ns.twice.test", "127.0.53.2": "ns.twice.test"}
    with LocalDnsServers.start([zone], names=names) as servers:
        answers = client(servers).dnskey_answers("client.test")
    assert [(a.name_server, a.address, a.error) for a in answers] == [("ns.twice.test", "127.0.53.1", None),
                                                                      ("ns.twice.test", "127.0.53.2", None)]


@pytest.mark.parametrize("mode, error", [
    ("refuse", "it answered REFUSED"),
    ("servfail", "it answered SERVFAIL"),
    ("no-aa", "it answered without authority (AA clear): it does not serve the zone"),
    ("no-edns", "it did not echo DO, so the signatures it holds may be missing from its answer"),
])
def test_an_answer_that_cannot_be_judged_says_why(servers, mode, error):
    servers["127.0.53.2"].mode = mode
    first, second = client(servers).dnskey_answers("client.test")
    assert first.error is None and (second.address, second.error) == ("127.0.53.2", error)


def test_a_silent_server_is_given_up_on_within_the_time_left(servers):
    servers["127.0.53.1"].mode = "silent"
    started = time.monotonic()
    first, second = client(servers, time_left=lambda: 0.4).dnskey_answers("client.test")
    assert time.monotonic() - started < 2.0  # three rounds (NS, addresses, DNSKEY), each cut to 0.4 s
    assert first.error == "it did not answer within 0.4 s" and second.error is None


def test_no_query_is_sent_without_time_left(servers):
    answers = client(servers, time_left=lambda: 0.0).dnskey_answers("client.test")
    assert [answer.error for answer in answers] == [
        "the name servers of client.test could not be looked up: the resolver did not answer in time"]
    assert servers.stub.queries == [] and servers["127.0.53.1"].queries == []


def test_a_server_that_refuses_connections(servers):
    servers["127.0.53.1"].stop()
    first, _ = client(servers).dnskey_answers("client.test")
    assert (first.address, first.error) == ("127.0.53.1", "it refused the TCP connection")


def test_a_domain_the_resolver_does_not_know(servers):
    [failure] = client(servers).dnskey_answers("unknown.test")
    assert failure == ServerAnswer("", "", error="the name servers of unknown.test could not be looked up: "
                                                 "the name does not exist (NXDOMAIN)")


@pytest.mark.parametrize("mode, why", [("servfail", "the resolver failed (SERVFAIL or refused)"),
                                       ("silent", "the resolver did not answer in time")])
def test_a_resolver_that_fails(servers, mode, why):
    servers.stub.mode = mode
    [failure] = client(servers, time_left=lambda: 0.5).dnskey_answers("client.test")
    assert failure.error == f"the name servers of client.test could not be looked up: {why}"


def test_a_name_server_without_an_address_is_reported(zone):
    with LocalDnsServers.start([zone], delegate={"client.test": {"ns.nowhere.test": []}}) as servers:
        answers = client(servers).dnskey_answers("client.test")
    assert ServerAnswer("ns.nowhere.test", "", error="it has no address") in answers
    assert sum(answer.error is None for answer in answers) == 2


def test_a_delegated_address_where_nothing_listens(zone):
    with LocalDnsServers.start([zone], delegate={"client.test": {"ns.gone.test": ["127.0.53.9"]}}) as servers:
        answers = client(servers).dnskey_answers("client.test")
    assert ServerAnswer("ns.gone.test", "127.0.53.9", error="it refused the TCP connection") in answers


def test_a_server_asked_for_a_zone_it_does_not_serve_refuses(zone):
    other = SignedZone.generate("other.test")
    with LocalDnsServers.start({"127.0.53.1": [zone], "127.0.53.2": [other]},
                               delegate={"client.test": {"ns2.dns.test": []}}) as servers:
        answers = client(servers).dnskey_answers("client.test")
    assert [(a.address, a.error) for a in answers] == [("127.0.53.1", None), ("127.0.53.2", "it answered REFUSED")]


def test_an_unsigned_zone_answers_nodata_which_is_an_answer(servers):
    unsigned = SignedZone("unsigned.test")
    with LocalDnsServers.start([unsigned]) as local:
        answers = client(local).dnskey_answers("unsigned.test")
    assert [(a.dnskey, a.rrsig, a.error) for a in answers] == [((), (), None), ((), (), None)]


def test_the_local_server_honours_do_and_truncates_udp(servers, zone):
    address, port = "127.0.53.1", servers.port
    plain = dns.query.udp(dns.message.make_query("client.test", "DNSKEY"), address, port=port, timeout=2)
    assert plain.flags & dns.flags.AA and [r.rdtype for r in plain.answer] == [dns.rdatatype.DNSKEY]
    signed = dns.query.tcp(dns.message.make_query("client.test", "DNSKEY", want_dnssec=True), address, port=port,
                           timeout=2)
    assert sorted(r.rdtype for r in signed.answer) == [dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY]
    with LocalDnsServers.start([SignedZone.generate("rsa.test", (8, 8))]) as local:  # 4 x 256+ bytes
        small = dns.query.udp(dns.message.make_query("rsa.test", "DNSKEY", want_dnssec=True, payload=512),
                              address, port=local.port, timeout=2)
    assert small.flags & dns.flags.TC and not small.answer
