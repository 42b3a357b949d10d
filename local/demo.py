"""`make run`'s world: signed zones for the seeded domains, served on 127.0.53.x, and an emulator
seed whose DS rows match those zones' keys, so the DNSSEC safety check has something real to judge.

    demo = DemoWorld.start(os.environ)   # sets DNS_RESOLVER and DNS_PORT for the function
    start_local_cloud(os.environ, seed=demo.seed)
    print("\\n".join(demo.lines(curl)))  # what to try, as curl lines
    demo.stop()

Every key is ECDSA P-256 (algorithm 13), derived from a fixed seed (local/dns/zones.py), so the
KeyTags are the same on every run: the ones local/emulator/seed.json, tests/events and the README
use, found by trying seeds (`make-run <n>`), plus two other keys.

| domain            | keys at the zone apex                              | DS rows at the registry   | deleting             |
|-------------------|----------------------------------------------------|---------------------------|----------------------|
| example.net       | 31589 and 34330, both signing (a KSK rollover)      | 31589, 34330              | either: safe (202)   |
| example.org       | 12345 signing; 54321 published, not yet signing    | 12345, 54321              | 12345: breaks (409); 54321: safe |
| example.com       | 2371                                               | 2371 SHA-1 and SHA-256    | 2371: turns DNSSEC off (409; with AllowInsecure, 202) |
| xn--bcher-kva.com | 4242                                               | 4242, 47311 (stale: no such key) | 47311: safe (the usual repair); 4242: breaks (409) |
| example.info      | 20326 and 44383, both signing                       | 20326, 44383              | either: safe, but the seed plans its task to fail (DSDelFailed) |

Without the loopback addresses (macOS has only 127.0.0.1 unless aliased), the world is still
seeded, and the function runs with SAFETY_CHECK=off: said on start, and in every answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from local.emulator.seed import load_seed

ALGORITHM = 13
# KeyTag -> the seed of its key (make_private_key(13, seed) has that key tag).
KEY_SEEDS = {31589: b"make-run 4664", 2371: b"make-run 67154", 12345: b"make-run 70835", 54321: b"make-run 37549",
             4242: b"make-run 14740", 34330: b"make-run example.net next", 47311: b"make-run xn--bcher-kva.com stale",
             20326: b"make-run example.info 90341", 44383: b"make-run example.info next"}
REFUSED_REQUEST = {"DomainName": "example.org", "KeyTag": 12345}


def demo_zones() -> Dict[str, object]:
    """{domain: (SignedZone, its DS rows at the registry as the seed has them)}."""
    from local.dns.zones import SignedZone, ds_record, make_private_key  # dnspython: only when make run starts

    def zone(name: str, *keys: tuple) -> "SignedZone":
        signed = SignedZone(name)
        for key_tag, options in keys:
            signed.add_key(ALGORITHM, private_key=make_private_key(ALGORITHM, KEY_SEEDS[key_tag]), **options)
        assert [key.key_tag for key in signed.keys] == [key_tag for key_tag, _ in keys], name
        return signed

    net = zone("example.net", (31589, {}), (34330, {}))
    org = zone("example.org", (12345, {}), (54321, {"signs_dnskey": False, "signs_zone": False}))
    com = zone("example.com", (2371, {}))
    bucher = zone("xn--bcher-kva.com", (4242, {}))
    info = zone("example.info", (20326, {}), (44383, {}))  # safe to delete either: its task is the one that fails
    stale_key = make_private_key(ALGORITHM, KEY_SEEDS[47311]).public_key().to_dnskey(flags=257)
    stale = ds_record(bucher.name, stale_key, 2)
    return {
        "example.net": (net, net.ds_seed()),
        "example.org": (org, org.ds_seed()),
        "example.com": (com, com.ds_seed((1, 2))),
        "example.info": (info, info.ds_seed()),
        "xn--bcher-kva.com": (bucher, bucher.ds_seed() + [{"KeyTag": stale.key_tag, "Algorithm": stale.algorithm,
                                                           "DigestType": stale.digest_type, "Digest": stale.digest}]),
    }


def demo_seed(rows: Dict[str, List[dict]]) -> dict:
    """The default seed (accounts, topics, queues) with its domains' DS rows replaced by `rows`."""
    seed = load_seed()
    for entry in seed["domains"]:
        entry["DSRecords"] = rows[entry["DomainName"]]
    return seed


@dataclass
class DemoWorld:
    seed: dict
    servers: Optional[object]  # local.dns.LocalDnsServers, or None when they could not start
    problem: str = ""

    @classmethod
    def start(cls, environ: Dict[str, str]) -> "DemoWorld":
        """Serve the zones and point the function at them (DNS_RESOLVER, DNS_PORT); when no server
        can listen, turn the safety check off (SAFETY_CHECK=off) and say why in `problem`."""
        from local.dns import LocalDnsServers

        world = demo_zones()
        seed = demo_seed({domain: rows for domain, (_, rows) in world.items()})
        try:
            servers = LocalDnsServers.start([zone for zone, _ in world.values()])
        except OSError as error:
            environ["SAFETY_CHECK"] = "off"
            return cls(seed, None, f"the local name servers could not listen on 127.0.53.x ({error})")
        environ.update(servers.environment())
        return cls(seed, servers)

    def lines(self, curl: Callable[[str], str]) -> List[str]:
        """What to print after the first curl line: the name servers, and a refusal to try."""
        if self.servers is None:
            return [f"DNSSEC safety check off: {self.problem}."]
        names = ", ".join(sorted(self.seed_domains()))
        addresses = " and ".join(self.servers.servers)
        return [f"Signed zones of {names} on {addresses} port {self.servers.port} "
                f"(resolver {self.servers.stub.address}:{self.servers.port}): the DNSSEC safety check asks them.",
                "A deletion the safety check refuses (example.org's other key does not sign yet: 409):",
                curl(json.dumps(REFUSED_REQUEST))]

    def seed_domains(self) -> List[str]:
        return [entry["DomainName"] for entry in self.seed["domains"]]

    def stop(self) -> None:
        if self.servers is not None:
            self.servers.stop()
