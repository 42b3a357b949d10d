"""InMemoryStore.update parses only the changed fields (issue 12), and gives the very record the
text round trip (from_fields(to_fields() | changes)) gives."""
from __future__ import annotations

from dataclasses import fields

from hypothesis import given, strategies as st

from deleter.idempotency import IdempotencyRecord, InMemoryStore

NAMES = [item.name for item in fields(IdempotencyRecord)]
TEXT = st.sampled_from(["", "0", "1", "17", "1700000000000", "SUBMITTED", "task-1", "a message"])


@given(st.dictionaries(st.sampled_from(NAMES + ["not_a_field"]), TEXT), st.booleans())
def test_an_update_equals_the_text_round_trip(changes, notified):
    if changes.get("status") == "":
        changes["status"] = "IN_PROGRESS"
    for name in NAMES:  # numbers as a store writes them
        if isinstance(getattr(IdempotencyRecord("S", "f"), name), int) and not isinstance(
                getattr(IdempotencyRecord("S", "f"), name), bool) and name in changes:
            changes[name] = changes[name] if changes[name].isdigit() or changes[name] == "" else "5"
    record = IdempotencyRecord("IN_PROGRESS", "example.com|7", "owner", 5, notified=notified, task_no="t")
    expected = IdempotencyRecord.from_fields({**record.to_fields(), **changes})
    assert InMemoryStore._changed(record, changes) == expected


def test_the_store_applies_an_update_only_for_the_owner():
    store = InMemoryStore(clock_ms=lambda: 1000)
    store.acquire("k", "me", "example.com|7", 5000, 1000, 60000)
    assert not store.update("k", "someone else", {"status": "SUBMITTED"}, 60000)
    assert store.update("k", "me", {"status": "SUBMITTED", "task_no": "T1", "notified": "1", "sent_at_ms": "9"}, 60000)
    claim = store.acquire("k", "me", "example.com|7", 5000, 1000, 60000)
    assert (claim.record.status, claim.record.task_no, claim.record.notified, claim.record.sent_at_ms) == \
        ("SUBMITTED", "T1", True, 9)
