"""Mutants of the exactly-once core that survive `make mutate`, each with why no test can kill it.

An entry names a mutant as the campaign prints it: the file, the function it is in, and the change
as normalised source (' #2' when the same change recurs in that function). No line numbers, so
edits elsewhere in a file leave the entries valid. The campaign fails when an entry's mutant is
killed (the explanation was wrong, or the code changed), and test_mutation_tool.py fails when an
entry names a mutant that is no longer made.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Equivalent:
    file: str
    scope: str
    change: str
    why: str


SUBMISSION, IDEMPOTENCY = "submission.py", "idempotency.py"

EQUIVALENTS = (
    # --- submission.py ---------------------------------------------------------------------------
    Equivalent(SUBMISSION, "RecordTask.decode", "text or '' -> text or not ''",
               "json.loads(True) raises TypeError where json.loads('') raises ValueError: both are caught, "
               "and decode returns None either way."),
    Equivalent(SUBMISSION, "RecordTask.may_be_unlisted",
               "now_ms - self.noted_ms < settle_seconds * 1000 -> now_ms - self.noted_ms <= settle_seconds * 1000",
               "Differs only in the very millisecond the settle time ends: the mutant then looks once more (its "
               "wait is 0 s), with the same outcome."),
    Equivalent(SUBMISSION, "Submission._join",
               "wait > self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS -> "
               "wait >= self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS",
               "Differs only when the wait equals the time left less the reserve to the float, which no test "
               "(and no caller) can arrange."),
    Equivalent(SUBMISSION, "Submission.run",
               "task.joined or self._clearance is None -> task.joined and self._clearance is None",
               "A joined task never has a clearance (_join answers before the guard runs), and replacing a "
               "task's guard with None (no clearance) leaves it equal to itself: both branches return the same "
               "Task in every reachable case."),
    Equivalent(SUBMISSION, "Submission._join", "self._clear_marker() -> pass",
               "A request that joins has no marker of its own left: its marker exists only if it sent and never "
               "settled, and then any other request for the domain settles (clears) it before it may send; so a "
               "task of the DS record that appeared after this request's send is its own, which reconciliation "
               "adopts before _join runs. Only a service that does not yet know a TaskNo it just gave (the "
               "emulator's listing_lag_seconds) past the settle time would let the mutant keep the marker, and then the domain's next request "
               "would only reconcile once more for nothing."),
    Equivalent(SUBMISSION, "Submission._settle_earlier_send", "self._p.store.clear_marker(self._marker_name, raw) -> pass",
               "An unreadable marker is read as none by every reader (_decoded), so leaving it changes no "
               "decision; the request's own next send overwrites it, and its TTL ends it."),
    Equivalent(SUBMISSION, "Submission._reconcile", "self._settle_wait(self._last_sent_ms) <= 0 -> "
                                                    "self._settle_wait(self._last_sent_ms) < 0",
               "Differs only when the wait left is 0.0 s to the millisecond: then _wait_to_settle waits for "
               "nothing and the mutant reconciles once more, as answered, with the same outcome."),
    Equivalent(SUBMISSION, "Submission._wait_to_settle", "wait <= 0 -> wait < 0",
               "Differs only when the settle time ends in the very millisecond of the clock reading: the "
               "mutant then sleeps 0 s, or gives up with less than RESUBMIT_RESERVE_SECONDS left, one "
               "millisecond before it would not have had to."),
    Equivalent(SUBMISSION, "Submission._wait_to_settle",
               "wait > self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS -> "
               "wait >= self._p.deadline.remaining() - RESUBMIT_RESERVE_SECONDS",
               "Differs only when the wait equals the time left less the reserve to the float, which no test "
               "(and no caller) can arrange."),
    Equivalent(SUBMISSION, "Submission._note",
               "self._p.store.set_marker(self._record_task_name, note, self._ttl_ms) or True -> "
               "not self._p.store.set_marker(self._record_task_name, note, self._ttl_ms) or True",
               "set_marker returns None: `not None or True` is True, as `None or True` is."),
    Equivalent(SUBMISSION, "_decoded", "return None -> pass",
               "UnsettledSend.decode(None) raises TypeError (json.loads), caught below: None either way."),

    # --- idempotency.py --------------------------------------------------------------------------
    Equivalent(IDEMPOTENCY, "rejection_key", "what = _digest(f'{problem_code}|{what}') -> pass",
               "The key then holds what the payload carried as JSON instead of its digest: as distinct, as "
               "stable. The problem code it leaves out adds nothing: one payload is always refused with the same "
               "code (validation is a function of the payload; the allowlist refuses only what passes it)."),
    Equivalent(IDEMPOTENCY, "IdempotencyRecord.from_fields", "fields.get('lease_until_ms') or 0 -> "
                                                             "fields.get('lease_until_ms') or not 0",
               "Both stores always hold lease_until_ms as a number's text (acquire writes it), so the `or` "
               "never decides."),
    Equivalent(IDEMPOTENCY, "IdempotencyRecord.from_fields", "fields.get('attempted_at_ms') or 0 -> "
                                                             "fields.get('attempted_at_ms') or not 0",
               "Both stores always hold attempted_at_ms as a number's text ('0' until a send: the in-memory "
               "record's default, Redis's ACQUIRE script), so the `or` never decides."),
    Equivalent(IDEMPOTENCY, "InMemoryStore._live", "entry[1] <= now -> entry[1] < now",
               "Whether an entry lives through the very millisecond its TTL ends: no caller can tell (TTLs are "
               "seconds to days), and Redis itself keeps a key through that millisecond (it expires when now > "
               "its time)."),
    Equivalent(IDEMPOTENCY, "InMemoryStore._live", "del table[key] -> pass",
               "An expired entry left in place is still read as absent (the check above), writes replace it, "
               "and the next sweep frees it: nothing reads the difference (README: freed by a sweep every "
               "minute)."),
    Equivalent(IDEMPOTENCY, "InMemoryStore._sweep", "expires_ms <= now -> expires_ms < now",
               "An entry that expires in the very millisecond of a sweep is freed by the next one instead; it "
               "is read as absent meanwhile."),
    Equivalent(IDEMPOTENCY, "InMemoryStore.acquire", "return Claim(True, record) -> pass",
               "Falling through, the record just made is not final and is the caller's own, so the holder's "
               "check below returns the same Claim(True, record)."),
)


def explanations() -> Dict[Tuple[str, str, str], str]:
    return {(entry.file, entry.scope, entry.change): entry.why for entry in EQUIVALENTS}
