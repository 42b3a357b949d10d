"""Signed zones for the local authoritative DNS servers, and the DS rows that match them.

    from local.dns import SignedZone, LocalDnsServers

    zone = SignedZone.generate("example.net", algorithms=(13,))   # one key per algorithm, flags 257
    zone.ds_rows()          # (DsRecord(key_tag, algorithm, digest_type=2, digest="ABC…"), ...)
    zone.ds_seed((1, 2))    # [{"KeyTag", "Algorithm", "DigestType", "Digest"}, ...]: the emulator's seed shape

    with LocalDnsServers.start([zone]) as servers:   # see server.py
        servers.environment()   # {"DNS_RESOLVER": "127.0.53.53:<port>", "DNS_PORT": "<port>"}

A zone holds keys (`ZoneKey`): each is in the DNSKEY RRset or not (`published`), signs the DNSKEY
RRset or not (`signs_dnskey`), signs the other RRsets (the SOA) or not (`signs_zone`), with its
own signature validity. That is enough to build every case the safety check must tell apart:

    ksk = zone.keys[0]
    zone.add_key(13, flags=256, signs_dnskey=False)          # a ZSK: a DS for it does not work
    zone.add_key(15, signs_dnskey=False)                     # a pre-published KSK, not signing yet
    zone.add_key(8, published=False)                         # a key gone from the zone: its DS is stale
    zone.add_key(13, expiration=time.time() - 60)            # signatures that have expired
    zone.update(key, signs_dnskey=True)                      # the next rollover step, served at once
    other = zone.variant(signers=[key_b])                    # another provider's copy (multi-signer)

Keys are generated (ECDSA P-256 = 13, P-384 = 14, Ed25519 = 15, Ed448 = 16, RSASHA256 = 8, and
RSASHA1 = 5, RSASHA512 = 10), derived from `seed` bytes for the elliptic-curve algorithms (the
same seed gives the same keys, so `make run` can seed fixed DS rows), or handed in as
`private_key` (a cryptography private key). The zone's data is the apex SOA, the DNSKEY RRset and
the RRSIGs; it has no NS or NSEC records (the local resolver answers the delegation, see server.py).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.dnssecalgs import get_algorithm_cls
from dns.dnssecalgs.base import GenericPrivateKey

from cloud.domain_api import DsRecord

TTL = 3600
DEFAULT_VALIDITY = (-3600, 14 * 86400)  # signatures valid from an hour ago for two weeks
RSA_BITS = 2048
_CURVES = {13: "SECP256R1", 14: "SECP384R1"}


@dataclass(frozen=True)
class ZoneKey:
    private_key: Any  # dnspython's GenericPrivateKey
    dnskey: Any       # the DNSKEY rdata
    published: bool = True     # in the DNSKEY RRset
    signs_dnskey: bool = True  # an RRSIG by it over the DNSKEY RRset is served
    signs_zone: bool = True    # it signs the SOA (what a ZSK does)
    inception: int = 0
    expiration: int = 0

    @property
    def key_tag(self) -> int:
        return dns.dnssec.key_id(self.dnskey)

    @property
    def algorithm(self) -> int:
        return int(self.dnskey.algorithm)

    @property
    def flags(self) -> int:
        return int(self.dnskey.flags)


def make_private_key(algorithm: int, seed: Optional[bytes] = None):
    """A new private key (dnspython's wrapper) for the algorithm, or one derived from seed."""
    cls = get_algorithm_cls(algorithm)
    if seed is None:
        return cls.generate(RSA_BITS) if algorithm in (5, 7, 8, 10) else cls.generate()
    material = hashlib.sha512(b"ds-record-deleter test key %d " % algorithm + seed).digest()
    if algorithm in _CURVES:
        from cryptography.hazmat.primitives.asymmetric import ec

        curve = getattr(ec, _CURVES[algorithm])()
        order = {13: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
                 14: int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
                         16)}[algorithm]
        return cls(key=ec.derive_private_key(int.from_bytes(material, "big") % (order - 1) + 1, curve))
    if algorithm == 15:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return cls(key=ed25519.Ed25519PrivateKey.from_private_bytes(material[:32]))
    if algorithm == 16:
        from cryptography.hazmat.primitives.asymmetric import ed448

        return cls(key=ed448.Ed448PrivateKey.from_private_bytes(material[:57]))
    raise ValueError(f"keys of algorithm {algorithm} cannot be derived from a seed: pass private_key")


class SignedZone:
    """One zone's keys and the signed data a server serves for it."""

    def __init__(self, name: str, keys: Iterable[ZoneKey] = (), *, serial: int = 1) -> None:
        self.name = dns.name.from_text(name)
        self.keys: List[ZoneKey] = list(keys)
        self.serial = serial
        self._signed: Optional[Dict[Tuple[dns.name.Name, int], Tuple[Any, Any]]] = None

    @property
    def domain(self) -> str:
        return self.name.to_text(omit_final_dot=True)

    @classmethod
    def generate(cls, name: str, algorithms: Sequence[int] = (13,), *, flags: int = 257,
                 seed: Optional[bytes] = None) -> "SignedZone":
        """A zone with one key per algorithm, each in the DNSKEY RRset and signing everything."""
        zone = cls(name)
        for index, algorithm in enumerate(algorithms):
            key_seed = None if seed is None else seed + b"/%d" % index
            zone.add_key(algorithm, flags=flags, private_key=make_private_key(algorithm, key_seed))
        return zone

    def add_key(self, algorithm: int = 13, *, flags: int = 257, published: bool = True, signs_dnskey: bool = True,
                signs_zone: bool = True, inception: Optional[float] = None, expiration: Optional[float] = None,
                private_key: Any = None, protocol: int = 3) -> ZoneKey:
        """Add a key; its RRSIGs are valid from `inception` to `expiration` (epoch seconds),
        by default from an hour ago for two weeks."""
        if private_key is None:
            private_key = make_private_key(algorithm)
        elif not isinstance(private_key, GenericPrivateKey):
            private_key = get_algorithm_cls(algorithm)(key=private_key)  # a cryptography key
        now = int(time.time())
        key = ZoneKey(private_key, private_key.public_key().to_dnskey(flags=flags, protocol=protocol),
                      published, signs_dnskey, signs_zone,
                      int(inception) if inception is not None else now + DEFAULT_VALIDITY[0],
                      int(expiration) if expiration is not None else now + DEFAULT_VALIDITY[1])
        self.keys.append(key)
        self._signed = None
        return key

    def update(self, key: ZoneKey, **changes: Any) -> ZoneKey:
        """Change a key (published, signs_dnskey, validity, ...): servers serving this zone serve
        the re-signed data from the next query on (a rollover step, live)."""
        updated = replace(key, **changes)
        self.keys[self.keys.index(key)] = updated
        self._signed = None
        return updated

    def variant(self, *, signers: Iterable[ZoneKey]) -> "SignedZone":
        """The same zone as another provider serves it: the same keys published, only `signers`
        signing (what each provider of a multi-signer setup does with its own key)."""
        chosen = {key.dnskey for key in signers}
        keys = [replace(key, signs_dnskey=key.dnskey in chosen, signs_zone=key.dnskey in chosen) for key in self.keys]
        return SignedZone(self.domain, keys, serial=self.serial)

    # --- DS rows -----------------------------------------------------------------------------------

    def ds_rows(self, digest_types: Sequence[int] = (2,), keys: Optional[Iterable[ZoneKey]] = None
                ) -> Tuple[DsRecord, ...]:
        """The DS rows for keys (default: the published keys with the SEP flag), as QueryDSRecord
        returns them: key tag, algorithm, digest type, digest in upper-case hex."""
        chosen = list(keys) if keys is not None else [key for key in self.keys if key.published and key.flags & 1]
        return tuple(ds_record(self.name, key.dnskey, digest_type) for key in chosen for digest_type in digest_types)

    def ds_seed(self, digest_types: Sequence[int] = (2,), keys: Optional[Iterable[ZoneKey]] = None) -> List[dict]:
        """ds_rows in the shape of the emulator's seed and of QueryDSRecord's DSRecordList."""
        return [{"KeyTag": row.key_tag, "Algorithm": row.algorithm, "DigestType": row.digest_type,
                 "Digest": row.digest} for row in self.ds_rows(digest_types, keys)]

    # --- what a server serves ----------------------------------------------------------------------

    def lookup(self, name: dns.name.Name, rdtype: int) -> Tuple[Optional[Any], Optional[Any]]:
        """(rrset, its RRSIG rrset) at name, or (None, None)."""
        return self.signed().get((name, rdtype), (None, None))

    def dnskey_wire(self) -> Tuple[Tuple[bytes, ...], Tuple[bytes, ...]]:
        """(DNSKEY RDATAs, RRSIG RDATAs over them) in wire format: what cloud.dns.ServerAnswer carries
        for a server of this zone (unit tests judge them without a server)."""
        keys, sigs = self.lookup(self.name, dns.rdatatype.DNSKEY)
        return tuple(rdata.to_wire() for rdata in keys or ()), tuple(rdata.to_wire() for rdata in sigs or ())

    def signed(self) -> Dict[Tuple[dns.name.Name, int], Tuple[Any, Any]]:
        if self._signed is None:
            self._signed = self._sign()
        return self._signed

    def _sign(self) -> Dict[Tuple[dns.name.Name, int], Tuple[Any, Any]]:
        soa = dns.rrset.from_text(self.name, TTL, "IN", "SOA",
                                  f"ns.{self.name} hostmaster.{self.name} {self.serial} 7200 3600 1209600 300")
        published = [key.dnskey for key in self.keys if key.published]
        rrsets = [(soa, [key for key in self.keys if key.signs_zone])]
        if published:  # an unsigned zone has no DNSKEY RRset
            rrsets.append((dns.rrset.from_rdata_list(self.name, TTL, published),
                           [key for key in self.keys if key.signs_dnskey]))
        data = {}
        for rrset, signers in rrsets:
            sigs = [dns.dnssec.sign(rrset, key.private_key, self.name, key.dnskey, inception=key.inception,
                                    expiration=key.expiration, policy=dns.dnssec.allow_all_policy)
                    for key in signers]
            data[(self.name, rrset.rdtype)] = (rrset, dns.rrset.from_rdata_list(self.name, TTL, sigs) if sigs else None)
        return data


def ds_record(owner: Any, dnskey: Any, digest_type: int) -> DsRecord:
    ds = dns.dnssec.make_ds(owner, dnskey, digest_type, policy=dns.dnssec.allow_all_policy)
    return DsRecord(key_tag=int(ds.key_tag), algorithm=int(ds.algorithm), digest_type=int(ds.digest_type),
                    digest=ds.digest.hex().upper())


def stale_ds(domain: str, algorithm: int = 13, digest_type: int = 2) -> DsRecord:
    """A DS row for a key no server publishes (a key removed too early, or never there)."""
    key = make_private_key(algorithm)
    return ds_record(dns.name.from_text(domain), key.public_key().to_dnskey(flags=257), digest_type)
