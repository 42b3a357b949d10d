"""deleter.safety.judge on its own: answers built from signed zones, no network.

The same cases run through the real DNS adapter against real servers in
tests/integration/test_safety_dns.py; here are the edges that need no server."""
from __future__ import annotations

import json
import time

import pytest

from cloud.dns import ServerAnswer
from deleter import safety
from deleter.safety import BREAKS, DISABLES, FORCED, NOT_FOUND, SAFE, UNAVAILABLE, Validator, judge
from local.dns import SignedZone, stale_ds

NOW = time.time()


def answer(zone: SignedZone, address: str = "192.0.2.1", name_server: str = "ns1.example.test") -> ServerAnswer:
    keys, sigs = zone.dnskey_wire()
    return ServerAnswer(name_server, address, keys, sigs)


def test_a_rollover_with_both_keys_signing_is_safe():
    zone = SignedZone.generate("roll.test", (13, 13))
    old, new = zone.keys
    verdict = judge("roll.test", old.key_tag, zone.ds_rows(), [answer(zone)], NOW)
    assert (verdict.code, verdict.allowed) == (SAFE, True)
    assert [row.key_tag for row in verdict.deleted] == [old.key_tag]
    assert [(row.key_tag, row.works_on) for row in verdict.remaining] == [(new.key_tag, ("ns1.example.test (192.0.2.1)",))]


def test_a_key_tag_the_registry_does_not_list_is_not_found_and_force_still_says_so():
    zone = SignedZone.generate("absent.test")
    verdict = judge("absent.test", 1, zone.ds_rows(), [answer(zone)], NOW)
    assert (verdict.code, verdict.allowed, verdict.deleted) == (NOT_FOUND, False, ())
    forced = judge("absent.test", 1, zone.ds_rows(), [answer(zone)], NOW, force=True)
    assert (forced.code, forced.allowed, forced.overridden) == (FORCED, True, NOT_FOUND)


def test_force_overrides_a_refusal_and_says_which():
    zone = SignedZone.generate("force.test")
    zsk = zone.add_key(13, flags=256, signs_dnskey=False)
    rows = zone.ds_rows() + zone.ds_rows(keys=[zsk])
    refused = judge("force.test", zone.keys[0].key_tag, rows, [answer(zone)], NOW)
    assert (refused.code, refused.allowed) == (BREAKS, False)
    forced = judge("force.test", zone.keys[0].key_tag, rows, [answer(zone)], NOW, force=True)
    assert (forced.code, forced.allowed, forced.overridden) == (FORCED, True, BREAKS)
    assert forced.overridden_message == refused.message and BREAKS in forced.message


def test_the_verdict_is_plain_data_that_serialises():
    zone = SignedZone.generate("plain.test")
    verdict = judge("plain.test", zone.keys[0].key_tag, zone.ds_rows((1, 2, 4)), [answer(zone)], NOW)
    document = json.loads(json.dumps(verdict.to_dict()))
    assert document["Code"] == DISABLES and len(document["Deleted"]) == 3
    assert {type(value) for row in document["Deleted"] for value in row.values()} <= {int, str}
    assert document["Servers"][0]["States"][0] == {"Validator": "all+rfc4509", "Before": "secure", "After": "insecure"}


def test_no_answer_at_all_is_unavailable_not_a_pass():
    zone = SignedZone.generate("none.test", (13, 13))
    verdict = judge("none.test", zone.keys[0].key_tag, zone.ds_rows(), [], NOW)
    assert (verdict.code, verdict.transient) == (UNAVAILABLE, True)
    assert "no name server" in verdict.message


def test_an_unjudgeable_server_beside_a_good_one_is_unavailable():
    zone = SignedZone.generate("half.test", (13, 13))
    answers = [answer(zone), ServerAnswer("ns2.example.test", "192.0.2.2", error="it did not answer within 3.0 s")]
    verdict = judge("half.test", zone.keys[0].key_tag, zone.ds_rows(), answers, NOW)
    assert verdict.code == UNAVAILABLE and "ns2.example.test (192.0.2.2): it did not answer" in verdict.message


def test_a_break_seen_on_one_server_is_refused_even_when_another_cannot_be_judged():
    zone = SignedZone.generate("certain.test")
    zsk = zone.add_key(13, flags=256, signs_dnskey=False)
    rows = zone.ds_rows() + zone.ds_rows(keys=[zsk])
    answers = [answer(zone), ServerAnswer("ns2.example.test", "192.0.2.2", error="it refused the TCP connection")]
    assert judge("certain.test", zone.keys[0].key_tag, rows, answers, NOW).code == BREAKS


def test_going_insecure_needs_no_answer_when_it_is_allowed():
    """Without a usable row left no validator can find the domain bogus, whatever the servers say."""
    zone = SignedZone.generate("last.test")
    down = [ServerAnswer("ns1.example.test", "192.0.2.1", error="it did not answer within 3.0 s")]
    assert judge("last.test", zone.keys[0].key_tag, zone.ds_rows(), down, NOW).code == UNAVAILABLE
    allowed = judge("last.test", zone.keys[0].key_tag, zone.ds_rows(), down, NOW, allow_insecure=True)
    assert (allowed.code, allowed.allowed) == (SAFE, True)


def test_rdata_that_does_not_parse_is_unavailable():
    zone = SignedZone.generate("garbled.test", (13, 13))
    garbled = ServerAnswer("ns1.example.test", "192.0.2.1", (b"\x01",), ())
    verdict = judge("garbled.test", zone.keys[0].key_tag, zone.ds_rows(), [garbled], NOW)
    assert verdict.code == UNAVAILABLE and "cannot be read" in verdict.message


def test_an_unsigned_zone_on_a_server_makes_every_row_fail_there():
    zone = SignedZone.generate("unsigned.test", (13, 13))
    nodata = ServerAnswer("ns2.example.test", "192.0.2.2", (), ())
    verdict = judge("unsigned.test", zone.keys[0].key_tag, zone.ds_rows(), [answer(zone), nodata], NOW)
    assert verdict.code == SAFE  # bogus there before and after: not made worse
    [remaining] = verdict.remaining
    assert remaining.fails == (f"ns2.example.test (192.0.2.2): no DNSKEY with key tag {remaining.key_tag} and "
                               f"algorithm 13 (ECDSAP256SHA256) at the zone apex",)


def test_a_key_without_the_zone_flag_does_not_work():
    zone = SignedZone.generate("noflag.test", (13,))
    bad = zone.add_key(13, flags=1)  # SEP only: not a zone key, whatever it signs
    verdict = judge("noflag.test", zone.keys[0].key_tag, zone.ds_rows() + zone.ds_rows(keys=[bad]), [answer(zone)],
                    NOW)
    assert verdict.code == BREAKS and "a zone key needs the Zone flag" in verdict.message


def test_a_digest_for_another_key_with_the_same_tag_does_not_work():
    zone = SignedZone.generate("digest.test", (13, 13))
    first, second = zone.ds_rows()
    wrong = type(second)(second.key_tag, second.algorithm, second.digest_type, first.digest)
    verdict = judge("digest.test", first.key_tag, [first, wrong], [answer(zone)], NOW)
    assert verdict.code == BREAKS and "does not have this digest" in verdict.message


def test_signatures_not_yet_valid_do_not_work():
    zone = SignedZone.generate("early.test")
    future = zone.add_key(13, inception=NOW + 3600, expiration=NOW + 7200)
    verdict = judge("early.test", zone.keys[0].key_tag, zone.ds_rows(), [answer(zone)], NOW)
    assert verdict.code == BREAKS and "is not valid before" in verdict.message
    assert future.key_tag in [row.key_tag for row in verdict.remaining]


def test_the_sha1_rows_an_rfc4509_validator_ignores_need_a_full_length_sha256_row():
    """BIND ignores SHA-1 rows only beside a SHA-256 row of the right length and a supported algorithm."""
    zone = SignedZone.generate("rfc4509.test", (13, 13))
    first, second = zone.keys
    short = type(zone.ds_rows()[0])(54321, 13, 2, "AB" * 20)  # a SHA-256 row with a SHA-1-sized digest
    rows = zone.ds_rows((2,), [first]) + zone.ds_rows((1,), [second]) + (short,)
    assert judge("rfc4509.test", first.key_tag, rows, [answer(zone)], NOW).code == SAFE


def test_several_rows_under_one_key_tag_are_all_deleted_and_reported():
    zone = SignedZone.generate("many.test", (13, 15))
    ecdsa, ed25519 = zone.keys
    rows = zone.ds_rows((1, 2, 4))
    verdict = judge("many.test", ecdsa.key_tag, rows, [answer(zone)], NOW)
    assert verdict.code == SAFE
    assert sorted((row.key_tag, row.digest_type) for row in verdict.deleted) == [(ecdsa.key_tag, 1), (ecdsa.key_tag, 2),
                                                                                 (ecdsa.key_tag, 4)]
    assert [row.key_tag for row in verdict.remaining] == [ed25519.key_tag] * 3


def test_colliding_key_tags_delete_every_row_of_the_tag():
    zone = SignedZone("collide.test")
    seen = {}
    while True:  # about 300 Ed25519 keys before two share a tag (the birthday bound)
        key = zone.add_key(15)
        if key.key_tag in seen:
            break
        seen[key.key_tag] = key
        zone.keys.remove(key)
    twin = seen[key.key_tag]
    zone.keys.append(twin)
    other = zone.add_key(13)
    verdict = judge("collide.test", key.key_tag, zone.ds_rows(), [answer(zone)], NOW)
    assert verdict.code == SAFE and len(verdict.deleted) == 2 and [row.key_tag for row in verdict.remaining] == [
        other.key_tag]


def test_an_algorithm_this_check_cannot_verify_leaves_the_verdict_open():
    """validate_rrsig raises UnsupportedAlgorithm (it does not catch it): judged unknown, not a pass."""
    import dns.dnssec
    import dns.rdata
    import dns.rrset

    zone = SignedZone.generate("gost.test")
    [ecdsa] = zone.keys
    gost = dns.rdata.from_text("IN", "DNSKEY", "257 3 12 " + "A" * 88)
    keys = dns.rrset.from_rdata_list(zone.name, 3600, [ecdsa.dnskey, gost])
    signed = dns.dnssec.sign(keys, ecdsa.private_key, zone.name, ecdsa.dnskey, inception=NOW - 60, lifetime=3600)
    sig = dns.rdata.from_text("IN", "RRSIG", f"DNSKEY 12 2 3600 20991231000000 20000101000000 "
                                             f"{dns.dnssec.key_id(gost)} gost.test. " + "A" * 88)
    gost_ds = dns.dnssec.make_ds(zone.name, gost, 2)
    rows = zone.ds_rows() + (type(zone.ds_rows()[0])(gost_ds.key_tag, 12, 2, gost_ds.digest.hex().upper()),)
    server = ServerAnswer("ns1.example.test", "192.0.2.1", tuple(key.to_wire() for key in keys),
                          (signed.to_wire(), sig.to_wire()))
    gost_validator = Validator("gost", "GOST", frozenset({12, 13}), frozenset({2}), False)
    verdict = judge("gost.test", ecdsa.key_tag, rows, [server], NOW, validators=[gost_validator])
    assert verdict.code == UNAVAILABLE and "cannot verify 12 (ECC-GOST) signatures" in verdict.message
    # The validators modelled by default do not support GOST: the deletion leaves the domain insecure.
    assert judge("gost.test", ecdsa.key_tag, rows, [server], NOW).code == DISABLES


def test_the_validators_cover_the_behaviours_that_differ():
    names = [validator.name for validator in safety.VALIDATORS]
    assert names == ["all+rfc4509", "all", "no-ed448+rfc4509", "no-ed448", "no-rsasha1+rfc4509", "no-rsasha1"]
    assert all(validator.digest_types == {1, 2, 4} for validator in safety.VALIDATORS)


@pytest.mark.parametrize("digest", ["d5e85552 f9177848", "D5E85552F9177848"])
def test_registry_digests_are_compared_as_hex_whatever_their_case_or_spacing(digest):
    row = safety.DsRow.of(type("Row", (), {"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest": digest})())
    assert row.digest == "D5E85552F9177848"


def test_a_stale_row_beside_a_working_one_may_go():
    zone = SignedZone.generate("stale.test")
    stale = stale_ds("stale.test")
    verdict = judge("stale.test", stale.key_tag, zone.ds_rows() + (stale,), [answer(zone)], NOW)
    assert (verdict.code, verdict.allowed) == (SAFE, True)
