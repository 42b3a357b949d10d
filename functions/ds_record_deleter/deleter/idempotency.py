"""Idempotency: one record per request key, moved IN_PROGRESS -> SUBMITTED -> PUBLISHED under a
lease, so a redelivered request returns its stored TaskNo instead of creating a second task.

The key is, by kind (each kept for its own time once settled, see Retention):
- the caller's IdempotencyKey (`key:`): the same key answers the same TaskNo, for
  IDEMPOTENCY_TTL_SECONDS;
- else the id of a queue, topic or timer delivery with what the request asks (`src:`): a
  redelivery carries the same id, so its record is kept as long as the trigger can deliver it
  again (DELIVERY_RECORD_TTL_SECONDS); two items of one array asking the same are one request;
- else what the request asks (`req:`): an unsettled one (a send whose outcome is not known, a
  TaskNo not yet published) is taken over by the same deletion asked again; a settled one is not
  replayed, because whether its task ended is the service's to say: the per-record task
  (submission.py) joins it or lets a new task be made.
"What the request asks" is its DS record, plus "Force" and "AllowInsecure" when it sets them, in
every kind of key: a request refused by the safety check (guard.py), asked again with one of them,
is a new request, also under the same IdempotencyKey.
A request the checks before the send ended (refused, or nothing to delete) is kept GUARDED, like a
refusal of the service.

A record is owned by whoever holds its lease (until the invocation's hard end: after that no
process can still be working on it). Only the owner writes it. A lease left by a crashed instance
lapses, and the next delivery takes the record over; if a submission had been attempted, it
reconciles before submitting again.

The same stores also hold task claims (which request a TaskNo belongs to), per-domain locks and
the webhook's replay guard. InMemoryStore serves one instance; cloud.redis_store serves many.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import MISSING, dataclass, replace
from dataclasses import fields as dataclass_fields
from typing import Any, Callable, Dict, Optional, Protocol, Tuple

from .deletion_request import DeletionRequest
from .source import Source

IN_PROGRESS = "IN_PROGRESS"
SUBMITTED = "SUBMITTED"
PUBLISHED = "PUBLISHED"
FAILED = "FAILED"      # refused for good; kept so that a redelivered message stays a no-op
REJECTED = "REJECTED"  # invalid; kept (by message id) so that its rejection is published once

UNPUBLISHED_TTL_SECONDS = 14 * 86400  # a TaskNo not yet published is kept long enough to be found


def unpublished_ttl_ms(idempotency_ttl_seconds: int) -> int:
    """How long a record, claim or marker that may stand for an unpublished TaskNo is kept."""
    return max(idempotency_ttl_seconds, UNPUBLISHED_TTL_SECONDS) * 1000

CALLER_KEY, DELIVERY_KEY, CONTENT_KEY = "key:", "src:", "req:"


def fingerprint(request: DeletionRequest) -> str:
    """What a request asks: one DS record (its normalised domain and KeyTag)."""
    return f"{request.domain_name}|{request.key_tag}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def delivery_key(source: Source, what: str) -> Optional[str]:
    """The key of what a delivery asked, when its id comes again with a redelivery (a webhook's
    request id, a direct invoke's, a topic STREAM message's invocation id do not)."""
    return f"{DELIVERY_KEY}{source.trigger}:{source.delivery_id}|{what}" if source.survives_redelivery else None


def idempotency_key(request: DeletionRequest, source: Source) -> str:
    if request.idempotency_key:  # a space is no key's character: "a |force" is no other key
        return CALLER_KEY + request.idempotency_key + (f" {overrides(request)}" if overrides(request) else "")
    what = fingerprint(request) + overrides(request)
    return delivery_key(source, what) or CONTENT_KEY + _digest(what)


def overrides(request: DeletionRequest) -> str:
    """What a request overrides of the safety check, in its key: asked again with "Force" or
    "AllowInsecure" after a refusal, it is a new request (checked again), not the refused one."""
    return "".join(f"|{name}" for name, on in (("force", request.force), ("allow-insecure", request.allow_insecure))
                   if on)


def rejection_key(payload: Any, problem_code: str, source: Source) -> str:
    """The key under which an invalid request's rejection is published once: by the delivery and
    what it carried, or (an id that does not come again) by what it carried alone."""
    try:
        what = json.dumps(payload, sort_keys=True, ensure_ascii=True, allow_nan=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        what = repr(payload)
    what = _digest(f"{problem_code}|{what}")
    return delivery_key(source, f"rejected:{what}") or f"rej:{source.trigger}:{what}"


@dataclass(frozen=True)
class Retention:
    """How long a settled record is kept, by the kind of its key."""
    idempotency_ms: int  # a caller's IdempotencyKey; a refusal keyed by content
    delivery_ms: int     # a delivery id: at least as long as the trigger can deliver it again

    def settled_ms(self, key: str) -> int:
        return self.delivery_ms if key.startswith(DELIVERY_KEY) else self.idempotency_ms


class StoreError(Exception):
    """The store cannot be reached or answered wrongly. Nothing is sent to the cloud without a
    record, so this is a transient failure of the request."""


@dataclass(frozen=True)
class IdempotencyRecord:
    status: str
    fingerprint: str
    owner: str = ""
    lease_until_ms: int = 0
    attempted_at_ms: int = 0  # when a submission was first sent; 0: never
    sent_at_ms: int = 0       # when the latest one was sent
    task_no: str = ""
    api_request_id: str = ""
    code: str = ""
    message: str = ""
    notified: bool = False
    adopted: bool = False  # the TaskNo was found by reconciliation, not returned by the call
    joined: bool = False   # the TaskNo is another request's pending task for the same DS record
    task_status: str = ""  # the task's status when it was adopted or joined ("" for a new task)
    final: bool = False    # nothing left to do: a redelivery only reads it
    submitted_at: str = ""  # when its Submitted notification was published, while its first check is owed
    safety: str = ""       # what the checks before the send found (deleter.guard.Clearance.to_record)

    def to_fields(self) -> Dict[str, str]:
        return {name: (str(int(value)) if isinstance(value, bool) else str(value))
                for name, value in self.__dict__.items()}

    @classmethod
    def from_fields(cls, fields: Dict[str, str]) -> "IdempotencyRecord":
        return cls(
            status=fields["status"], fingerprint=fields.get("fingerprint", ""), owner=fields.get("owner", ""),
            lease_until_ms=int(fields.get("lease_until_ms") or 0),
            attempted_at_ms=int(fields.get("attempted_at_ms") or 0), sent_at_ms=int(fields.get("sent_at_ms") or 0),
            task_no=fields.get("task_no", ""),
            api_request_id=fields.get("api_request_id", ""), code=fields.get("code", ""),
            message=fields.get("message", ""), notified=fields.get("notified") == "1",
            adopted=fields.get("adopted") == "1", joined=fields.get("joined") == "1",
            task_status=fields.get("task_status", ""), final=fields.get("final") == "1",
            submitted_at=fields.get("submitted_at", ""),
            safety=fields.get("safety", ""),
        )


@dataclass(frozen=True)
class Claim:
    acquired: bool                 # the caller now owns the record
    record: IdempotencyRecord
    taken_over: bool = False       # it was someone else's, whose lease had lapsed


class IdempotencyStore(Protocol):
    def acquire(self, key: str, owner: str, fingerprint: str, lease_until_ms: int, now_ms: int,
                ttl_ms: int) -> Claim: ...

    def update(self, key: str, owner: str, changes: Dict[str, str], ttl_ms: int) -> bool: ...

    def claim_task(self, task_no: str, key: str, ttl_ms: int) -> bool: ...

    def task_claimant(self, task_no: str) -> Optional[str]: ...

    def lock(self, name: str, owner: str, ttl_ms: int) -> bool: ...

    def unlock(self, name: str, owner: str) -> None: ...

    def first_use(self, token: str, ttl_ms: int) -> bool: ...

    # A domain's marker: a value that outlives invocations, written and read under the domain's lock.
    def set_marker(self, name: str, value: str, ttl_ms: int) -> None: ...

    def marker(self, name: str) -> Optional[str]: ...

    def clear_marker(self, name: str, value: str) -> None: ...  # only while it still holds value


SWEEP_EVERY_MS = 60_000  # how often the in-memory store frees what expired


def _field_parsers() -> Dict[str, Callable[[str], Any]]:
    """How from_fields reads each plain field back from text: a flag is "1", a number may be
    empty (0), text is itself. A field of another kind is left out (from_fields reads it)."""
    parsers: Dict[str, Callable[[str], Any]] = {}
    for item in dataclass_fields(IdempotencyRecord):
        default = item.default
        if default is MISSING or type(default) is str:
            parsers[item.name] = str
        elif type(default) is bool:
            parsers[item.name] = "1".__eq__
        elif type(default) is int:
            parsers[item.name] = lambda text: int(text or 0)
    return parsers


class InMemoryStore:
    """The default store: one FC instance's memory. Atomic under one lock. What expired is freed
    by a sweep at most every SWEEP_EVERY_MS (an instance may live for days: replay tokens and
    settled records must not pile up), and read as absent in between."""

    _parsers: Optional[Dict[str, Callable[[str], Any]]] = None  # field -> its text's parser, made once

    def __init__(self, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._records: Dict[str, Tuple[IdempotencyRecord, int]] = {}
        self._values: Dict[str, Tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._clock_ms = clock_ms
        self._next_sweep_ms = clock_ms() + SWEEP_EVERY_MS

    def __len__(self) -> int:
        """Entries held (records and values), expired or not: what the sweep keeps bounded."""
        return len(self._records) + len(self._values)

    def _live(self, table: dict, key: str):
        now = self._clock_ms()
        if now >= self._next_sweep_ms:
            self._sweep(now)
        entry = table.get(key)
        if entry is not None and entry[1] <= now:
            del table[key]
            return None
        return entry[0] if entry else None

    def _sweep(self, now: int) -> None:
        for table in (self._records, self._values):
            for key in [key for key, (_, expires_ms) in table.items() if expires_ms <= now]:
                del table[key]
        self._next_sweep_ms = now + SWEEP_EVERY_MS

    def acquire(self, key: str, owner: str, fingerprint: str, lease_until_ms: int, now_ms: int,
                ttl_ms: int) -> Claim:
        with self._lock:
            record = self._live(self._records, key)
            if record is None:
                record = IdempotencyRecord(IN_PROGRESS, fingerprint, owner, lease_until_ms)
                self._records[key] = (record, self._clock_ms() + ttl_ms)
                return Claim(True, record)
            if record.final:
                return Claim(False, record)
            if record.owner == owner:  # asked again by its holder (a resent command)
                return Claim(True, record)
            if record.lease_until_ms > now_ms:
                return Claim(False, record)
            record = replace(record, owner=owner, lease_until_ms=lease_until_ms)
            self._records[key] = (record, self._records[key][1])
            return Claim(True, record, taken_over=True)

    def update(self, key: str, owner: str, changes: Dict[str, str], ttl_ms: int) -> bool:
        with self._lock:
            record = self._live(self._records, key)
            if record is None or record.owner != owner:
                return False
            self._records[key] = (self._changed(record, changes), self._clock_ms() + ttl_ms)
            return True

    @staticmethod
    def _changed(record: IdempotencyRecord, changes: Dict[str, str]) -> IdempotencyRecord:
        """The record with changes (field -> text, as a store keeps them) parsed in, as
        from_fields(to_fields() | changes) would give it, without turning every field into text
        and back (three times a request: make bench)."""
        parsers = InMemoryStore._parsers
        if parsers is None:
            parsers = InMemoryStore._parsers = _field_parsers()
        try:
            typed = {name: parsers[name](value) for name, value in changes.items() if name in record.__dict__}
        except KeyError:  # a field whose text form only from_fields knows
            return IdempotencyRecord.from_fields({**record.to_fields(), **changes})
        # replace() would run the frozen __init__ (one object.__setattr__ per field): the record
        # has no __post_init__, so copying its fields is the same record, made 8x faster.
        changed = object.__new__(IdempotencyRecord)
        changed.__dict__.update(record.__dict__, **typed)
        return changed

    def _set_if_absent(self, name: str, value: str, ttl_ms: int) -> bool:
        if self._live(self._values, name) is not None:
            return False
        self._values[name] = (value, self._clock_ms() + ttl_ms)
        return True

    def claim_task(self, task_no: str, key: str, ttl_ms: int) -> bool:
        with self._lock:
            return self._set_if_absent(f"task:{task_no}", key, ttl_ms) or self._live(self._values, f"task:{task_no}") == key

    def task_claimant(self, task_no: str) -> Optional[str]:
        with self._lock:
            return self._live(self._values, f"task:{task_no}")

    def lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        with self._lock:
            return self._set_if_absent(f"lock:{name}", owner, ttl_ms) or self._live(self._values, f"lock:{name}") == owner

    def unlock(self, name: str, owner: str) -> None:
        with self._lock:
            if self._live(self._values, f"lock:{name}") == owner:
                del self._values[f"lock:{name}"]

    def first_use(self, token: str, ttl_ms: int) -> bool:
        with self._lock:
            return self._set_if_absent(f"once:{token}", "1", ttl_ms)

    def set_marker(self, name: str, value: str, ttl_ms: int) -> None:
        with self._lock:
            self._values[f"marker:{name}"] = (value, self._clock_ms() + ttl_ms)

    def marker(self, name: str) -> Optional[str]:
        with self._lock:
            return self._live(self._values, f"marker:{name}")

    def clear_marker(self, name: str, value: str) -> None:
        with self._lock:
            if self._live(self._values, f"marker:{name}") == value:
                del self._values[f"marker:{name}"]
