"""The DNSSEC safety check: would deleting the DS rows of one key tag take the domain off the air?

Pure logic over data, no network and no I/O: the registry's DS rows (QueryDSRecord) and, for every
address of every name server of the delegation, that server's DNSKEY RRset and the RRSIGs over it
(cloud/dns.py fetches them). `judge` compares the DS set before and after the deletion (every row
with the key tag goes), server by server, under each validator behaviour in VALIDATORS:

- a DS row *works* on a server when a DNSKEY there with the Zone flag, protocol 3, the row's
  algorithm and key tag has the row's digest, and an RRSIG over the DNSKEY RRset made by that key
  verifies now (inception <= now <= expiration);
- under one validator the DS set is *insecure* when no row has an algorithm and a digest type the
  validator supports (RFC 4509 validators also ignore SHA-1 rows beside a usable SHA-256/384 one),
  *secure* when one such row works (RFC 6840 5.11: one path is enough), *bogus* otherwise.

Verdicts (`SafetyVerdict.code`):
- DeletionSafe: nothing gets worse anywhere (removing a stale row from a bogus set is the repair);
- DeletionWouldBreakDNSSEC: bogus after where it was not before, on some server for some validator;
- DeletionWouldDisableDNSSEC: secure before, insecure after, and the request did not allow that;
- SafetyCheckUnavailable: a server whose answer cannot be judged leaves the outcome open (transient);
- DSRecordNotFound: the registry lists no DS row with the key tag;
- DeletionForced: `force` overrode one of the refusals above (`overridden` names it).

dnspython and cryptography are imported only when rows are checked against answers, so importing
this module costs the function's cold start nothing. The verdict holds plain strings and ints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Protocol, Sequence

SAFE = "DeletionSafe"
FORCED = "DeletionForced"
BREAKS = "DeletionWouldBreakDNSSEC"
DISABLES = "DeletionWouldDisableDNSSEC"
UNAVAILABLE = "SafetyCheckUnavailable"
NOT_FOUND = "DSRecordNotFound"

SECURE, INSECURE, BOGUS, UNKNOWN = "secure", "insecure", "bogus", "unknown"

ALGORITHMS = {1: "RSAMD5", 3: "DSA", 5: "RSASHA1", 6: "DSA-NSEC3-SHA1", 7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256",
              10: "RSASHA512", 12: "ECC-GOST", 13: "ECDSAP256SHA256", 14: "ECDSAP384SHA384", 15: "ED25519",
              16: "ED448", 17: "SM2SM3", 23: "ECC-GOST12"}
DIGESTS = {1: "SHA-1", 2: "SHA-256", 3: "GOST R 34.11-94", 4: "SHA-384", 5: "GOST R 34.11-2012", 6: "SM3"}
# What this check can verify. A validator that supports more (DSA, GOST) is not modelled: RFC 8624
# says not to validate DSA, and GOST is rare; rows of those algorithms count as unsupported.
CHECKED_ALGORITHMS = frozenset({5, 7, 8, 10, 13, 14, 15, 16})
CHECKED_DIGESTS = frozenset({1, 2, 4})
_STRONG_DIGEST_LENGTHS = {2: 32, 4: 48}  # the rows that make an RFC 4509 validator ignore SHA-1 rows
_ZONE_FLAG = 0x0100


@dataclass(frozen=True)
class Validator:
    """One validator behaviour that differs in practice between popular resolvers."""
    name: str
    support: str  # what it supports, for messages: "every algorithm", "no Ed448", ...
    algorithms: frozenset
    digest_types: frozenset
    rfc4509: bool  # SHA-1 DS rows ignored when a usable SHA-256/384 row exists

    @property
    def description(self) -> str:
        return f"validators with {self.support} {_RFC4509_TEXT[self.rfc4509]}"


_RFC4509_TEXT = {True: "that ignore SHA-1 DS rows beside SHA-256 ones (RFC 4509, as BIND does)",
                 False: "that use SHA-1 DS rows beside SHA-256 ones (Unbound's default)"}


def _validators() -> tuple:
    support = (("all", "every algorithm", CHECKED_ALGORITHMS),
               ("no-ed448", "no Ed448", CHECKED_ALGORITHMS - {16}),
               # RSASHA1 refused by the crypto policy (RHEL 9 and its kin).
               ("no-rsasha1", "no RSASHA1", CHECKED_ALGORITHMS - {5, 7}))
    return tuple(Validator(f"{name}{'+rfc4509' if rfc4509 else ''}", what, algorithms, CHECKED_DIGESTS, rfc4509)
                 for name, what, algorithms in support for rfc4509 in (True, False))


VALIDATORS = _validators()


class DsRowLike(Protocol):
    """A row of the registry's DS list, as cloud.domain_api.DsRecord carries it."""
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str


class ServerAnswerLike(Protocol):
    """One name-server address's answer, as cloud.dns.ServerAnswer carries it: the DNSKEY RDATAs and
    the RRSIG RDATAs covering the DNSKEY RRset (wire format), or why there is no usable answer."""
    name_server: str
    address: str
    dnskey: Sequence[bytes]
    rrsig: Sequence[bytes]
    error: str | None


class DnskeySource(Protocol):
    """The port the use case is handed (cloud.dns.DnsClient): every name-server address's answer."""
    def dnskey_answers(self, domain: str) -> Sequence[ServerAnswerLike]: ...


@dataclass(frozen=True)
class DsRow:
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str  # hex, upper case

    @classmethod
    def of(cls, row: DsRowLike) -> "DsRow":
        return cls(int(row.key_tag), int(row.algorithm), int(row.digest_type),
                   re.sub(r"\s+", "", str(row.digest)).upper())

    def __str__(self) -> str:
        digest = DIGESTS.get(self.digest_type, str(self.digest_type))
        return f"{self.key_tag} {_algorithm(self.algorithm)} {digest} {self.digest[:8]}…"

    def to_dict(self) -> dict:
        return {"KeyTag": self.key_tag, "Algorithm": self.algorithm, "DigestType": self.digest_type,
                "Digest": self.digest}


@dataclass(frozen=True)
class RowCheck(DsRow):
    """One DS row against one server's answer."""
    works: bool | None = None  # None: this check cannot tell (an algorithm it cannot verify)
    reason: str = ""           # why it does not work; "" when it does

    def to_dict(self) -> dict:
        return {**super().to_dict(), "Works": self.works, "Reason": self.reason}


@dataclass(frozen=True)
class ValidatorState:
    """The DS set's state on one server under one validator behaviour, before and after."""
    validator: str
    before: str  # secure | insecure | bogus | unknown
    after: str

    @property
    def breaks(self) -> bool:
        return self.after == BOGUS and self.before in (SECURE, INSECURE)

    @property
    def disables(self) -> bool:
        return self.before == SECURE and self.after == INSECURE

    def uncertain(self, allow_insecure: bool) -> bool:
        """Whether an answer this check could not judge leaves a break (or a disable) open."""
        if self.after == UNKNOWN or (self.after == BOGUS and self.before == UNKNOWN):
            return True
        return self.after == INSECURE and self.before == UNKNOWN and not allow_insecure

    def to_dict(self) -> dict:
        return {"Validator": self.validator, "Before": self.before, "After": self.after}


@dataclass(frozen=True)
class ServerFinding:
    name_server: str
    address: str
    error: str | None                  # why this server's answer could not be judged
    rows: tuple[RowCheck, ...]         # every registry row against this server's answer
    states: tuple[ValidatorState, ...]

    @property
    def label(self) -> str:
        if not self.name_server and not self.address:
            return "the delegation"
        return f"{self.name_server} ({self.address})" if self.address else self.name_server

    def to_dict(self) -> dict:
        return {"NameServer": self.name_server, "Address": self.address, "Error": self.error,
                "Rows": [row.to_dict() for row in self.rows], "States": [state.to_dict() for state in self.states]}


@dataclass(frozen=True)
class RowReport(DsRow):
    """A DS row that would remain: where it works, where it fails and why, which validators skip it."""
    works_on: tuple[str, ...] = ()
    fails: tuple[str, ...] = ()       # "<server>: <why>"
    ignored_by: tuple[str, ...] = ()  # validator names that do not use the row

    def to_dict(self) -> dict:
        return {**super().to_dict(), "WorksOn": list(self.works_on), "Fails": list(self.fails),
                "IgnoredBy": list(self.ignored_by)}


@dataclass(frozen=True)
class SafetyVerdict:
    code: str
    allowed: bool
    message: str
    domain: str
    key_tag: int
    deleted: tuple[DsRow, ...]          # every row the deletion removes (all rows with the key tag)
    remaining: tuple[RowReport, ...]
    servers: tuple[ServerFinding, ...]
    overridden: str | None = None       # with force: the refusal that was overridden
    overridden_message: str | None = None

    @property
    def transient(self) -> bool:
        """Asking again later may give another verdict (a server could not be judged)."""
        return self.code == UNAVAILABLE

    def to_dict(self) -> dict:
        return {"Code": self.code, "Allowed": self.allowed, "Message": self.message, "DomainName": self.domain,
                "KeyTag": self.key_tag, "Deleted": [row.to_dict() for row in self.deleted],
                "Remaining": [row.to_dict() for row in self.remaining],
                "Servers": [server.to_dict() for server in self.servers],
                "Overridden": self.overridden, "OverriddenMessage": self.overridden_message}


def judge(domain: str, key_tag: int, ds_rows: Iterable[DsRowLike], answers: Sequence[ServerAnswerLike],
          now: float | datetime, *, allow_insecure: bool = False, force: bool = False,
          validators: Sequence[Validator] = VALIDATORS) -> SafetyVerdict:
    """The verdict on deleting every DS row of `domain` with `key_tag`, given the registry's rows,
    every name-server address's answer (or failure) and the time to check signatures at."""
    domain = domain.rstrip(".").lower()
    now = now.timestamp() if isinstance(now, datetime) else float(now)
    rows = tuple(dict.fromkeys(DsRow.of(row) for row in ds_rows))
    deleted = tuple(row for row in rows if row.key_tag == key_tag)
    remaining = tuple(row for row in rows if row.key_tag != key_tag)
    if not deleted:
        listed = ", ".join(str(row.key_tag) for row in rows) or "none"
        return _decide(force, SafetyVerdict(
            NOT_FOUND, False, f"The registry lists no DS record with key tag {key_tag} for {domain} "
                              f"(key tags listed: {listed}): there is nothing to delete.",
            domain, key_tag, (), tuple(RowReport(*_fields(row)) for row in remaining), ()))
    servers = tuple(_server_finding(domain, answer, rows, remaining, now, validators) for answer in answers)
    if not servers:
        servers = (_server_finding(domain, _NoAnswer(), rows, remaining, now, validators),)
    reports = tuple(_row_report(row, servers, remaining, validators) for row in remaining)
    verdict = _verdict(domain, key_tag, deleted, reports, servers, allow_insecure, validators)
    return _decide(force, verdict)


# --- the verdict --------------------------------------------------------------------------------

def _verdict(domain: str, key_tag: int, deleted: tuple, reports: tuple, servers: tuple, allow_insecure: bool,
             validators: Sequence[Validator]) -> SafetyVerdict:
    def verdict(code: str, allowed: bool, message: str) -> SafetyVerdict:
        return SafetyVerdict(code, allowed, message, domain, key_tag, deleted, reports, servers)

    what = f"Deleting the DS record{'s' if len(deleted) > 1 else ''} with key tag {key_tag} of {domain}"
    broken = _where(servers, lambda state: state.breaks, validators)
    if broken:
        return verdict(BREAKS, False, f"{what} would make validating resolvers answer SERVFAIL for the domain "
                                      f"(bogus) {broken}. {_remaining_text(reports, validators)}")
    disabled = _where(servers, lambda state: state.disables, validators)
    if disabled and not allow_insecure:
        return verdict(DISABLES, False, f"{what} would leave no usable DS record, turning DNSSEC off "
                                        f"{disabled}. Send the request with \"AllowInsecure\": true to do that on purpose.")
    open_ = [server for server in servers
             if any(state.uncertain(allow_insecure) for state in server.states)]
    if open_:
        why = "; ".join(f"{server.label}: {server.error or _unknown_rows(server)}" for server in open_)
        return verdict(UNAVAILABLE, False, f"{what} cannot be judged safe now, try again later: {why}.")
    repaired = any(state.before == BOGUS for server in servers for state in server.states)
    tail = (" It removes a stale DS record: the DNSSEC chain was already broken for some validators and is not "
            "made worse." if repaired else "")
    if disabled:
        return verdict(SAFE, True, f"{what} turns DNSSEC off {disabled}, as the request allows.{tail}")
    return verdict(SAFE, True, f"{what} leaves the domain validating wherever it did.{tail}")


def _decide(force: bool, verdict: SafetyVerdict) -> SafetyVerdict:
    if verdict.allowed or not force:
        return verdict
    message = f"Forced despite {verdict.code}: {verdict.message}"
    return SafetyVerdict(FORCED, True, message, verdict.domain, verdict.key_tag, verdict.deleted, verdict.remaining,
                         verdict.servers, verdict.code, verdict.message)


def _where(servers: tuple, predicate, validators: Sequence[Validator]) -> str:
    """'on ns1 (192.0.2.1), ns2 (...) for validators ...' for the states the predicate picks, the
    servers with the same validators named together."""
    groups: dict = {}
    for server in servers:
        hits = tuple(state.validator for state in server.states if predicate(state))
        if hits:
            groups.setdefault(hits, []).append(server.label)
    return "; ".join(f"on {', '.join(labels)} for {_describe(hits, validators)}" for hits, labels in groups.items())


def _describe(names: Iterable[str], validators: Sequence[Validator]) -> str:
    """The validators named, in words: 'every validator', 'validators with no Ed448', ..."""
    wanted = set(names)
    chosen = [validator for validator in validators if validator.name in wanted]
    if len(chosen) == len(validators):
        return "every validator"
    supports = list(dict.fromkeys(validator.support for validator in chosen))
    modes = {validator.rfc4509 for validator in chosen}
    if {(support, mode) for support in supports for mode in modes} != {(v.support, v.rfc4509) for v in chosen}:
        return "; ".join(validator.description for validator in chosen)
    every_support = set(supports) == {validator.support for validator in validators}
    who = "validators" if every_support else f"validators with {' or '.join(supports)}"
    return who if len(modes) == 2 else f"{who} {_RFC4509_TEXT[modes.pop()]}"


def _remaining_text(reports: tuple, validators: Sequence[Validator]) -> str:
    if not reports:
        return "No DS record would remain."
    lines = []
    for report in reports:
        by_reason: dict = {}
        for failure in report.fails:
            server, _, reason = failure.partition(": ")
            by_reason.setdefault(reason, []).append(server)
        why = "; ".join(f"{reason} (on {', '.join(where)})" for reason, where in by_reason.items())
        ignored = f", ignored by {_describe(report.ignored_by, validators)}" if report.ignored_by else ""
        lines.append(f"{report}{ignored}: {why or 'works on every server'}")
    return "The DS records that would remain: " + " | ".join(lines) + "."


def _unknown_rows(server: ServerFinding) -> str:
    return "; ".join(f"{row}: {row.reason}" for row in server.rows if row.works is None) or "its answer is unclear"


def _row_report(row: DsRow, servers: tuple, remaining: tuple, validators: Sequence[Validator]) -> RowReport:
    works_on, fails = [], []
    for server in servers:
        check = next((check for check in server.rows if DsRow(*_fields(check)) == row), None)
        if check is None:
            fails.append(f"{server.label}: not checked ({server.error})")
        elif check.works:
            works_on.append(server.label)
        else:
            fails.append(f"{server.label}: {check.reason}")
    ignored = tuple(validator.name for validator in validators if row not in _usable(remaining, validator))
    return RowReport(*_fields(row), tuple(works_on), tuple(fails), ignored)


def _fields(row: DsRow) -> tuple:
    return row.key_tag, row.algorithm, row.digest_type, row.digest


# --- one server ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _NoAnswer:
    name_server: str = ""
    address: str = ""
    dnskey: tuple = ()
    rrsig: tuple = ()
    error: str | None = "no name server of the delegation was found to ask"


def _usable(rows: Sequence[DsRow], validator: Validator) -> tuple:
    """The rows this validator uses to authenticate the DNSKEY RRset."""
    usable = tuple(row for row in rows
                   if row.algorithm in validator.algorithms and row.digest_type in validator.digest_types)
    if validator.rfc4509 and any(_STRONG_DIGEST_LENGTHS.get(row.digest_type) == len(row.digest) // 2
                                 for row in usable):
        usable = tuple(row for row in usable if row.digest_type != 1)
    return usable


def _state(usable: tuple, checks: dict, judged: bool) -> str:
    if not usable:
        return INSECURE
    if not judged:
        return UNKNOWN
    results = [checks[row].works for row in usable]
    if True in results:
        return SECURE
    return UNKNOWN if None in results else BOGUS


def _server_finding(domain: str, answer: ServerAnswerLike, rows: tuple, remaining: tuple, now: float,
                    validators: Sequence[Validator]) -> ServerFinding:
    error = answer.error
    checks: dict = {}
    if error is None:
        try:
            checks = _check_rows(domain, rows, answer.dnskey, answer.rrsig, now)
        except ValueError as problem:  # RDATA that does not parse
            error = f"its answer cannot be read: {problem}"
            checks = {}
    states = tuple(ValidatorState(validator.name, _state(_usable(rows, validator), checks, error is None),
                                  _state(_usable(remaining, validator), checks, error is None))
                   for validator in validators)
    return ServerFinding(answer.name_server, answer.address, error, tuple(checks.values()), states)


def _check_rows(domain: str, rows: tuple, dnskey_wire: Sequence[bytes], rrsig_wire: Sequence[bytes],
                now: float) -> dict:
    """Every row against one answer: {row: RowCheck}."""
    import dns.dnssec  # noqa: F401 -- lazily: dnspython and cryptography load only when a check runs
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset

    owner = dns.name.from_text(domain)

    def parse(rdtype, wires: Sequence[bytes]) -> list:
        try:
            return [dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, 0, len(wire)) for wire in wires]
        except dns.exception.DNSException as problem:
            raise ValueError(f"{dns.rdatatype.to_text(rdtype)} RDATA: {problem}") from None

    keys = parse(dns.rdatatype.DNSKEY, dnskey_wire)
    signatures = [sig for sig in parse(dns.rdatatype.RRSIG, rrsig_wire) if sig.type_covered == dns.rdatatype.DNSKEY]
    rrset = dns.rrset.from_rdata_list(owner, 3600, keys) if keys else None
    verified: dict = {}  # the same key behind several rows is verified once
    return {row: RowCheck(*_fields(row), *_check_row(owner, row, keys, signatures, rrset, now, verified))
            for row in rows}


def _check_row(owner, row: DsRow, keys: list, signatures: list, rrset, now: float, verified: dict) -> tuple:
    """(works, reason) for one DS row against one server's DNSKEY RRset and its RRSIGs."""
    import dns.dnssec

    tagged = [key for key in keys if key.algorithm == row.algorithm and dns.dnssec.key_id(key) == row.key_tag]
    if not tagged:
        return False, (f"no DNSKEY with key tag {row.key_tag} and algorithm {_algorithm(row.algorithm)} "
                       f"at the zone apex")
    if row.digest_type not in CHECKED_DIGESTS:
        return None, f"digest type {row.digest_type} cannot be computed by this check"
    try:
        digest = bytes.fromhex(row.digest)
    except ValueError:
        return False, "the digest is not hexadecimal"
    matching = [key for key in tagged
                if dns.dnssec.make_ds(owner, key, row.digest_type, policy=dns.dnssec.allow_all_policy,
                                      validating=True).digest == digest]
    if not matching:
        return False, (f"the DNSKEY with key tag {row.key_tag} does not have this digest "
                       f"(another key, or a wrong digest)")
    usable = [key for key in matching if key.flags & _ZONE_FLAG and key.protocol == 3]
    if not usable:
        key = matching[0]
        return False, (f"the DNSKEY with key tag {row.key_tag} has flags {key.flags} and protocol {key.protocol} "
                       f"(a zone key needs the Zone flag and protocol 3)")
    cache_key = tuple(key.to_wire() for key in usable)
    if cache_key not in verified:
        verified[cache_key] = _verify(owner, row, usable, signatures, rrset, now)
    return verified[cache_key]


def _verify(owner, row: DsRow, usable: list, signatures: list, rrset, now: float) -> tuple:
    import dns.dnssec
    import dns.exception
    import dns.rdataset

    own = [sig for sig in signatures
           if sig.key_tag == row.key_tag and sig.algorithm == row.algorithm and sig.signer == owner]
    if not own:
        return False, f"the DNSKEY with key tag {row.key_tag} does not sign the DNSKEY RRset (no RRSIG made by it)"
    candidates = {owner: dns.rdataset.from_rdata_list(3600, usable)}
    reasons = []
    for sig in own:
        try:
            dns.dnssec.validate_rrsig(rrset, sig, candidates, now=now, policy=dns.dnssec.allow_all_policy)
            return True, ""
        except dns.exception.UnsupportedAlgorithm:  # validate_rrsig lets it through
            return None, f"this check cannot verify {_algorithm(row.algorithm)} signatures"
        except dns.dnssec.ValidationFailure as failure:
            reasons.append(_signature_problem(str(failure), sig))
    return False, f"its RRSIG over the DNSKEY RRset {' / '.join(dict.fromkeys(reasons))}"


def _signature_problem(failure: str, sig) -> str:
    if failure == "expired":
        return f"expired at {_time(sig.expiration)}"
    if failure == "not yet valid":
        return f"is not valid before {_time(sig.inception)}"
    return "does not verify"


def _time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _algorithm(number: int) -> str:
    name = ALGORITHMS.get(number)
    return f"{number} ({name})" if name else str(number)


__all__ = ["judge", "DnskeySource", "SafetyVerdict", "ServerFinding", "ValidatorState", "RowCheck", "RowReport", "DsRow",
           "Validator", "VALIDATORS", "SAFE", "FORCED", "BREAKS", "DISABLES", "UNAVAILABLE", "NOT_FOUND"]
