"""`python -m local.dns example.net:13 example.com:15,13 --seed demo`: signed zones served locally.

Starts the authoritative servers (127.0.53.1 and .2) and the stub resolver for the zones, one key
per listed algorithm (derived from --seed, so the same seed gives the same keys and DS rows), then
prints the environment for the function (DNS_RESOLVER, DNS_PORT) and the DS rows to seed the
emulator with, as one JSON object, and serves until interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading

from .server import LocalDnsServers
from .zones import SignedZone


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zones", nargs="+", metavar="NAME:ALG[,ALG...]")
    parser.add_argument("--seed", default="ds-record-deleter", help="keys derive from it (no RSA)")
    parser.add_argument("--port", type=int, default=0, help="every server's port (0: a free one)")
    parser.add_argument("--digest-types", default="2", help="of the printed DS rows, e.g. 1,2")
    options = parser.parse_args(argv)
    digest_types = [int(value) for value in options.digest_types.split(",")]
    zones = []
    for spec in options.zones:
        name, _, algorithms = spec.partition(":")
        zones.append(SignedZone.generate(name, [int(a) for a in (algorithms or "13").split(",")],
                                         seed=options.seed.encode()))
    with LocalDnsServers.start(zones, port=options.port) as servers:
        print(json.dumps({"environment": servers.environment(),
                          "DSRecords": {zone.domain: zone.ds_seed(digest_types) for zone in zones}}, indent=2),
              flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
