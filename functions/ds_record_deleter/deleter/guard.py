"""Before a deletion is sent: the pre-check and the DNSSEC safety check, as one step.

    guard = Guard(domain_api, retrier, dns_client, clock=time.time,
                  precheck=True, safety_check=True, dry_run=False)
    clearance = guard.evaluate(request, log, pending)  # what would happen; a verdict never raises
    clearance = guard.clear(request, log, pending)     # the same, raising unless the deletion may be sent

1. Pre-check (PRECHECK): QueryDSRecord. A KeyTag the registry does not list means there is
   nothing to delete: no task, `DSRecordAlreadyAbsent`. Every row with the KeyTag goes with the
   deletion (one key often has a SHA-1 and a SHA-256 row): all of them are reported (DSRecords).
   With the safety check on, the list is read anyway, so an absent KeyTag is answered the same
   even with PRECHECK=off: a deletion known to delete nothing is never sent.
2. DNSSEC safety check (SAFETY_CHECK): every name-server address's DNSKEY RRset and its RRSIGs
   (cloud/dns.py, the DnskeySource port) judged against the registry's rows before and after the
   deletion (safety.judge). A deletion that breaks DNSSEC (`DeletionWouldBreakDNSSEC`) or turns it
   off without `AllowInsecure` (`DeletionWouldDisableDNSSEC`) is refused; an answer that cannot be
   judged is `SafetyCheckUnavailable`, a transient failure, never a silent pass. `Force` overrides
   any of the three: the deletion is sent, logged at WARNING, and says what it overrode.
   The registry still lists a DS record whose deletion task has not acted yet: `pending` names the
   domain's KeyTags with such a task of this function's (submission.pending_deletions), and their
   rows are judged as gone, or two deletions each safe alone could together leave the domain bogus.

Where it runs: inside Submission._run (submission.py), under the domain's lock, after the DS
record's pending task was joined (or found to have ended) and before the first send, so no other
request of the domain sends between the check and the send. A dry run (the request's `DryRun`,
or DRY_RUN for the function) runs `evaluate` outside any lock or idempotency record: it only reads.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from cloud.errors import CloudError

from .deletion_request import DeletionRequest
from .log import logger

# Codes of a Clearance: safety.py's verdicts (DeletionSafe, DeletionForced, DeletionWouldBreakDNSSEC,
# DeletionWouldDisableDNSSEC, SafetyCheckUnavailable), and these two.
ALREADY_ABSENT = "DSRecordAlreadyAbsent"
NOT_CHECKED = "SafetyCheckSkipped"
# SafetyCheck in answers and notifications: what the check said of the deletion.
PASSED, FORCED, SKIPPED, REFUSED, UNAVAILABLE = "passed", "forced", "skipped", "refused", "unavailable"
# (domain, KeyTags) -> {KeyTag: TaskNo} of those with a deletion task still to act on them.
Pending = Callable[[str, Sequence[int]], Dict[int, str]]
# An idempotency record's status for a request the guard ended (refused, or nothing to delete).
GUARDED = "GUARDED"


@dataclass(frozen=True)
class Clearance:
    """What the guard found: whether the deletion may be sent, and why (plain JSON-able values,
    so it can be kept in the request's idempotency record and answered again from there)."""
    code: str
    allowed: bool
    message: str
    safety_check: str = ""            # passed | forced | skipped | refused | unavailable | "" (not reached)
    ds_records: Tuple[dict, ...] = ()  # the registry's rows with the KeyTag: what the deletion removes
    listed_key_tags: Tuple[int, ...] = ()  # the KeyTags the registry lists (told when the one asked is absent)
    verdict: Optional[dict] = None    # the safety check's verdict (safety.SafetyVerdict.to_dict, compacted)

    @property
    def transient(self) -> bool:
        return self.safety_check == UNAVAILABLE

    @property
    def absent(self) -> bool:
        return self.code == ALREADY_ABSENT

    def facts(self, *, with_verdict: bool = False) -> dict:
        """The fields answers and notifications carry. The verdict goes with what was not a plain
        pass (a refusal, an unavailable check, a forced deletion), or when asked (a dry run)."""
        facts: dict = {}
        if self.safety_check:
            facts["SafetyCheck"] = self.safety_check
        if self.safety_check == FORCED and self.verdict is not None:
            facts["Forced"] = True
            facts["OverriddenVerdict"] = {"Code": self.verdict.get("Overridden"),
                                          "Message": self.verdict.get("OverriddenMessage")}
        if self.ds_records:
            facts["DSRecords"] = [dict(row) for row in self.ds_records]
        if self.absent:
            facts["ListedKeyTags"] = list(self.listed_key_tags)
        if self.verdict is not None and (with_verdict or self.safety_check != PASSED):
            facts["Verdict"] = self.verdict
        return facts

    def to_record(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_record(cls, text: Optional[str]) -> Optional["Clearance"]:
        """The clearance kept in an idempotency record; None when there is none (or it is unreadable)."""
        try:
            fields = json.loads(text or "")
            return cls(str(fields["code"]), bool(fields["allowed"]), str(fields["message"]),
                       str(fields.get("safety_check") or ""), tuple(fields.get("ds_records") or ()),
                       tuple(fields.get("listed_key_tags") or ()), fields.get("verdict"))
        except (ValueError, TypeError, KeyError):
            return None


class GuardStopped(CloudError):
    """The guard stopped the request before any send; `clearance` says why: refused or nothing to
    delete (final for the request), or a check that could not decide (`clearance.transient`)."""

    def __init__(self, clearance: Clearance) -> None:
        super().__init__(clearance.code, clearance.message, service="Guard", action="SafetyCheck")
        self.clearance = clearance


class Guard:
    def __init__(self, domain_api: Any, retrier: Any, dns: Any, *,
                 clock: Callable[[], float], precheck: bool = True, safety_check: bool = True,
                 dry_run: bool = False) -> None:
        if safety_check and dns is None:  # a check that cannot ask must not pass silently
            raise ValueError("the DNSSEC safety check needs a DnskeySource")
        self._domain_api = domain_api
        self._retrier = retrier
        self._dns = dns
        self._clock = clock
        self.precheck = precheck
        self.safety_check = safety_check
        self.dry_run = dry_run  # DRY_RUN: every request only checks and answers

    def clear(self, request: DeletionRequest, log: dict, pending: Optional[Pending] = None) -> Clearance:
        """The clearance to send the deletion; GuardStopped when it may not be sent. A failed
        QueryDSRecord raises its CloudError (retryable, deferred or final, as classified)."""
        clearance = self.evaluate(request, log, pending)
        if not clearance.allowed:
            raise GuardStopped(clearance)
        return clearance

    def evaluate(self, request: DeletionRequest, log: dict, pending: Optional[Pending] = None) -> Clearance:
        clearance = self._evaluate(request, pending)
        _log(clearance, log)
        return clearance

    def _evaluate(self, request: DeletionRequest, pending: Optional[Pending]) -> Clearance:
        domain, key_tag = request.domain_name, request.key_tag
        if not (self.precheck or self.safety_check):
            return Clearance(NOT_CHECKED, True, "Neither the pre-check nor the DNSSEC safety check ran (PRECHECK=off, "
                             "SAFETY_CHECK=off): the deletion was not checked.", SKIPPED)
        rows = self._retrier.call(lambda: self._domain_api.query_ds_records(domain), what="QueryDSRecord").records
        deleted = tuple(_row(row) for row in rows if int(row.key_tag) == key_tag)
        if not deleted:
            listed = tuple(dict.fromkeys(int(row.key_tag) for row in rows))
            return Clearance(ALREADY_ABSENT, False, f"The registry lists no DS record with KeyTag {key_tag} for {domain} "
                             f"(KeyTags listed: {', '.join(map(str, listed)) or 'none'}): there is nothing to delete, "
                             "and no deletion task was made.", listed_key_tags=listed)
        if not self.safety_check:
            return Clearance(NOT_CHECKED, True, f"The DNSSEC safety check is off (SAFETY_CHECK=off): deleting the "
                             f"{_rows(len(deleted))} with KeyTag {key_tag} of {domain} was not checked.", SKIPPED,
                             deleted)
        from . import safety  # its verdict's classes load with the first check, not with the function

        going = pending(domain, sorted({int(row.key_tag) for row in rows} - {key_tag})) if pending else {}
        judged = [row for row in rows if int(row.key_tag) not in going]
        answers = self._dns.dnskey_answers(domain)  # a safety.DnskeySource
        verdict = safety.judge(domain, key_tag, judged, answers, self._clock(), allow_insecure=request.allow_insecure,
                               force=request.force)
        said = {safety.SAFE: PASSED, safety.FORCED: FORCED, safety.UNAVAILABLE: UNAVAILABLE}.get(verdict.code, REFUSED)
        message = verdict.message + "".join(
            f" The DS record with key tag {tag} was judged as gone: deletion task {task_no} has not acted on it yet."
            for tag, task_no in sorted(going.items()))
        return Clearance(verdict.code, verdict.allowed, message, said, deleted, verdict=_verdict_json(verdict))


def _row(row: Any) -> dict:
    """A registry row as answers show it (as safety.DsRow.to_dict: the digest in upper-case hex)."""
    return {"KeyTag": int(row.key_tag), "Algorithm": int(row.algorithm), "DigestType": int(row.digest_type),
            "Digest": re.sub(r"\s+", "", str(row.digest)).upper()}


def _rows(count: int) -> str:
    return "DS record" if count == 1 else f"{count} DS records"


def _verdict_json(verdict: Any) -> dict:
    """The verdict for answers: the request's domain and KeyTag are said beside it already."""
    body = verdict.to_dict()
    for name in ("DomainName", "KeyTag"):
        body.pop(name, None)
    if body.get("Overridden") is None:
        body.pop("Overridden", None)
        body.pop("OverriddenMessage", None)
    return body


def _log(clearance: Clearance, log: dict) -> None:
    fields = {**log, "code": clearance.code, "safety_check": clearance.safety_check or None,
              "ds_rows": len(clearance.ds_records) or None}
    servers: Sequence[dict] = (clearance.verdict or {}).get("Servers", ())
    failing = [f"{server.get('NameServer') or 'the delegation'} ({server.get('Address') or '-'}): {server['Error']}"
               for server in servers if server.get("Error")]
    if failing:
        fields["server_errors"] = failing
    if clearance.safety_check == FORCED:
        logger.warning("Deletion forced despite the DNSSEC safety check", extra={
            **fields, "overridden": (clearance.verdict or {}).get("Overridden"), "reason": clearance.message})
    elif clearance.safety_check == REFUSED:
        logger.warning("Deletion refused by the DNSSEC safety check", extra={**fields, "reason": clearance.message})
    elif clearance.safety_check == UNAVAILABLE:
        logger.warning("DNSSEC safety check could not decide", extra={**fields, "reason": clearance.message})
    elif clearance.absent:
        logger.info("DS record already absent: no deletion task made", extra={**fields, "reason": clearance.message})
    elif clearance.safety_check == PASSED:
        logger.info("DNSSEC safety check passed", extra=fields)
    else:
        logger.debug("DNSSEC safety check skipped", extra=fields)
