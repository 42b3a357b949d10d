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
