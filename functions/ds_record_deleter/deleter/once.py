"""An effect (a notification published, a check scheduled) made once per key, however often the
message that asks for it is delivered: the key's record in the idempotency store is acquired
under a lease, the effect made, and only then the record made final. An effect that failed frees
the record at once, so the redelivery makes it; one whose record could not be made final may be
made again (consumers dedupe by TaskNo and Event), never lost. An effect that carries a decision
keeps it in the record first, so that making it again never tells something else.
"""
from __future__ import annotations

import uuid
from typing import Callable, Optional, Tuple

from . import idempotency
from .deadline import Deadline
from .idempotency import IdempotencyStore, StoreError
from .log import logger


class Busy(Exception):
    """Another invocation is making the effect now: this delivery must come again to know it happened."""


class Once:
    def __init__(self, store: IdempotencyStore, deadline: Deadline, now_ms: Callable[[], int],
                 sleep: Callable[[float], None], settled_ttl_ms: int, instance_id: str) -> None:
        self._store = store
        self._deadline = deadline
        self._now_ms = now_ms
        self._sleep = sleep
        self.settled_ttl_ms = settled_ttl_ms  # as long as the asking message can be delivered again
        self._instance_id = instance_id

    def run(self, key: str, effect: Callable[[], object], log: dict) -> bool:
        """True when the effect was made now, False when it had been made before. Raises Busy, a
        StoreError (nothing was made), or what the effect raised (its record freed)."""
        return self.run_decided(key, "", lambda _: effect(), log)[0]

    def run_decided(self, key: str, decision: str, effect: Callable[[str], object], log: dict) -> Tuple[bool, str]:
        """As run, for an effect that carries a decision (the end told for a task): the first
        decision is kept in the key's record before the effect is made, and every later run (the
        effect's outcome unknown, the invocation killed before the record was made final) makes
        the effect with it, never with a decision of its own. (made now, the decision that stands)."""
        owner = f"{self._instance_id}/{uuid.uuid4().hex}"
        claim = self._acquire(key, owner)
        if claim.record.final:
            return False, claim.record.message or decision
        if not claim.acquired:
            raise Busy(key)
        if decision and not claim.record.message:
            self._store.update(key, owner, {"message": decision}, self.settled_ttl_ms)
        decision = claim.record.message or decision
        try:
            effect(decision)
        except BaseException:
            self._free(key, owner, log)
            raise
        try:
            self._store.update(key, owner, {"status": idempotency.PUBLISHED, "final": "1", "lease_until_ms": "0"},
                               self.settled_ttl_ms)
        except StoreError as error:  # made, not recorded: a redelivery makes it again, nothing is lost
            logger.warning("Effect made but not recorded: a redelivery may repeat it",
                           extra={**log, "once_key": key, "store_error": str(error)})
        return True, decision

    def _acquire(self, key: str, owner: str):
        """The key's record; while this instance holds it (two copies of one message in a batch),
        wait within the deadline for the holder to finish."""
        claim: Optional[idempotency.Claim] = None

        def decided() -> bool:
            nonlocal claim
            claim = self._store.acquire(key, owner, "once", self._now_ms() + self._deadline.lease_ms(),
                                        self._now_ms(), self.settled_ttl_ms)
            record = claim.record
            return claim.acquired or record.final or not record.owner.startswith(f"{self._instance_id}/")

        self._deadline.poll(decided, self._sleep)
        return claim

    def _free(self, key: str, owner: str, log: dict) -> None:
        try:
            self._store.update(key, owner, {"lease_until_ms": "0"}, self.settled_ttl_ms)
        except StoreError as error:  # the lease lapses with the invocation anyway
            logger.warning("Record not freed", extra={**log, "once_key": key, "store_error": str(error)})
