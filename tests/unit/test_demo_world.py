"""make run's world (local/demo.py): fixed keys with the KeyTags the README shows, and registry
rows that give the verdicts the README promises, judged offline against what the zones serve."""
from __future__ import annotations

import time

import pytest

from cloud.domain_api import DsRecord
from cloud.dns import ServerAnswer
from deleter.safety import BREAKS, DISABLES, SAFE, judge
from local.demo import demo_seed, demo_zones
from local.emulator.seed import load_seed


@pytest.fixture(scope="module")
def world():
    return demo_zones()


def verdict(world, domain: str, key_tag: int, **options):
    zone, rows = world[domain]
    answer = ServerAnswer("ns1.dns.test", "127.0.53.1", *zone.dnskey_wire())
    return judge(domain, key_tag, [DsRecord(r["KeyTag"], r["Algorithm"], r["DigestType"], r["Digest"]) for r in rows],
                 [answer], time.time(), **options)


def test_the_keys_are_the_same_on_every_run_with_the_tags_the_readme_shows(world):
    tags = {domain: sorted({row["KeyTag"] for row in rows}) for domain, (_, rows) in world.items()}
    assert tags == {"example.net": [31589, 34330], "example.org": [12345, 54321], "example.com": [2371],
                    "xn--bcher-kva.com": [4242, 47311], "example.info": [20326, 44383]}
    assert demo_zones()["example.net"][1] == world["example.net"][1]  # the same digests again
    assert [row["DigestType"] for row in world["example.com"][1]] == [1, 2]  # two rows under one KeyTag


@pytest.mark.parametrize("domain, key_tag, options, code", [
    ("example.net", 31589, {}, SAFE), ("example.net", 34330, {}, SAFE),
    ("example.org", 12345, {}, BREAKS), ("example.org", 54321, {}, SAFE),
    ("example.com", 2371, {}, DISABLES), ("example.com", 2371, {"allow_insecure": True}, SAFE),
    ("xn--bcher-kva.com", 47311, {}, SAFE), ("xn--bcher-kva.com", 4242, {}, BREAKS),
    ("example.info", 20326, {}, SAFE),  # safe: its task fails at the registry (the seed's plan), not here
])
def test_each_deletion_gets_the_verdict_the_readme_promises(world, domain, key_tag, options, code):
    assert verdict(world, domain, key_tag, **options).code == code


def test_the_seed_is_the_default_one_with_these_rows(world):
    seed = demo_seed({domain: rows for domain, (_, rows) in world.items()})
    default = load_seed()
    assert [entry["DomainName"] for entry in seed["domains"]] == [entry["DomainName"] for entry in default["domains"]]
    assert {entry["DomainName"]: entry["DSRecords"] for entry in seed["domains"]} == {
        domain: rows for domain, (_, rows) in world.items()}
    assert seed["topics"] == default["topics"] and seed["credentials"] == default["credentials"]


def test_without_the_loopback_addresses_make_run_turns_the_check_off_and_says_why(monkeypatch):
    import local.dns

    def no_address(*args, **kwargs):
        raise OSError(99, "Cannot assign requested address")

    monkeypatch.setattr(local.dns.LocalDnsServers, "start", no_address)
    from local.demo import DemoWorld

    environ = {}
    demo = DemoWorld.start(environ)
    assert environ == {"SAFETY_CHECK": "off"} and demo.servers is None
    assert demo.lines(lambda body: body) == [
        "DNSSEC safety check off: the local name servers could not listen on 127.0.53.x "
        "([Errno 99] Cannot assign requested address)."]
    assert demo.seed["domains"][1]["DSRecords"][0]["KeyTag"] == 31589  # the same world, unchecked
    demo.stop()
