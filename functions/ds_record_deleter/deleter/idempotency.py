"""Idempotency: one record per request key, moved IN_PROGRESS -> SUBMITTED -> PUBLISHED under a
lease, so a redelivered request returns its stored TaskNo instead of creating a second task.

The key is the caller's IdempotencyKey; else the message id of a queue, topic or timer delivery
(a redelivery carries the same id); else a hash of the normalised request, which dedupes the same
deletion asked again within IDEMPOTENCY_TTL_SECONDS.

A record is owned by whoever holds its lease (until the invocation's hard end: after that no
process can still be working on it). Only the owner writes it. A lease left by a crashed instance
lapses, and the next delivery takes the record over; if a submission had been attempted, it
reconciles before submitting again.

The same stores also hold task claims (which request a TaskNo belongs to), per-domain locks and
the webhook's replay guard. InMemoryStore serves one instance; cloud.redis_store serves many.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, Optional, Protocol, Tuple

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

def fingerprint(request: DeletionRequest) -> str:
    return f"{request.domain_name}|{request.key_tag}"


def stable_source_key(source: Source) -> Optional[str]:
    """The delivery's own key, when its id comes again with a redelivery (a webhook's request id,
    a direct invoke's, a topic STREAM message's invocation id do not)."""
    return f"src:{source.trigger}:{source.id}" if source.survives_redelivery else None


def idempotency_key(request: DeletionRequest, source: Source) -> str:
    if request.idempotency_key:
        return f"key:{request.idempotency_key}"
    return stable_source_key(source) or "req:" + hashlib.sha256(fingerprint(request).encode()).hexdigest()


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
    final: bool = False    # nothing left to do: a redelivery only reads it

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
            adopted=fields.get("adopted") == "1", final=fields.get("final") == "1",
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


class InMemoryStore:
    """The default store: one FC instance's memory. Atomic under one lock."""

    def __init__(self, clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._records: Dict[str, Tuple[IdempotencyRecord, int]] = {}
        self._values: Dict[str, Tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._clock_ms = clock_ms

    def _live(self, table: dict, key: str):
        entry = table.get(key)
        if entry is not None and entry[1] <= self._clock_ms():
            del table[key]
            return None
        return entry[0] if entry else None

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
            fields = {**record.to_fields(), **changes}
            self._records[key] = (IdempotencyRecord.from_fields(fields), self._clock_ms() + ttl_ms)
            return True

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
