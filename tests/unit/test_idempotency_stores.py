"""One contract, two stores: InMemoryStore and RedisIdempotencyStore (on a real redis-server)
must behave the same, alone and under concurrent callers.

Each test runs once per store ([memory], [redis]). Leases are judged by the caller's now_ms;
expiry by the store's own clock, which `backend.elapse(ms)` moves on (InMemoryStore's injected
clock; Redis: a real sleep, so Redis TTLs here are a few hundred ms).
"""
from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List

import pytest

from cloud.redis import RedisClient
from cloud.redis_store import RedisIdempotencyStore
from deleter.idempotency import IN_PROGRESS, PUBLISHED, SUBMITTED, IdempotencyRecord, InMemoryStore, StoreError
from tests.redis_server import redis_server, redis_server_factory, redis_url  # noqa: F401  (fixtures)

NOW = 1_000_000                 # the caller's clock, for leases
LEASE = NOW + 30_000            # a lease still valid at NOW
LATER = LEASE + 1               # when that lease has lapsed
DAY_MS = 86_400_000
TTL_MS = 200                    # short expiries, for the tests that wait for them
THREADS = 16


class Backend:
    """The store under test. `stores` are two handles on the same data: for Redis two clients,
    as two FC instances have; for memory the one store (it serves one instance)."""

    def __init__(self, name: str, stores: list, elapse: Callable[[int], None]) -> None:
        self.name = name
        self.stores = stores
        self.store = stores[0]
        self.elapse = elapse


@pytest.fixture(params=["memory", "redis"])
def backend(request) -> Backend:
    if request.param == "memory":
        offset = [0]

        def clock_ms() -> int:
            # The store reads its clock between looking and writing: yielding there lets racing
            # threads interleave, so the race tests fail for a store without its lock.
            time.sleep(0.0005)
            return int(time.time() * 1000) + offset[0]

        store = InMemoryStore(clock_ms=clock_ms)
        return Backend("memory", [store, store], lambda ms: offset.__setitem__(0, offset[0] + ms))
    url = request.getfixturevalue("redis_url")
    prefix = f"test:{uuid.uuid4().hex}:"  # the shared server: each test its own keys
    stores = [RedisIdempotencyStore(RedisClient(url), prefix=prefix) for _ in range(2)]
    return Backend("redis", stores, lambda ms: time.sleep(ms / 1000))


def peek(store, key: str):
    """The record as it stands, or None if there is none. (now_ms=-1: no lease counts as lapsed,
    so an existing record is returned untouched; an absent one is created, which only the end
    of a test may do.)"""
    claim = store.acquire(key, "peek", "peek", 0, -1, DAY_MS)
    return None if claim.acquired and not claim.taken_over else claim.record


def changed_fields(*leave_out: str) -> dict:
    """A value for every record field not left out, each unlike its default."""
    return {field.name: {"bool": "1", "int": str(100 + n)}.get(field.type, f"{field.name}, ünïcode")
            for n, field in enumerate(dataclasses.fields(IdempotencyRecord)) if field.name not in leave_out}


def race(count: int, action: Callable[[int], object]) -> List[object]:
    """action(0..count-1), each on its own thread, all released at once; their results in order."""
    barrier = threading.Barrier(count)

    def run(index: int) -> object:
        barrier.wait(timeout=10)
        return action(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


# --- acquire ---------------------------------------------------------------------------------

def test_acquire_creates_an_in_progress_record_owned_by_the_caller(backend):
    claim = backend.store.acquire("k", "a", "example.com|1", LEASE, NOW, DAY_MS)
    assert claim.acquired and not claim.taken_over
    assert claim.record == IdempotencyRecord(IN_PROGRESS, "example.com|1", owner="a", lease_until_ms=LEASE)


def test_acquire_while_the_lease_is_valid_is_refused_and_changes_nothing(backend):
    first = backend.store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS).record
    claim = backend.store.acquire("k", "b", "other-fp", LEASE + 5000, LEASE - 1, DAY_MS)
    assert not claim.acquired and not claim.taken_over
    assert claim.record == first
    assert peek(backend.store, "k") == first


def test_acquire_again_by_the_holder_is_granted_and_changes_nothing(backend):
    """Owners are unique per request being processed: the holder asking again is a command
    resent after a lost reply, and must not lock its own sender out."""
    first = backend.store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS).record
    claim = backend.store.acquire("k", "a", "other-fp", LEASE + 5000, LEASE - 1, DAY_MS)
    assert claim.acquired and not claim.taken_over and claim.record == first
    assert peek(backend.store, "k") == first


def test_a_lease_ending_exactly_now_has_lapsed(backend):
    backend.store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS)
    claim = backend.store.acquire("k", "b", "fp", LEASE + 10, LEASE, DAY_MS)
    assert claim.acquired and claim.taken_over and claim.record.owner == "b"


def test_taking_over_a_lapsed_lease_replaces_owner_and_lease_and_keeps_everything_else(backend):
    store = backend.store
    store.acquire("k", "a", "example.com|1", LEASE, NOW, DAY_MS)
    progress = {**changed_fields("owner", "lease_until_ms", "final", "fingerprint"), "status": SUBMITTED}
    assert store.update("k", "a", progress, DAY_MS)
    before = peek(store, "k")
    assert before.attempted_at_ms and before.task_no  # what a reconciliation needs

    claim = store.acquire("k", "b", "another|2", LATER + 30_000, LATER, DAY_MS)

    assert claim.acquired and claim.taken_over
    assert claim.record == dataclasses.replace(before, owner="b", lease_until_ms=LATER + 30_000)
    assert peek(store, "k") == claim.record
    assert not store.update("k", "a", {"status": PUBLISHED}, DAY_MS), "the old owner has lost the record"
    assert store.update("k", "b", {"status": PUBLISHED}, DAY_MS)


def test_a_final_record_is_never_taken_over(backend):
    store = backend.store
    store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS)
    assert store.update("k", "a", {"status": PUBLISHED, "task_no": "T-1", "final": "1"}, DAY_MS)
    final = peek(store, "k")

    claim = store.acquire("k", "b", "fp", LATER + DAY_MS, LATER + DAY_MS - 1, DAY_MS)

    assert not claim.acquired and not claim.taken_over
    assert claim.record == final and final.owner == "a" and final.final and final.task_no == "T-1"


# --- update ----------------------------------------------------------------------------------

def test_update_by_the_owner_writes_every_field(backend):
    store = backend.store
    store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS)
    changes = changed_fields("owner")
    assert store.update("k", "a", changes, DAY_MS) is True
    assert peek(store, "k").to_fields() == {**changes, "owner": "a"}
    assert store.update("k", "a", {"notified": "0", "final": "0"}, DAY_MS)
    record = peek(store, "k")
    assert not record.notified and not record.final and record.adopted


def test_update_by_anyone_but_the_owner_changes_nothing(backend):
    store = backend.store
    store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS)
    before = peek(store, "k")
    for stranger in ("b", "", "A", "a "):
        assert store.update("k", stranger, {"status": PUBLISHED, "owner": stranger, "final": "1"}, DAY_MS) is False
    assert peek(store, "k") == before


def test_update_of_a_missing_record_is_refused_and_creates_nothing(backend):
    assert backend.store.update("missing", "a", {"status": PUBLISHED}, DAY_MS) is False
    assert peek(backend.store, "missing") is None


def test_update_with_no_changes_refreshes_the_ttl(backend, request):
    store = backend.store
    store.acquire("k", "a", "fp", LEASE, NOW, 2 * TTL_MS)
    backend.elapse(TTL_MS + 50)
    assert store.update("k", "a", {}, 2 * TTL_MS) is True
    backend.elapse(TTL_MS + 50)  # past the first expiry, not the refreshed one
    assert peek(store, "k").owner == "a"


# --- expiry ----------------------------------------------------------------------------------

def test_a_record_expires_after_its_ttl(backend):
    store = backend.store
    store.acquire("k", "a", "fp", LEASE, NOW, TTL_MS)
    assert store.update("k", "a", {"task_no": "T-1", "attempted_at_ms": "5"}, TTL_MS)
    assert peek(store, "k").task_no == "T-1"
    backend.elapse(TTL_MS + 50)
    claim = store.acquire("k", "b", "fp2", LEASE, NOW, DAY_MS)  # a lease still valid: yet it is gone
    assert claim.acquired and not claim.taken_over
    assert claim.record == IdempotencyRecord(IN_PROGRESS, "fp2", owner="b", lease_until_ms=LEASE)


def test_update_refreshes_the_ttl(backend):
    store = backend.store
    store.acquire("k", "a", "fp", LEASE, NOW, 2 * TTL_MS)
    backend.elapse(TTL_MS + 50)
    assert store.update("k", "a", {"task_no": "T-1"}, 2 * TTL_MS)
    backend.elapse(TTL_MS + 50)  # past the first expiry
    assert peek(store, "k").task_no == "T-1"
    backend.elapse(TTL_MS + 50)  # past the refreshed one
    assert store.update("k", "a", {"task_no": "T-2"}, DAY_MS) is False
    assert peek(store, "k") is None


# --- task claims, locks, replay guard --------------------------------------------------------

def test_the_first_claim_on_a_task_wins(backend):
    store = backend.store
    assert store.task_claimant("T-1") is None
    assert store.claim_task("T-1", "key-a", DAY_MS) is True
    assert store.claim_task("T-1", "key-a", DAY_MS) is True, "the same key claiming again"
    assert store.claim_task("T-1", "key-b", DAY_MS) is False
    assert store.task_claimant("T-1") == "key-a"
    assert store.claim_task("T-2", "key-b", DAY_MS) is True
    assert store.task_claimant("T-2") == "key-b"


def test_a_task_claim_expires_after_its_ttl(backend):
    store = backend.store
    assert store.claim_task("T-1", "key-a", TTL_MS)
    backend.elapse(TTL_MS + 50)
    assert store.task_claimant("T-1") is None
    assert store.claim_task("T-1", "key-b", DAY_MS) and store.task_claimant("T-1") == "key-b"


def test_a_lock_has_one_holder_and_only_the_holder_unlocks_it(backend):
    store = backend.store
    assert store.lock("example.com", "a", DAY_MS) is True
    assert store.lock("example.com", "b", DAY_MS) is False
    assert store.lock("example.com", "a", DAY_MS) is True, "its holder asking again (a resent command) keeps it"
    assert store.lock("example.org", "b", DAY_MS) is True, "another name, another lock"
    store.unlock("example.com", "b")
    assert store.lock("example.com", "b", DAY_MS) is False, "a stranger's unlock does nothing"
    store.unlock("example.com", "a")
    assert store.lock("example.com", "b", DAY_MS) is True
    store.unlock("never-locked", "a")  # no error


def test_a_lock_expires_after_its_ttl(backend):
    store = backend.store
    assert store.lock("example.com", "a", TTL_MS)
    backend.elapse(TTL_MS + 50)
    assert store.lock("example.com", "b", DAY_MS) is True
    store.unlock("example.com", "a")  # the expired holder cannot release the new one's lock
    assert store.lock("example.com", "c", DAY_MS) is False


def test_first_use_is_true_once_within_its_ttl(backend):
    store = backend.store
    assert store.first_use("nonce-1", TTL_MS) is True
    assert store.first_use("nonce-1", TTL_MS) is False
    assert store.first_use("nonce-2", TTL_MS) is True
    backend.elapse(TTL_MS + 50)
    assert store.first_use("nonce-1", TTL_MS) is True


def test_a_marker_is_overwritten_read_and_cleared_only_while_it_holds_the_value(backend):
    store = backend.store
    assert store.marker("unsettled:example.com") is None
    store.set_marker("unsettled:example.com", "first", DAY_MS)
    store.set_marker("unsettled:example.com", "second", DAY_MS)  # a later send overwrites
    assert store.marker("unsettled:example.com") == "second"
    store.clear_marker("unsettled:example.com", "first")  # stale: nothing happens
    assert store.marker("unsettled:example.com") == "second"
    store.clear_marker("unsettled:example.com", "second")
    assert store.marker("unsettled:example.com") is None
    store.clear_marker("never-set", "x")  # no error


def test_a_marker_expires_after_its_ttl(backend):
    store = backend.store
    store.set_marker("unsettled:example.com", "v", TTL_MS)
    backend.elapse(TTL_MS + 50)
    assert store.marker("unsettled:example.com") is None


def test_records_claims_locks_markers_and_tokens_do_not_share_names(backend):
    store = backend.store
    assert store.acquire("x", "a", "fp", LEASE, NOW, DAY_MS).acquired
    assert store.claim_task("x", "key", DAY_MS)
    assert store.lock("x", "a", DAY_MS)
    store.set_marker("x", "m", DAY_MS)
    assert store.first_use("x", DAY_MS)
    assert store.task_claimant("x") == "key" and store.marker("x") == "m"
    assert store.lock("x", "b", DAY_MS) is False


# --- concurrency (for Redis, the threads alternate between two clients) ------------------------

def test_racing_acquires_make_exactly_one_owner(backend):
    claims = race(THREADS, lambda i: backend.stores[i % 2].acquire("k", f"o{i}", "fp", LEASE, NOW, DAY_MS))
    winners = [i for i, claim in enumerate(claims) if claim.acquired]
    assert len(winners) == 1
    assert {claim.record.owner for claim in claims} == {f"o{winners[0]}"}
    assert not any(claim.taken_over for claim in claims)


def test_racing_takeovers_of_a_lapsed_lease_make_exactly_one_owner(backend):
    backend.store.acquire("k", "crashed", "fp", LEASE, NOW, DAY_MS)
    claims = race(THREADS, lambda i: backend.stores[i % 2].acquire("k", f"o{i}", "fp", LATER + 30_000, LATER,
                                                                   DAY_MS))
    winners = [claim.record.owner for claim in claims if claim.acquired]
    assert len(winners) == 1 and all(claim.taken_over for claim in claims if claim.acquired)
    assert peek(backend.store, "k").owner == winners[0]


def test_racing_task_claims_have_one_winner(backend):
    results = race(THREADS, lambda i: backend.stores[i % 2].claim_task("T-1", f"key-{i}", DAY_MS))
    assert results.count(True) == 1
    assert backend.store.task_claimant("T-1") == f"key-{results.index(True)}"


def test_racing_locks_have_one_holder(backend):
    results = race(THREADS, lambda i: backend.stores[i % 2].lock("example.com", f"o{i}", DAY_MS))
    assert results.count(True) == 1


def test_racing_first_uses_have_one_winner(backend):
    results = race(THREADS, lambda i: backend.stores[i % 2].first_use("nonce", DAY_MS))
    assert results.count(True) == 1


def test_concurrent_updates_lose_no_write(backend):
    """Each thread owns keys of its own and also writes one field of a record all of them share
    (under one owner, as one invocation's threads would)."""
    rounds, keys_each = 20, 3
    shared_fields = ["task_no", "api_request_id", "code", "message", "attempted_at_ms", "lease_until_ms"]
    writers = len(shared_fields)
    backend.store.acquire("shared", "owner", "fp", LEASE, NOW, DAY_MS)
    for i in range(writers):
        for k in range(keys_each):
            assert backend.store.acquire(f"k{i}-{k}", f"o{i}", "fp", LEASE, NOW, DAY_MS).acquired

    def write(i: int) -> bool:
        store = backend.stores[i % 2]
        ok = True
        for n in range(rounds):
            for k in range(keys_each):
                ok &= store.update(f"k{i}-{k}", f"o{i}", {"message": f"{i}-{k}-{n}", "code": str(n)}, DAY_MS)
            ok &= store.update("shared", "owner", {shared_fields[i]: str(1000 * i + n)}, DAY_MS)
        return ok

    assert all(race(writers, write))
    for i in range(writers):
        for k in range(keys_each):
            record = peek(backend.store, f"k{i}-{k}")
            assert (record.message, record.code, record.owner) == (f"{i}-{k}-{rounds - 1}", str(rounds - 1), f"o{i}")
    shared = peek(backend.store, "shared").to_fields()
    assert {field: shared[field] for field in shared_fields} == {
        field: str(1000 * i + rounds - 1) for i, field in enumerate(shared_fields)}


# --- Redis only ------------------------------------------------------------------------------

def redis_store(url: str, prefix: str = "test:") -> RedisIdempotencyStore:
    return RedisIdempotencyStore(RedisClient(url), prefix=prefix)


def test_two_instances_on_one_redis_share_records_claims_and_locks(redis_url):
    prefix = f"test:{uuid.uuid4().hex}:"
    one, two = redis_store(redis_url, prefix), redis_store(redis_url, prefix)
    one.acquire("k", "one", "fp", LEASE, NOW, DAY_MS)
    assert one.update("k", "one", {"attempted_at_ms": "42"}, DAY_MS)
    refused = two.acquire("k", "two", "fp", LEASE, NOW, DAY_MS)
    assert not refused.acquired and refused.record.owner == "one"
    taken = two.acquire("k", "two", "fp", LATER + 1, LATER, DAY_MS)
    assert taken.taken_over and taken.record.attempted_at_ms == 42
    assert not one.update("k", "one", {"status": PUBLISHED}, DAY_MS)
    assert one.claim_task("T-1", "k", DAY_MS) and two.task_claimant("T-1") == "k"
    assert one.lock("d", "one", DAY_MS) and not two.lock("d", "two", DAY_MS)
    assert one.first_use("n", DAY_MS) and not two.first_use("n", DAY_MS)


def test_the_prefix_namespaces_every_key(redis_server):
    prefix = f"test:{uuid.uuid4().hex}:"
    store, other = redis_store(redis_server.url, prefix), redis_store(redis_server.url, prefix + "other:")
    store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS)
    store.claim_task("T", "k", DAY_MS)
    store.lock("d", "a", DAY_MS)
    store.first_use("n", DAY_MS)
    assert sorted(redis_server.cli("--scan", "--pattern", f"{prefix}*").split()) == [
        f"{prefix}lock:d", f"{prefix}once:n", f"{prefix}record:k", f"{prefix}task:T"]
    assert other.acquire("k", "b", "fp", LEASE, NOW, DAY_MS).acquired
    assert other.task_claimant("T") is None and other.lock("d", "b", DAY_MS) and other.first_use("n", DAY_MS)


def test_update_sets_the_records_ttl_in_redis(redis_server):
    prefix = f"test:{uuid.uuid4().hex}:"
    store = redis_store(redis_server.url, prefix)
    store.acquire("k", "a", "fp", LEASE, NOW, 60_000)
    assert 59_000 < int(redis_server.cli("PTTL", f"{prefix}record:k")) <= 60_000
    assert store.update("k", "a", {"task_no": "T"}, DAY_MS)
    assert DAY_MS - 60_000 < int(redis_server.cli("PTTL", f"{prefix}record:k")) <= DAY_MS
    assert not store.update("k", "b", {"task_no": "X"}, 5)
    assert int(redis_server.cli("PTTL", f"{prefix}record:k")) > DAY_MS - 60_000, "a refused update keeps the TTL"


def test_redis_going_away_is_a_store_error_without_the_password(redis_server_factory):
    password = "s3cret-Pa55"
    server = redis_server_factory(password)
    store = redis_store(server.url)
    assert store.acquire("k", "a", "fp", LEASE, NOW, DAY_MS).acquired  # connected, authenticated
    server.stop()
    calls = [lambda: store.acquire("k", "b", "fp", LATER + 1, LATER, DAY_MS),
             lambda: store.update("k", "a", {"status": PUBLISHED}, DAY_MS),
             lambda: store.claim_task("T", "k", DAY_MS), lambda: store.task_claimant("T"),
             lambda: store.lock("d", "a", DAY_MS), lambda: store.unlock("d", "a"),
             lambda: store.first_use("n", DAY_MS)]
    for call in calls:
        with pytest.raises(StoreError) as caught:
            call()
        assert "unreachable" in str(caught.value) and password not in str(caught.value)
        assert caught.value.__suppress_context__  # no chained traceback to leak through either
    assert password not in repr(store)

    server.start()  # back, empty: the store reconnects by itself
    assert store.acquire("k", "b", "fp", LEASE, NOW, DAY_MS).acquired


def test_a_wrong_password_is_a_store_error_without_either_password(redis_server_factory):
    server = redis_server_factory("right-Pa55")
    store = redis_store(f"redis://:wrong-Pa55@127.0.0.1:{server.port}")
    with pytest.raises(StoreError) as caught:
        store.lock("d", "a", DAY_MS)
    assert "Pa55" not in str(caught.value) and "WRONGPASS" in str(caught.value)


def test_acquire_returns_the_record_its_script_decided_on(redis_url):
    """The script returns the record with its decision: a slow or separate read (here, a client
    whose HGETALL dawdles past the record's expiry) cannot split the two."""
    class SlowReads(RedisClient):
        def hgetall(self, key):
            time.sleep(0.05)
            return super().hgetall(key)

    store = RedisIdempotencyStore(SlowReads(redis_url), prefix=f"test:{uuid.uuid4().hex}:")
    claim = store.acquire("k", "a", "fp", LEASE, NOW, 10)
    assert claim.acquired and claim.record.owner == "a"


def test_the_in_memory_store_frees_what_expired_on_a_long_lived_instance():
    """50,000 webhook replay tokens (their window is 10 minutes), then an hour of quiet traffic:
    memory holds what is live, not every token ever seen."""
    from deleter.idempotency import SWEEP_EVERY_MS

    now = [1_000_000]
    store = InMemoryStore(clock_ms=lambda: now[0])
    for token in range(50_000):
        assert store.first_use(f"webhook:{token}", 600_000)
    assert len(store) == 50_000
    now[0] += 600_000 + SWEEP_EVERY_MS  # every token's window is over
    assert store.first_use("webhook:one-more", 600_000)
    assert len(store) == 1
    # Settled records expire and are freed alike; one still live is kept.
    store.acquire("kept", "owner", "fp", 0, now[0], 3_600_000)
    store.acquire("gone", "owner", "fp", 0, now[0], 1_000)
    now[0] += SWEEP_EVERY_MS
    store.marker("anything")  # any read may sweep
    assert len(store) == 2  # "kept" and the last token, both live
    assert store.acquire("kept", "other", "fp", 0, now[0], 1).taken_over  # it was still there
