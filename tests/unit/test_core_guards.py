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


SAMPLE_CHANGES = {"status": "SUBMITTED", "owner": "inv-2", "lease_until_ms": "1700000000123", "attempted_at_ms": "5",
                  "sent_at_ms": "", "task_no": "T-1", "api_request_id": "R-1", "code": "", "message": "m",
                  "notified": "1", "adopted": "0", "joined": "1", "task_status": "EXECUTING", "final": "0",
                  "submitted_at": "2026-12-05T03:00:00Z", "safety": "{}", "fingerprint": "fp"}


def test_every_record_field_is_parsed_from_its_text_as_from_fields_reads_it():
    """The in-memory store parses a change field by field (three updates a request: make bench);
    a field without a parser would fall back to the slower text round trip, and a parser that
    reads differently from from_fields would make a different record. An empty number is 0."""
    from dataclasses import fields

    from deleter.idempotency import IdempotencyRecord, _field_parsers

    parsers = _field_parsers()
    assert set(parsers) == {item.name for item in fields(IdempotencyRecord)}
    assert set(SAMPLE_CHANGES) == set(parsers)
    expected = IdempotencyRecord.from_fields(SAMPLE_CHANGES)
    assert {name: parsers[name](text) for name, text in SAMPLE_CHANGES.items()} == expected.__dict__
    assert expected.sent_at_ms == 0 and expected.notified is True and expected.adopted is False


def test_a_change_to_a_field_without_a_parser_still_makes_the_record_from_fields_would(monkeypatch):
    from deleter.idempotency import IN_PROGRESS, IdempotencyRecord, InMemoryStore

    monkeypatch.setattr(InMemoryStore, "_parsers", {"status": str})  # the others: none
    store = InMemoryStore(clock_ms=lambda: 1_000)
    store.acquire("key:k", "inv-1", "fp", 60_000, 1_000, 60_000)
    changes = {**SAMPLE_CHANGES, "owner": "inv-1"}
    assert store.update("key:k", "inv-1", changes, 60_000)
    record = store.acquire("key:k", "inv-1", "fp", 60_000, 1_000, 60_000).record
    base = IdempotencyRecord(IN_PROGRESS, "fp", "inv-1", 60_000)
    assert record == IdempotencyRecord.from_fields({**base.to_fields(), **changes})
    assert (record.task_no, record.joined, record.lease_until_ms) == ("T-1", True, 1700000000123)
