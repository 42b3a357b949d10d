"""Cross-check with another implementation: Knot DNS signs and serves a zone, its keymgr computes
the DS rows, and the adapter and the verdict must agree with both (our own signer and DS code play
no part). Debian's `knot` package; skipped where it is not installed."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import pytest

from cloud.dns import DnsClient
from deleter.safety import BREAKS, DISABLES, SAFE, DsRow, judge
from local.dns import LocalDnsServers

KNOTD = shutil.which("knotd") or shutil.which("knotd", path="/usr/sbin")
KEYMGR = shutil.which("keymgr") or shutil.which("keymgr", path="/usr/sbin")

@pytest.fixture(autouse=True)
def knot_installed():
    """Skipped on a developer's machine without Knot; failed under CI, which installs it (.ci/run)."""
    if not (KNOTD and KEYMGR):
        if os.environ.get("CI"):
            pytest.fail("Knot DNS is not installed: CI must install Debian's knot (.ci/run does)")
        pytest.skip("Knot DNS (Debian: apt-get install knot) is not installed")

ZONE = "knot.test"
ADDRESS = "127.0.53.20"
LABEL = f"ns.{ZONE} ({ADDRESS})"

CONFIG = """\
server:
    rundir: "{root}/run"
    listen: {address}@{port}
database:
    storage: "{root}/db"
keystore:
  - id: pem
    backend: pem
    config: "{root}/keys"
policy:
  - id: split
    keystore: pem
    algorithm: ecdsap256sha256
template:
  - id: default
    storage: "{root}/zones"
    dnssec-signing: on
    dnssec-policy: split
    zonefile-sync: -1
zone:
  - domain: {zone}
    file: "{zone}.zone"
"""


def _signed(port: int) -> bool:
    query = dns.message.make_query(ZONE, "DNSKEY", want_dnssec=True)
    try:
        return len(dns.query.tcp(query, ADDRESS, port=port, timeout=1).answer) == 2
    except (dns.exception.DNSException, OSError):
        return False


@pytest.fixture(scope="module")
def knot(tmp_path_factory):
    """(the stub resolver delegating knot.test to knotd, config path); knotd signs with a KSK and a ZSK."""
    root = tmp_path_factory.mktemp("knot")
    for folder in ("run", "db", "keys", "zones"):
        (root / folder).mkdir()
    (root / "zones" / f"{ZONE}.zone").write_text(
        f"{ZONE}. 3600 IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 7200 3600 1209600 300\n"
        f"{ZONE}. 3600 IN NS ns.{ZONE}.\n")
    with LocalDnsServers.start({}, delegate={ZONE: {f"ns.{ZONE}": [ADDRESS]}}) as servers:
        config = root / "knot.conf"
        config.write_text(CONFIG.format(root=root, address=ADDRESS, port=servers.port, zone=ZONE))
        log = (root / "knotd.log").open("w")
        process = subprocess.Popen([KNOTD, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while not _signed(servers.port):
                assert process.poll() is None and time.monotonic() < deadline, (root / "knotd.log").read_text()
                time.sleep(0.1)
            yield servers, config
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()


def keymgr(config: Path, *arguments: str) -> str:
    return subprocess.run([KEYMGR, "-c", str(config), ZONE, *arguments], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def knot_keys(config: Path) -> dict:
    """{"KSK": tag, "ZSK": tag} from keymgr's list."""
    keys = {}
    for line in keymgr(config, "list").splitlines():
        fields = line.split()
        keys[fields[2]] = int(fields[1])
    return keys


def knot_ds(config: Path, key_tag: int) -> tuple:
    """keymgr's DS rows for one key, as the registry would list them (upper-case hex)."""
    rows = []
    for line in keymgr(config, "ds", str(key_tag)).splitlines():
        _, _, tag, algorithm, digest_type, digest = line.split()
        rows.append(DsRow(int(tag), int(algorithm), int(digest_type), digest.upper()))
    return tuple(rows)


def check(servers, key_tag: int, rows, **options):
    answers = DnsClient(resolver=servers.resolver, port=servers.port, time_left=lambda: 10.0).dnskey_answers(ZONE)
    return judge(ZONE, key_tag, rows, answers, time.time(), **options)


def test_knots_ksk_works_and_its_zsk_does_not_sign_the_dnskey_rrset(knot):
    servers, config = knot
    keys = knot_keys(config)
    ksk_rows, zsk_rows = knot_ds(config, keys["KSK"]), knot_ds(config, keys["ZSK"])
    assert {row.digest_type for row in ksk_rows} == {2, 4}

    verdict = check(servers, keys["KSK"], ksk_rows + zsk_rows)
    assert verdict.code == BREAKS
    assert {row.reason for server in verdict.servers for row in server.rows if row.key_tag == keys["KSK"]} == {""}
    assert verdict.remaining[0].fails[0] == (f"{LABEL}: the DNSKEY with key tag {keys['ZSK']} does not sign the "
                                             f"DNSKEY RRset (no RRSIG made by it)")
    assert check(servers, keys["ZSK"], ksk_rows + zsk_rows).code == SAFE


def test_deleting_knots_only_ds_turns_dnssec_off(knot):
    servers, config = knot
    ksk_rows = knot_ds(config, knot_keys(config)["KSK"])
    assert check(servers, ksk_rows[0].key_tag, ksk_rows).code == DISABLES
    assert check(servers, ksk_rows[0].key_tag, ksk_rows, allow_insecure=True).code == SAFE
