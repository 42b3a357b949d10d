"""Guards of the idempotency store that no other test failed without (issue 8, point 11): each
test here kills mutants of idempotency.py that `make mutate` found surviving."""
from __future__ import annotations

from deleter.idempotency import SWEEP_EVERY_MS, InMemoryStore


def test_the_in_memory_store_sweeps_at_most_once_a_minute():
    """A sweep walks every entry: it runs when a minute has passed since the last, not on every
    read, so an entry that expires between two sweeps is held (expired) until the next."""
    now = [1_000_000]
    store = InMemoryStore(clock_ms=lambda: now[0])
    store.first_use("token", 1_000)
    now[0] += SWEEP_EVERY_MS
    store.marker("anything")  # this read sweeps: the token is freed
    assert len(store) == 0
    store.first_use("token", 1_000)
    now[0] += 2_000
    store.marker("anything")  # the token expired a second ago; the next sweep is 58 s away
    assert len(store) == 1
    now[0] += SWEEP_EVERY_MS
    store.marker("anything")
    assert len(store) == 0


def test_a_callers_key_reads_as_itself_and_names_only_what_it_overrides():
    """The record's key shows in the store and in log lines (`for_idempotency_key`): a caller's
    IdempotencyKey reads as itself, and only a Force or AllowInsecure it carries is added (a
    space, which no IdempotencyKey holds, sets it apart). What a request without a key asks is
    keyed by its fingerprint alone, unless it overrides."""
    from deleter.deletion_request import DeletionRequest
    from deleter.idempotency import CONTENT_KEY, _digest, fingerprint, idempotency_key
    from deleter.source import Source

    source = Source("direct", "req-1")  # an id that does not come again
    plain = DeletionRequest("example.com", 2371, "en", idempotency_key="order-7")
    assert idempotency_key(plain, source) == "key:order-7"
    assert idempotency_key(DeletionRequest("example.com", 2371, "en", idempotency_key="order-7", force=True),
                           source) == "key:order-7 |force"
    assert idempotency_key(DeletionRequest("example.com", 2371, "en", idempotency_key="order-7", force=True,
                                           allow_insecure=True), source) == "key:order-7 |force|allow-insecure"
    keyless = DeletionRequest("example.com", 2371, "en")
    assert idempotency_key(keyless, source) == CONTENT_KEY + _digest(fingerprint(keyless))
