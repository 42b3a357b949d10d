"""The safety check end to end: real signed authoritative servers on 127.0.53.x, the stub resolver
for the delegation, the real DNS adapter (cloud.dns), and deleter.safety.judge on what it fetched."""
from __future__ import annotations

import time

import pytest

from cloud.dns import DnsClient
from deleter.safety import BREAKS, DISABLES, SAFE, UNAVAILABLE, judge
from local.dns import LocalDnsServers, SignedZone, stale_ds

NS1, NS2 = "ns1.dns.test (127.0.53.1)", "ns2.dns.test (127.0.53.2)"


@pytest.fixture
def serve():
    """serve(zones, ...) -> LocalDnsServers, stopped after the test."""
    started = []

    def start(zones, *args, **kwargs) -> LocalDnsServers:
        started.append(LocalDnsServers.start(zones, *args, **kwargs))
        return started[-1]

    yield start
    for servers in started:
        servers.stop()


def check(servers: LocalDnsServers, domain: str, key_tag: int, rows, **options):
    client = DnsClient(resolver=servers.resolver, port=servers.port, time_left=lambda: 10.0, query_timeout=2.0)
    return judge(domain, key_tag, rows, client.dnskey_answers(domain), time.time(), **options)


@pytest.mark.parametrize("algorithm", [13, 15, 8], ids=["ECDSAP256", "Ed25519", "RSASHA256"])
def test_a_double_ds_rollover_is_safe(serve, algorithm):
    zone = SignedZone.generate(f"rollover-{algorithm}.test", (algorithm, algorithm))
    old, new = zone.keys
    servers = serve([zone])
    verdict = check(servers, zone.domain, old.key_tag, zone.ds_rows())
    assert (verdict.code, verdict.allowed) == (SAFE, True), verdict.message
    assert [finding.label for finding in verdict.servers] == [NS1, NS2]
    assert [(row.key_tag, row.works_on) for row in verdict.remaining] == [(new.key_tag, (NS1, NS2))]


def test_the_only_remaining_ds_for_a_key_that_does_not_sign_the_dnskey_rrset_is_refused(serve):
    """A DS for the ZSK: it signs the zone's data but not the DNSKEY RRset."""
    zone = SignedZone.generate("zsk.test", (13,))
    ksk = zone.keys[0]
    zsk = zone.add_key(13, flags=256, signs_dnskey=False)
    servers = serve([zone])
    verdict = check(servers, zone.domain, ksk.key_tag, zone.ds_rows(keys=[ksk, zsk]))
    assert (verdict.code, verdict.allowed) == (BREAKS, False)
    [remaining] = verdict.remaining
    assert remaining.key_tag == zsk.key_tag and remaining.works_on == ()
    why = f"the DNSKEY with key tag {zsk.key_tag} does not sign the DNSKEY RRset (no RRSIG made by it)"
    assert remaining.fails == (f"{NS1}: {why}", f"{NS2}: {why}")
    assert NS1 in verdict.message and why in verdict.message


def test_a_prepublished_ksk_not_yet_signing_cannot_take_over(serve):
    zone = SignedZone.generate("prepublished.test", (13,))
    active = zone.keys[0]
    waiting = zone.add_key(13, signs_dnskey=False, signs_zone=False)
    servers = serve([zone])
    verdict = check(servers, zone.domain, active.key_tag, zone.ds_rows())
    assert verdict.code == BREAKS and [row.key_tag for row in verdict.remaining] == [waiting.key_tag]
    # Once it signs, the same deletion is the rollover's last step.
    zone.update(waiting, signs_dnskey=True, signs_zone=True)
    assert check(servers, zone.domain, active.key_tag, zone.ds_rows()).code == SAFE


def test_deleting_the_last_ds_turns_dnssec_off_only_when_allowed(serve):
    zone = SignedZone.generate("last.test", (15,))
    servers = serve([zone])
    [key] = zone.keys
    refused = check(servers, zone.domain, key.key_tag, zone.ds_rows())
    assert (refused.code, refused.allowed, refused.remaining) == (DISABLES, False, ())
    allowed = check(servers, zone.domain, key.key_tag, zone.ds_rows(), allow_insecure=True)
    assert (allowed.code, allowed.allowed) == (SAFE, True) and "turns DNSSEC off" in allowed.message


def test_removing_a_stale_ds_is_allowed(serve):
    zone = SignedZone.generate("stale.test", (13,))
    stale = stale_ds(zone.domain, 13)
    servers = serve([zone])
    verdict = check(servers, zone.domain, stale.key_tag, zone.ds_rows() + (stale,))
    assert (verdict.code, verdict.allowed) == (SAFE, True)


def test_removing_the_stale_ds_of_a_broken_domain_is_the_repair(serve):
    """The child rolled to a new key without a DS for it: the only DS is stale (bogus). Removing it
    makes the domain insecure, which is better than bogus: no allow_insecure needed."""
    zone = SignedZone.generate("broken.test", (13,))
    old = zone.add_key(13, published=False, signs_dnskey=False, signs_zone=False)
    servers = serve([zone])
    verdict = check(servers, zone.domain, old.key_tag, zone.ds_rows(keys=[old]))
    assert (verdict.code, verdict.allowed) == (SAFE, True)
    assert "removes a stale DS record" in verdict.message
    assert {state.before for finding in verdict.servers for state in finding.states} == {"bogus"}
    # Two stale rows: removing one leaves it bogus, which is not worse.
    other = stale_ds(zone.domain, 13)
    assert check(servers, zone.domain, old.key_tag, zone.ds_rows(keys=[old]) + (other,)).code == SAFE


def test_two_providers_signing_with_their_own_keys_each_judged_on_their_own(serve):
    """Multi-signer: both providers publish both keys, each signs with its own. Deleting provider A's
    DS leaves B's, which A's servers do not sign with: bogus there."""
    zone_a = SignedZone.generate("multi.test", (13,))
    key_a = zone_a.keys[0]
    key_b = zone_a.add_key(13)
    provider_a = zone_a.variant(signers=[key_a])
    provider_b = zone_a.variant(signers=[key_b])
    servers = serve({"127.0.53.1": [provider_a], "127.0.53.2": [provider_b]},
                    names={"127.0.53.1": "ns1.provider-a.test", "127.0.53.2": "ns1.provider-b.test"})
    rows = zone_a.ds_rows()
    verdict = check(servers, "multi.test", key_a.key_tag, rows)
    assert verdict.code == BREAKS
    assert "ns1.provider-a.test (127.0.53.1)" in verdict.message
    assert "ns1.provider-b.test (127.0.53.2)" not in verdict.message.split("The DS records that would remain")[0]
    assert check(servers, "multi.test", key_b.key_tag, rows).code == BREAKS
    # Different DNSKEY RRsets per provider are not a disagreement: a stale third row may go.
    stale = stale_ds("multi.test")
    assert check(servers, "multi.test", stale.key_tag, rows + (stale,)).code == SAFE


def test_the_rfc4509_trap_is_refused(serve):
    """Left: a working SHA-1 row and a stale SHA-256 row. Unbound uses the SHA-1 row (secure); BIND
    ignores SHA-1 beside SHA-256 and finds only the stale row: bogus."""
    zone = SignedZone.generate("rfc4509.test", (13, 13))
    first, second = zone.keys
    stale = stale_ds(zone.domain, 13, 2)
    rows = zone.ds_rows((2,), [first]) + zone.ds_rows((1,), [second]) + (stale,)
    servers = serve([zone])
    verdict = check(servers, zone.domain, first.key_tag, rows)
    assert verdict.code == BREAKS
    assert (f"on {NS1}, {NS2} for validators that ignore SHA-1 DS rows beside SHA-256 ones (RFC 4509, as BIND does)"
            in verdict.message)
    states = {state.validator: (state.before, state.after) for state in verdict.servers[0].states}
    assert states["all+rfc4509"] == ("secure", "bogus") and states["all"] == ("secure", "secure")
    sha1 = next(row for row in verdict.remaining if row.digest_type == 1)
    assert sha1.works_on == (NS1, NS2) and "all+rfc4509" in sha1.ignored_by


def test_only_unsupported_algorithms_left_is_insecure_for_those_validators(serve):
    zone = SignedZone.generate("ed448.test", (13, 16))
    ecdsa, ed448 = zone.keys
    servers = serve([zone])
    verdict = check(servers, zone.domain, ecdsa.key_tag, zone.ds_rows())
    assert verdict.code == DISABLES and f"on {NS1}, {NS2} for validators with no Ed448." in verdict.message
    states = {state.validator: state.after for state in verdict.servers[0].states}
    assert states == {"all+rfc4509": "secure", "all": "secure", "no-ed448+rfc4509": "insecure",
                      "no-ed448": "insecure", "no-rsasha1+rfc4509": "secure", "no-rsasha1": "secure"}
    assert check(servers, zone.domain, ecdsa.key_tag, zone.ds_rows(), allow_insecure=True).code == SAFE


def test_a_row_of_an_algorithm_no_validator_supports_counts_as_absent(serve):
    zone = SignedZone.generate("dsa.test", (13,))
    dsa_row = type(zone.ds_rows()[0])(4242, 3, 2, "AB" * 32)  # DSA: RFC 8624 says not to validate it
    servers = serve([zone])
    verdict = check(servers, zone.domain, zone.keys[0].key_tag, zone.ds_rows() + (dsa_row,))
    assert verdict.code == DISABLES
    assert verdict.remaining[0].ignored_by == ("all+rfc4509", "all", "no-ed448+rfc4509", "no-ed448",
                                               "no-rsasha1+rfc4509", "no-rsasha1")


def test_expired_signatures_do_not_work(serve):
    zone = SignedZone.generate("expired.test", (13,))
    fresh = zone.keys[0]
    expired = zone.add_key(13, inception=time.time() - 30 * 86400, expiration=time.time() - 86400)
    servers = serve([zone])
    verdict = check(servers, zone.domain, fresh.key_tag, zone.ds_rows())
    assert verdict.code == BREAKS and "its RRSIG over the DNSKEY RRset expired at" in verdict.message
    assert [row.key_tag for row in verdict.remaining] == [expired.key_tag]


def test_an_unreachable_server_makes_the_check_unavailable(serve):
    zone = SignedZone.generate("unreachable.test", (13, 13))
    servers = serve([zone])
    servers["127.0.53.2"].stop()
    verdict = check(servers, zone.domain, zone.keys[0].key_tag, zone.ds_rows())
    assert (verdict.code, verdict.allowed, verdict.transient) == (UNAVAILABLE, False, True)
    assert f"{NS2}: it refused the TCP connection" in verdict.message


def test_a_server_answering_without_authority_makes_the_check_unavailable(serve):
    zone = SignedZone.generate("lame.test", (13, 13))
    servers = serve([zone])
    servers["127.0.53.1"].mode = "no-aa"
    verdict = check(servers, zone.domain, zone.keys[0].key_tag, zone.ds_rows())
    assert verdict.code == UNAVAILABLE and f"{NS1}: it answered without authority" in verdict.message


def test_several_ds_rows_under_the_key_tag_are_all_reported(serve):
    zone = SignedZone.generate("digests.test", (13, 15))
    ecdsa, ed25519 = zone.keys
    rows = zone.ds_rows((1, 2, 4))
    servers = serve([zone])
    verdict = check(servers, zone.domain, ecdsa.key_tag, rows)
    assert verdict.code == SAFE
    assert [(row.key_tag, row.digest_type) for row in verdict.deleted] == [(ecdsa.key_tag, 1), (ecdsa.key_tag, 2),
                                                                           (ecdsa.key_tag, 4)]
    assert [(row.key_tag, row.digest_type) for row in verdict.remaining] == [(ed25519.key_tag, 1),
                                                                             (ed25519.key_tag, 2),
                                                                             (ed25519.key_tag, 4)]
    assert {row["DigestType"] for row in verdict.to_dict()["Deleted"]} == {1, 2, 4}
