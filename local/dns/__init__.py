"""Local signed authoritative DNS servers for the safety check's tests and `make run`.

zones.py: SignedZone (keys, signatures, the matching DS rows); server.py: LocalDnsServers (the
authoritative servers on 127.0.53.x and the stub resolver that delegates to them).
"""
from .server import AuthoritativeServer, LocalDnsServers, StubResolver
from .zones import SignedZone, ZoneKey, stale_ds

__all__ = ["AuthoritativeServer", "LocalDnsServers", "SignedZone", "StubResolver", "ZoneKey", "stale_ds"]
