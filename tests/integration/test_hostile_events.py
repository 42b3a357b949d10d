"""Property-based tests (hypothesis): every trigger adapter is fed arbitrary and hostile events.

For every generated event, invoked as FC would (the event as bytes) or handed over as an object:
 1. nothing escapes the handler, RedeliveryRequired included: no fault is injected, so no request
    can have failed transiently (a copy of a request still in flight is waited for, not retried);
 2. an HTTP answer has FC's shape, a JSON body and a known status; every refusal's body is
    {"Code", "Message"}, and a 207 lists, per item, a Status and a TaskNo or a Code and a Message;
 3. an asynchronous answer is {"Results": [...]}: one result per request, in order, each with a
    non-empty Source, and every rejection has a non-empty Code and a Message naming the field or
    the rule it breaks (a body refused whole, as not JSON, too deep, empty or too long, is checked
    for its exact Code and rule);
 4. no cloud call for an invalid request, no deletion call for a KeyTag the registry does not list
    (the pre-check answers DSRecordAlreadyAbsent) nor for a domain it refuses to list (DomainNotExist,
    502 / DSRecordDeletionFailed), and one task per DS record: every submission for one
    record names one TaskNo, made by one SaveSingleTaskForDeletingDSRecord; a copy of a request
    the event already holds (the function's idempotency key: its IdempotencyKey, else a
    queue/topic/timer message's id with what it asks, else the request itself) is answered from
    the first copy's record, Replayed, with its TaskNo; a request for the same record under
    another key joins that task (Joined, no call); under one key, another request is refused as
    IdempotencyKeyReused. No call at all for an HTTP refusal;
 5. every notification is JSON as RFC 8259 has it and validates against the schema, and each
    result is published exactly once (a Replayed one by its first copy).

The strategies generate what once broke the function: lone surrogates and U+FFFE/U+FFFF in any
text, the same request more than once in an event, empty arrays, empty message ids, webhook
timestamps in any script's digits, NaN and Infinity (no JSON: in a body, it is refused as
InvalidJSON; in an event's own fields, sent as bytes, the whole event is, by the direct adapter),
base64 bodies nested too deep. The tests at the end pin each of those bugs, now fixed, with a
minimal example.

The emulator is reset and a fresh FunctionInstance is built for every example: the function
deduplicates identical requests, so nothing may leak from one example into the next.
"""
from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import os
import re
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, List, Optional

import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st
from hypothesis.control import currently_in_test_context

import index
from deleter.deletion_request import FIELDS, parse_deletion_request
from deleter.settings import Settings
from triggers.common import RedeliveryRequired
from triggers.webhook import sign
from wiring import FunctionInstance

# The documented limits (not imported: a change to them must show here).
MAX_BATCH = 100
MAX_DEPTH = 8
MAX_BODY_BYTES = 64 * 1024

HTTP_STATUSES = {200, 202, 207, 400, 401, 403, 405, 409, 413, 422, 500, 502, 503, 504}
REFUSALS = {400, 401, 403, 405, 413, 422}  # answered before the cloud: no call at all
# No fault is injected, and a copy of a request in flight waits for it: no "try again" can be right.
TRANSIENT = {409, 500, 503, 504}
CALLED = {202}  # the task was submitted (the registrar's refusals here come from the pre-check's QueryDSRecord)
RULE_WORDS = FIELDS + ("JSON", "array", "payload", "not a field")
HTTP_RULE_WORDS = RULE_WORDS + ("body",)
FIELD_CODES = {"MissingParameter", "InvalidParameter"}
EVENT_OF = {"SUBMITTED": "DSRecordDeletionSubmitted", "REJECTED": "DSRecordDeletionRejected",
            "FAILED": "DSRecordDeletionFailed", "ALREADY_ABSENT": "DSRecordAlreadyAbsent"}
ALREADY_ABSENT_FIELDS = {"Code", "Message", "DomainName", "KeyTag", "ListedKeyTags"}  # a 200: nothing to delete
SAVE = "SaveSingleTaskForDeletingDSRecord"
WEBHOOK_SECRET = "hostile-events-webhook-secret-0123"
# Where a request's message id is its idempotency key (a redelivery carries the same id).
STABLE_TRIGGERS = ("mns_queue", "mns_topic", "timer")
# The function's timeout for every invocation here. A copy of a request waits for the first copy
# until the invocation's deadline (the timeout less a margin of 3 s): with FC's default of 60 s,
# an example that made it wait in vain would take a minute before it failed.
FUNCTION_TIMEOUT_SECONDS = 8

def tally(label: str) -> None:
    """Count what the examples covered (hypothesis's statistics); a no-op in a plain test."""
    if currently_in_test_context():
        event(label)


# --- running one example -----------------------------------------------------------------------


@dataclass
class Observed:
    answer: Any
    calls: List[dict]
    notifications: List[dict]
    event: Any = None  # what was delivered (bytes, text or an object)
    failed_tasks: frozenset = frozenset()  # TaskNos the emulator ended in EXECUTE_FAILURE

    def domain_calls(self, action: Optional[str] = None) -> List[dict]:
        return [c for c in self.calls if c["service"] == "domain" and action in (None, c["action"])]

    def publishes(self) -> List[dict]:
        return [c for c in self.calls if c["service"] == "mns" and c["action"] == "PublishMessage"]


class Runner:
    """Invokes the function on a reset emulator and a fresh FunctionInstance, once per example."""

    def __init__(self, function, monkeypatch) -> None:
        self.function = function
        self.monkeypatch = monkeypatch
        self.settings = Settings.from_environ(os.environ)  # after the fixtures set the environment
        self.request_id: Optional[str] = None  # the latest invocation's

    @contextmanager
    def fresh_instance(self):
        self.function.emulator.reset()
        instance = FunctionInstance(self.settings)
        self.monkeypatch.setattr(index, "_instance", instance)  # what index.handler() uses
        try:
            yield
        finally:
            instance.executor.shutdown(wait=True)
            instance.session.close()

    def call(self, event: Any, as_object: bool) -> Any:
        context = self.function.cloud.context(FUNCTION_TIMEOUT_SECONDS)
        self.request_id = context.request_id
        try:
            if as_object:
                return index.handler(event, context)
            raw = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
            return index.handler(raw, context)  # bytes, as FC hands them over
        except RedeliveryRequired as error:
            pytest.fail(f"RedeliveryRequired although no fault was injected: {error}")

    def observe(self, answer: Any, event: Any = None) -> Observed:
        for topic in self.function.emulator.snapshot()["topics"]:
            for published in topic["Published"]:
                strict_json(published["MessageBody"])
        failed = frozenset(task["TaskNo"] for task in self.function.tasks() if task["TaskStatus"] == "EXECUTE_FAILURE")
        return Observed(answer, self.function.cloud_calls(), self.function.notifications(), event, failed)

    def invoke(self, event: Any, as_object: bool = False, faults: Optional[dict] = None) -> Observed:
        with self.fresh_instance():
            if faults:
                self.function.emulator.set_faults(faults)
            return self.observe(self.call(event, as_object), event)


# Every test sets its fixtures up once, not once per example, and that is intended: each example
# resets the emulator and builds a fresh FunctionInstance itself (Runner.fresh_instance).
def examples(count: int):
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def run(function, monkeypatch) -> Runner:
    # Hundreds of valid requests in a few seconds: the client-side rate limit would only add sleeps.
    monkeypatch.setenv("MAX_REQUESTS_PER_SECOND", "0")
    return Runner(function, monkeypatch)


@pytest.fixture
def run_webhook(function, monkeypatch) -> Runner:
    monkeypatch.setenv("MAX_REQUESTS_PER_SECOND", "0")
    monkeypatch.setenv("WEBHOOK_SECRET", WEBHOOK_SECRET)
    return Runner(function, monkeypatch)


# --- oracles -------------------------------------------------------------------------------------

NOT_JSON = object()


@dataclass(frozen=True)
class Expect:
    """What one body (a message, a timer's payload, an HTTP body, a direct event) must get: its
    number of results and, when it is refused whole, the Code and the words of that one rejection.
    requests: the request values behind those results, in order, where the generator knows them."""
    count: int = 1
    code: Optional[str] = None
    words: tuple = ()
    requests: Optional[tuple] = field(default=None, compare=False, repr=False)


ONE = Expect()
NOT_JSON_TEXT = Expect(1, "InvalidJSON", ("JSON",))
TOO_DEEP = Expect(1, "InvalidRequest", ("JSON", str(MAX_DEPTH)))
TOO_LONG = Expect(1, "BatchTooLarge", ("array", str(MAX_BATCH)))
EMPTY_ARRAY = Expect(1, "InvalidRequest", ("array", "empty"))
NO_PAYLOAD = Expect(1, "MissingParameter", ("payload",))
NOT_A_REQUEST = Expect(1, "UnknownParameter", ("not a field",))
NOT_UTF8 = Expect(1, "InvalidRequest", ("body", "UTF-8"))


def nodes(value: Any):
    """Every value within value, itself included (iteratively: some values are thousands deep)."""
    pending = [value]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def depth(value: Any) -> int:
    """How deeply arrays and objects nest (iteratively: some values are thousands deep)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        node, level = pending.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level + 1)
            pending.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def non_finite(value: Any) -> bool:
    """Whether json.dumps would write NaN or Infinity somewhere in value: no JSON (RFC 8259)."""
    return any(isinstance(node, float) and not math.isfinite(node) for node in nodes(value))


def expectation_of(value: Any) -> Expect:
    """A body the function holds decoded: refused whole when too deep, empty or too long; else one
    result per request."""
    if depth(value) > MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, list):
        if not value:
            return EMPTY_ARRAY
        return TOO_LONG if len(value) > MAX_BATCH else Expect(len(value), requests=tuple(value))
    return Expect(requests=(value,))


def expectation_of_dumped(value: Any) -> Expect:
    """A body sent as the text json.dumps makes of value: not JSON if that holds NaN or Infinity."""
    return NOT_JSON_TEXT if non_finite(value) else expectation_of(value)


def utf8(text: str) -> Optional[bytes]:
    """text as UTF-8; None when it holds a lone surrogate, which no bytes can carry."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def strict_json(text: Any) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity."""
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse,  # an integer of any length is JSON (not an int here)
                      parse_int=lambda digits: int(digits) if len(digits) <= 40 else float("inf"))


def strict_reading(text: Any) -> Any:
    """The JSON value text (str or bytes) holds, or NOT_JSON."""
    try:
        return strict_json(bytes(text).decode("utf-8") if isinstance(text, (bytes, bytearray)) else text)
    except (TypeError, ValueError, RecursionError):
        return NOT_JSON


def junk_expectation(body: Any, base64_too: bool) -> Expect:
    """A message body that is not JSON of ours, read as a message body is: its text if that is an
    array or an object; else the JSON it is base64 of (where the trigger allows base64); else the
    scalar its text is (one invalid request), or one InvalidJSON rejection."""
    if base64_too and isinstance(body, (dict, list)):  # a queue or topic body already decoded
        return expectation_of(body)
    text = strict_reading(body) if isinstance(body, str) else NOT_JSON
    if isinstance(text, (dict, list)):
        return expectation_of(text)
    if base64_too and isinstance(body, str):
        try:
            decoded = strict_reading(base64.b64decode(body.strip(), validate=True))
        except (binascii.Error, ValueError):
            decoded = NOT_JSON
        if decoded is not NOT_JSON:
            return expectation_of(decoded)
    return NOT_JSON_TEXT if text is NOT_JSON else expectation_of(text)


def own_delivery_ids(event: Any) -> set:
    """The ids a queue or topic event gives its messages (the reference: a CloudEvent's
    data.messageId, else its id; a JSON-format topic message's MessageId): what a redelivery
    repeats. A message without one (a topic STREAM body) is deduplicated by its content."""
    if isinstance(event, (bytes, bytearray, str)):
        try:
            event = json.loads(event)
        except (ValueError, RecursionError):  # not JSON, or nested past what json reads
            return set()
    ids = set()
    for message in event if isinstance(event, list) else []:
        data = message.get("data") if isinstance(message, dict) and isinstance(message.get("data"), dict) else {}
        own = (data.get("messageId") or message.get("id")) if isinstance(message, dict) else None
        if own:
            ids.add(str(own))
    if isinstance(event, dict) and "Message" in event and event.get("MessageId"):
        ids.add(str(event["MessageId"]))
    return ids


def dedup_key(value: Any, trigger: str, source: str, own_ids: frozenset = frozenset()) -> Optional[tuple]:
    """(the key the function deduplicates a valid request by, (DomainName, KeyTag)); None when
    the request is not valid. own_ids: the delivery's own message ids (own_delivery_ids)."""
    try:
        request = parse_deletion_request(value)
    except Exception:  # InvalidRequest, or whatever else a hostile value raises: not valid
        return None
    if request.idempotency_key:
        key: tuple = ("IdempotencyKey", request.idempotency_key)
    elif trigger == "timer" or (trigger in STABLE_TRIGGERS and
                                (source in own_ids or source.rsplit("#", 1)[0] in own_ids)):
        # Items of one array: by what they ask within the delivery, not by their position.
        delivery = source if source in own_ids or trigger == "timer" and "#" not in source else source.rsplit("#", 1)[0]
        key = ("message", delivery, request.domain_name, request.key_tag)
    else:
        key = ("request", request.domain_name, request.key_tag)
    return key, (request.domain_name, request.key_tag)


def documented_trigger(event: Any) -> str:
    """The trigger whose documented event shape this is (the reference, section 3)."""
    if isinstance(event, dict):
        context = event.get("requestContext")
        if isinstance(context, dict) and isinstance(context.get("http"), dict):
            return "http"
        if {"TopicName", "Message", "MessageId"} <= event.keys():
            return "mns_topic"
        if set(event) == {"body", "attrs"} and isinstance(event["attrs"], dict):
            return "mns_topic"
        if {"triggerTime", "triggerName"} <= event.keys():
            return "timer"
    def queue_event(item: Any) -> bool:
        return isinstance(item, dict) and str(item.get("type", "")).startswith("mns:Queue")

    # A list of CloudEvents (event streaming), or one alone (EventBridge's event-driven mode).
    if queue_event(event) or isinstance(event, list) and event and all(map(queue_event, event)):
        return "mns_queue"
    return "direct"


def delivered(event: Any, as_object: bool) -> Any:
    """The event as the function should see it; or, when it is not JSON the function accepts, the
    Expect of its refusal (by the direct adapter)."""
    if isinstance(event, (bytes, bytearray)) or (as_object and isinstance(event, str)):
        try:
            event = strict_json(event if isinstance(event, str) else bytes(event).decode("utf-8"))
        except RecursionError:
            return TOO_DEEP
        except ValueError:
            return NOT_JSON_TEXT
    elif as_object:
        return event  # handed over as it is: no decoding, so no depth check before the adapters
    elif non_finite(event):  # sent as bytes, an envelope holding NaN or Infinity is no JSON
        return NOT_JSON_TEXT
    return TOO_DEEP if depth(event) > MAX_DEPTH else event


# --- checking an answer ----------------------------------------------------------------------------


def assert_clear_error(code: Any, message: Any, rule_words: tuple) -> None:
    assert isinstance(code, str) and code, f"no Code: {code!r}"
    assert isinstance(message, str) and message.strip(), f"no Message: {message!r}"
    if rule_words:
        assert any(word in message for word in rule_words), f"{code}: {message!r} names no field or rule"
    if code in FIELD_CODES:
        assert message.startswith(FIELDS + ("payload",)), f"{code}: {message!r} does not start with the field"
    if code == "UnknownParameter":
        assert "not a field" in message


def assert_refused_as(code: Any, message: Any, expect: Expect) -> None:
    assert code == expect.code and all(word in message for word in expect.words), \
        f"refused as {code}: {message!r}, not as {expect.code} naming {expect.words}"


def requests_behind(expects: List[Expect]) -> list:
    """The request value behind each result, in order; NOT_JSON where the generator cannot tell."""
    return [value for expect in expects
            for value in (expect.requests if expect.requests is not None and len(expect.requests) == expect.count
                          else (NOT_JSON,) * expect.count)]


def check_copies(results: List[dict], requests: list, trigger: str, own_ids: frozenset = frozenset(),
                 failed_tasks: frozenset = frozenset()) -> None:
    """4. Copies of a request within one event. results: Status, Source, TaskNo, Code, Replayed;
    requests: the value behind each (NOT_JSON where unknown); own_ids: see dedup_key."""
    # One pending task per DS record: every submission for a record names one TaskNo, made by one of
    # them (the others replay it under their key or join it under another), never shared by two
    # records; only a task that failed (a KeyTag the registry does not list) lets another be made.
    made = [r for r in results if r["Status"] == "SUBMITTED" and not r.get("Replayed") and not r.get("Joined")]
    records_of = defaultdict(set)
    for result in results:
        if result["Status"] == "SUBMITTED" and "DomainName" in result:
            records_of[result["TaskNo"]].add((result["DomainName"], result["KeyTag"]))
    assert all(len(records) == 1 for records in records_of.values()), f"one TaskNo for two DS records: {results}"
    tasks_of = Counter(next(iter(records_of[r["TaskNo"]])) for r in made
                       if r["TaskNo"] in records_of and r["TaskNo"] not in failed_tasks)
    assert all(count == 1 for count in tasks_of.values()), f"two tasks made for one DS record: {results}"
    submissions = [r["TaskNo"] for r in made]
    assert len(submissions) == len(set(submissions)), f"two submissions answered with one TaskNo: {results}"
    for result in results:  # the instance is new: whatever is replayed or joined was done by this event
        if result["Status"] == "SUBMITTED" and (result.get("Replayed") or result.get("Joined")):
            assert result["TaskNo"] in submissions, f"answered with no submission of this event: {result}"
    under: dict = defaultdict(list)
    for result, value in zip(results, requests):
        identity = None if value is NOT_JSON else dedup_key(value, trigger, result["Source"], own_ids)
        if identity is not None:
            under[identity[0]].append((result, identity[1]))
    for key, members in under.items():
        for result, _ in members:
            assert result["Status"] != "REJECTED" or result["Code"] == "IdempotencyKeyReused", (key, result)
        answered = [(result, target) for result, target in members if result["Status"] != "REJECTED"]
        assert len({target for _, target in answered}) <= 1, f"two requests answered under one key {key}: {answered}"
        assert len({(r["Status"], r.get("TaskNo"), r.get("Code")) for r, _ in answered}) <= 1, \
            f"copies answered differently: {answered}"
        fresh = sum(not result.get("Replayed") for result, _ in answered)
        tally(f"{trigger}: copies of a request" if len(answered) > 1 else f"{trigger}: a request")
        assert fresh == min(1, len(answered)), f"{fresh} of {len(answered)} copies not replayed: {answered}"


def check_async(observed: Observed, trigger: str, expects: Optional[List[Expect]] = None) -> None:
    """expects: one Expect per message, in order (None: at least one result)."""
    answer = observed.answer
    assert isinstance(answer, dict) and set(answer) == {"Results"}, f"not an asynchronous answer: {answer!r}"
    json.dumps(answer, allow_nan=False)  # FC serialises it: plain JSON only
    results = answer["Results"]
    assert isinstance(results, list) and results, "an event left without a result"
    if expects is not None:
        assert len(results) == sum(e.count for e in expects), f"{len(results)} results for {expects}"
        position = 0
        for expect in expects:
            if expect.code is not None:
                result = results[position]
                assert result["Status"] == "REJECTED", result
                assert_refused_as(result.get("Code"), result.get("Message"), expect)
            position += expect.count
    for result in results:
        assert isinstance(result.get("Source"), str) and result["Source"], result
        status = result.get("Status")
        assert status in EVENT_OF, result
        if status == "SUBMITTED":
            assert isinstance(result.get("TaskNo"), str) and result["TaskNo"], result
        else:
            assert_clear_error(result.get("Code"), result.get("Message"), RULE_WORDS if status == "REJECTED" else ())
        if status == "FAILED":
            assert result.get("Failure") == "PERMANENT", result  # no fault: only a refusal for good
        assert result.get("Notified") is True, f"not published: {result}"
    tally(f"{trigger}: {'/'.join(sorted({r['Status'] for r in results}))}")
    # 4. A call per request that is not rejected, but none for a copy answered from the first's
    # record; none at all when every request is rejected.
    check_copies(results, requests_behind(expects or []) if expects else [NOT_JSON] * len(results), trigger,
                 frozenset(own_delivery_ids(observed.event)), observed.failed_tasks)
    assert len(observed.domain_calls(SAVE)) == sum(r["Status"] == "SUBMITTED" and not r.get("Replayed")
                                                   and not r.get("Joined") for r in results)
    if all(r["Status"] == "REJECTED" for r in results):
        assert observed.domain_calls() == []
    # 5. Each result published once (a replayed one was published by its first copy).
    assert all(call["status"] == 201 for call in observed.publishes()), observed.publishes()
    published = Counter((n["Source"]["Id"], n["Event"]) for n in observed.notifications)
    assert published == Counter((r["Source"], EVENT_OF[r["Status"]]) for r in results if not r.get("Replayed"))
    assert {n["Source"]["Trigger"] for n in observed.notifications} <= {trigger}


@dataclass
class HttpExpectation:
    """What the generator knows of an HTTP event: whether it is a POST, the body's bytes (None
    when the body is not text, or not the base64 it is marked as), and what the body must get
    (None when it is text of unknown content; is_array: a 207 with body.count items)."""
    post: bool = True
    raw: Optional[bytes] = None
    body: Optional[Expect] = None
    is_array: bool = False


def check_http(observed: Observed, expect: Optional[HttpExpectation] = None) -> None:
    answer = observed.answer
    assert isinstance(answer, dict) and set(answer) == {"statusCode", "headers", "isBase64Encoded", "body"}, answer
    status, headers = answer["statusCode"], answer["headers"]
    assert type(status) is int and status in HTTP_STATUSES, status
    assert status not in TRANSIENT, answer
    assert isinstance(headers, dict) and headers.get("Content-Type") == "application/json"
    assert all(isinstance(name, str) and isinstance(value, str) for name, value in headers.items())
    assert answer["isBase64Encoded"] is False
    assert isinstance(answer["body"], str)
    body = strict_json(answer["body"])
    if status == 207:
        assert isinstance(body, list) and body
        for item in body:
            assert isinstance(item, dict) and item.get("Status") in HTTP_STATUSES - {207, 405, 413}, item
            assert item["Status"] not in TRANSIENT, item
            if item["Status"] == 202:
                assert isinstance(item.get("TaskNo"), str) and item["TaskNo"], item
            else:
                words = HTTP_RULE_WORDS if item["Status"] in REFUSALS else ()
                assert_clear_error(item.get("Code"), item.get("Message"), words)
        statuses = [item["Status"] for item in body]
    else:
        if status == 202:
            assert isinstance(body, dict) and isinstance(body.get("TaskNo"), str) and body["TaskNo"], body
        elif status == 200:
            assert isinstance(body, dict) and set(body) == ALREADY_ABSENT_FIELDS, body
            assert body["Code"] == "DSRecordAlreadyAbsent" and body["KeyTag"] not in body["ListedKeyTags"], body
        else:
            assert isinstance(body, dict) and set(body) == {"Code", "Message"}, body
            assert_clear_error(body["Code"], body["Message"], HTTP_RULE_WORDS if status in (400, 403, 422) else ())
        statuses = [status]
        assert "X-Idempotent-Replay" not in headers, answer  # the instance is new: nothing to replay
    if expect is not None:
        if not expect.post:
            assert status == 405 and headers.get("Allow") == "POST", answer
        elif expect.raw is not None and len(expect.raw) > MAX_BODY_BYTES:
            assert status == 413, answer
        else:
            assert status not in (405, 413), answer
            if expect.raw is None:
                assert status == 400, answer  # not text, or marked base64 and not
            if expect.body is not None and expect.body.code is not None:
                assert status == 400, answer
                assert_refused_as(body["Code"], body["Message"], expect.body)
            elif expect.body is not None:
                assert (status == 207 and len(body) == expect.body.count) if expect.is_array else status != 207, answer
    tally(f"http {status}" + (f": {'/'.join(map(str, sorted(set(statuses))))}" if status == 207 else ""))
    # 4. A call per item the cloud saw, but none for a copy answered from the first's record; none
    # for a refusal. 5. A notification per TaskNo.
    items = body if status == 207 else [{"Status": status, **body}]
    results = [{"Source": "", "Status": "SUBMITTED" if item["Status"] == 202 else "ALREADY_ABSENT"
                if item["Status"] == 200 else "REJECTED" if item["Status"] in REFUSALS else "FAILED",
                **{k: v for k, v in item.items() if k != "Status"}} for item in items]
    behind = expect.body.requests if status == 207 and expect is not None and expect.body is not None else None
    check_copies(results, list(behind) if behind is not None and len(behind) == len(results)
                 else [NOT_JSON] * len(results), "http", failed_tasks=observed.failed_tasks)
    fresh = [item["Status"] for item in items if not item.get("Replayed")]
    assert len(observed.domain_calls(SAVE)) == sum(item["Status"] in CALLED for item in items
                                                   if not item.get("Replayed") and not item.get("Joined"))
    if status in REFUSALS:
        assert observed.calls == []
    assert all(call["status"] == 201 for call in observed.publishes()), observed.publishes()
    assert [n["Event"] for n in observed.notifications] == ["DSRecordDeletionSubmitted"] * fresh.count(202)
    assert {n["Source"]["Trigger"] for n in observed.notifications} <= {"http"}


def check_any(observed: Observed, decoded: Any) -> None:
    """An event of any shape: the answer of the trigger its shape names."""
    if isinstance(decoded, Expect):
        check_async(observed, "direct", [decoded])
        return
    trigger = documented_trigger(decoded)
    if trigger == "http":
        check_http(observed)
    elif trigger == "direct":
        check_async(observed, "direct", [expectation_of(decoded)])
    else:
        check_async(observed, trigger)


def check_trigger(observed: Observed, event: Any, as_object: bool, trigger: str, expects: List[Expect]) -> None:
    """The answer of the trigger, unless the event, sent as bytes, is no JSON the function accepts
    (its envelope holds NaN or Infinity, or nests too deep): then the direct adapter refuses it."""
    decoded = delivered(event, as_object)
    if isinstance(decoded, Expect):
        check_async(observed, "direct", [decoded])
    else:
        check_async(observed, trigger, expects)


# --- strategies ------------------------------------------------------------------------------------

# Any code point, lone surrogates (valid JSON escapes, which no UTF-8 can carry) and U+FFFE/U+FFFF
# (no XML 1.0 characters) included, and those four more often than chance would have them.
ODD_CHARACTERS = "\ud800\udfff\ufffe\uffff"
ANY_CHARACTER = st.characters(exclude_categories=())
# A high surrogate followed by a low one is one character once the event is JSON (a pair): the
# oracles take text for what the function sees, so a space parts every such pair.
SURROGATE_PAIR = re.compile("([\ud800-\udbff])([\udc00-\udfff])")


def lone_surrogates(text: str) -> str:
    return SURROGATE_PAIR.sub(r"\1 \2", text)


def texts(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy:
    plain = st.text(ANY_CHARACTER, min_size=min_size, max_size=max_size)
    odd = st.builds(lambda before, odd, after: before + odd + after,
                    st.text(ANY_CHARACTER, max_size=max_size // 2), st.sampled_from(ODD_CHARACTERS),
                    st.text(ANY_CHARACTER, max_size=max_size // 2))
    return (plain | plain | odd).map(lone_surrogates)


TEXT = texts()
# 10**4299 has 4300 digits: the most Python's json reads or writes.
HUGE_INT_VALUES = (2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**100, 10**4299, -(10**4299))
HUGE_INTS = st.sampled_from(range(len(HUGE_INT_VALUES))).map(HUGE_INT_VALUES.__getitem__)
# floats: NaN and Infinity too, which json.dumps writes and the function refuses as not JSON.
SCALARS = st.none() | st.booleans() | st.integers() | HUGE_INTS | st.floats() | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)
NOT_TEXT = st.none() | st.booleans() | st.integers() | st.floats() | st.lists(SCALARS, max_size=3) \
    | st.dictionaries(TEXT, SCALARS, max_size=3)
VISIBLE_ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
CLIENT_IPS = st.ip_addresses().map(str) | st.ip_addresses().map(lambda ip: f" {ip} ")
IDS = st.uuids().map(lambda u: u.hex.upper()) | st.just("") | TEXT | SCALARS

SEEDED = [("example.com", 2371), ("example.net", 31589), ("example.org", 12345), ("example.org", 54321),
          ("xn--bcher-kva.com", 4242)]
# Valid all the same: a KeyTag the domain does not list (the pre-check answers DSRecordAlreadyAbsent), a
# domain outside the account (its QueryDSRecord is refused: DomainNotExist); neither makes a deletion call.
TARGETS = SEEDED + [("example.com", 1), ("example.net", 65535), ("example.org", 0), ("not-in-this-account.com", 2371)]


def spellings(domain: str) -> st.SearchStrategy:
    forms = [domain, domain.upper(), domain + ".", f"  {domain} "]
    if domain == "xn--bcher-kva.com":
        forms += ["bücher.com", "BÜCHER.COM."]
    return st.sampled_from(forms)


# An IdempotencyKey more than one request may carry: a producer retrying, or one reusing it.
SHARED_KEYS = st.sampled_from(["retried-by-the-producer", "reused-for-another-domain"])


@st.composite
def valid_requests(draw, max_size: int = 4) -> list:
    """Valid requests, at least one: now and then two alike, or two under one IdempotencyKey."""
    requests = []
    for domain, key_tag in draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=max_size)):
        request = {"DomainName": draw(spellings(domain)), "KeyTag": key_tag, **draw(st.fixed_dictionaries({}, optional={
            "Lang": st.sampled_from(["en", "zh", None]),
            "UserClientIp": st.none() | CLIENT_IPS,
            "IdempotencyKey": st.none() | st.text(VISIBLE_ASCII, min_size=1, max_size=100) | SHARED_KEYS | SHARED_KEYS,
        }))}
        requests.append(dict(draw(st.permutations(list(request.items())))))
    return requests


class Pool:
    """The valid requests of one event: each taken once, or sent again as a copy (the same
    request, its fields in any order) of one the event already holds."""

    def __init__(self, requests: list) -> None:
        self.fresh, self.sent = list(requests), []  # at least one

    def take(self, draw) -> dict:
        if self.sent and (not self.fresh or draw(st.booleans())):
            return self.copy(draw)
        self.sent.append(self.fresh.pop())
        return self.sent[-1]

    def copy(self, draw) -> dict:
        return dict(draw(st.permutations(list(draw(st.sampled_from(self.sent)).items()))))


BAD_VALUES = {
    "DomainName": st.sampled_from([
        "", " ", ".", "..", "com", "example", "a..com", "-a.com", "a-.com", "ex_ample.net", "exa mple.com",
        "example.123", "*.example.com", "example.com/x", "x" * 64 + ".com", "a." * 127 + "com", "xn--.com",
        "1.2.3.4", "é" * 300 + ".com", "example.com\x00"]) | NOT_TEXT | TEXT,
    "KeyTag": st.sampled_from([-1, 65536, 2371.0, 2371.5, True, False, "2371", "", "0x943", [2371], {"KeyTag": 2371}])
    | HUGE_INTS | st.floats() | TEXT,
    "Lang": st.sampled_from(["", "fr", "EN", "Zh", " en", "en-US", True, 0, ["en"], {"en": 1}])
    | TEXT.filter(lambda s: s not in ("en", "zh")),
    "UserClientIp": st.sampled_from(["", "x", "999.1.1.1", "1.2.3", "1.2.3.4/24", "::g", "localhost",
                                     "1.2.3.4, 5.6.7.8", 16909060, True, ["1.2.3.4"]]) | TEXT,
    "IdempotencyKey": st.sampled_from(["", " ", "a b", "é", "x" * 129, "tab\there", "key\n", 1, True, ["k"], {"k": 1}])
    | TEXT,
}
# The switches of the checks before a deletion take JSON booleans only (null is absent).
BAD_VALUES.update({field: st.sampled_from(["true", "false", "", "yes", 1, 0, 1.0, [True], {"on": True}]) | TEXT
                   for field in ("DryRun", "Force", "AllowInsecure")})
UNKNOWN_FIELDS = st.sampled_from(["domainname", "DOMAINNAME", "DomainName ", "Keytag", "key_tag", "lang", "TaskNo",
                                  "__proto__", ""]) | TEXT.filter(lambda s: s not in FIELDS)


def nested(value: Any, levels: int, in_objects: bool) -> Any:
    for _ in range(levels):
        value = {"DomainName": value} if in_objects else [value]
    return value


@st.composite
def hostile_requests(draw) -> Any:
    """A request breaking one rule or more, or any JSON value at all."""
    domain, key_tag = draw(st.sampled_from(TARGETS))
    request: dict = {"DomainName": domain, "KeyTag": key_tag}
    for how in draw(st.lists(st.sampled_from(["bad_value", "missing", "null", "unknown_field", "too_deep", "any"]),
                             min_size=1, max_size=3)):
        if how == "any":
            return draw(JSON)
        if how == "bad_value":
            field = draw(st.sampled_from(FIELDS))
            request[field] = draw(BAD_VALUES[field])
        elif how in ("missing", "null"):
            field = draw(st.sampled_from(["DomainName", "KeyTag"]))
            request.pop(field, None)
            if how == "null":
                request[field] = None
        elif how == "unknown_field":
            request[draw(UNKNOWN_FIELDS)] = draw(JSON)
        else:  # deeper than any body may nest: the whole body is refused
            request[draw(st.sampled_from(FIELDS))] = nested(draw(SCALARS), draw(st.integers(MAX_DEPTH, 3 * MAX_DEPTH)),
                                                            draw(st.booleans()))
    return dict(draw(st.permutations(list(request.items()))))


@st.composite
def bodies(draw, pool: Pool) -> Any:
    """A decoded body: one request, an array of them (empty, too long or too deep at times), or
    any JSON. Valid requests are taken from pool, which makes copies of some within an event."""
    def one() -> Any:
        if draw(st.integers(0, 2)):
            return pool.take(draw)
        return draw(hostile_requests())

    kind = draw(st.sampled_from(["one", "one", "array", "array", "copies", "too_long", "too_deep", "any"]))
    if kind == "one":
        return one()
    if kind == "array":
        return [one() if draw(st.booleans()) else draw(JSON) for _ in range(draw(st.integers(0, 8)))]
    if kind == "copies":  # a request more than once, among others
        first = pool.take(draw)
        items = [first, *(pool.copy(draw) for _ in range(draw(st.integers(1, 3)))),
                 *(one() for _ in range(draw(st.integers(0, 3))))]
        return draw(st.permutations(items))
    if kind == "too_long":  # refused whole, valid items included
        items = draw(st.lists(st.one_of(valid_requests(max_size=1).map(lambda r: r[0]), hostile_requests()),
                              min_size=1, max_size=3))
        length = draw(st.integers(MAX_BATCH + 1, MAX_BATCH + 30))
        return (items * length)[:length]
    if kind == "too_deep":  # refused whole, however many items are fine
        deep = nested(one() if draw(st.booleans()) else draw(JSON), draw(st.integers(MAX_DEPTH + 1, 5 * MAX_DEPTH)),
                      draw(st.booleans()))
        siblings = [one() for _ in range(draw(st.integers(0, 2)))]
        return [*siblings, deep] if siblings or draw(st.booleans()) else deep
    return draw(JSON)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@st.composite
def message_bodies(draw, pool: Pool, base64_too: bool = True):
    """A message body or timer payload as a producer may send it: (body, Expect)."""
    value = draw(bodies(pool))
    how = draw(st.sampled_from(["json", "json", "base64", "text", "base64_of_bytes", "not_text", "empty"]
                               if base64_too else ["json", "json", "text", "not_text", "empty"]))
    if how == "json":
        body, expect = json.dumps(value, ensure_ascii=draw(st.booleans())), expectation_of_dumped(value)
    elif how == "base64":
        body, expect = b64(json.dumps(value).encode("utf-8")), expectation_of_dumped(value)
    else:
        body = draw({"text": TEXT | st.sampled_from([" ", "null", "{", "[1,", '"x"', "e30=", "{}", "true", "[]",
                                                      "W10=", " [ ] ", "NaN", "[NaN]", "-Infinity", "1e999"]),
                     "base64_of_bytes": st.binary(max_size=64).map(b64), "not_text": NOT_TEXT,
                     "empty": st.just("")}[how])
        expect = junk_expectation(body, base64_too)
    return body, expect


@st.composite
def arbitrary_bytes(draw) -> bytes:
    how = draw(st.sampled_from(["random", "not_utf8", "huge", "json_with_a_bad_byte", "deep"]))
    if how == "random":
        return draw(st.binary(max_size=256))
    if how == "not_utf8":
        return b"\xff\xfe" + draw(st.binary(max_size=64))
    if how == "huge":  # around the 64 KiB that FC and the function care about
        chunk = draw(st.binary(min_size=1, max_size=16))
        size = draw(st.sampled_from([60_000, 65_536, 65_537, 70_000]))
        return (chunk * (size // len(chunk) + 1))[:size]
    if how == "json_with_a_bad_byte":
        raw = json.dumps(draw(JSON)).encode("utf-8")
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf8"])) + raw[at:]
    # Thousands deep. Never near Python's recursion limit (about 1000 levels), where the oracle's
    # json.loads and the function's, a few frames deeper, may disagree.
    levels = draw(st.integers(MAX_DEPTH + 1, 500) | st.sampled_from([5000, 35_000]))
    shape = draw(st.sampled_from([(b"[", b"", b"]"), (b'{"a":', b"1", b"}"), (b'[{"DomainName":', b"0", b"}]"),
                                  (b"[", b"", b"")]))  # the last one never closes
    return shape[0] * levels + shape[1] + shape[2] * levels


ARBITRARY_EVENTS = st.one_of(
    st.tuples(arbitrary_bytes(), st.booleans()),                       # bytes either way
    st.tuples(arbitrary_bytes().map(bytearray), st.just(True)),
    st.tuples(TEXT | st.sampled_from(["", "null", "[]", "{}", "[{}]", '"x"', "NaN", "-Infinity", "1e999"]),
              st.booleans()),                                          # as an object: text to parse
    st.tuples(JSON, st.booleans()),
)


# --- the properties, trigger by trigger ------------------------------------------------------------


@examples(150)
@given(generated=ARBITRARY_EVENTS)
def test_arbitrary_events(run, generated):
    event, as_object = generated
    decoded = delivered(event, as_object)
    if not isinstance(decoded, Expect):
        assume(documented_trigger(decoded) in ("http", "direct"))  # the others: their own tests below
    check_any(run.invoke(event, as_object=as_object), decoded)


OTHER_METHODS = st.sampled_from(["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "", " POST", "POST ", "POST\x00",
                                 "PO ST"]) | TEXT | NOT_TEXT
SOURCE_IPS = CLIENT_IPS | st.sampled_from(["", "unknown", "1.2.3.4, 5.6.7.8", "::ffff:1.2.3.4", "300.1.1.1"]) \
    | TEXT | NOT_TEXT
HEADERS = st.dictionaries(TEXT, TEXT | JSON, max_size=4) | JSON


@st.composite
def http_bodies(draw, pool: Pool):
    """The body fields of an HTTP event, the expectation they imply, and whether the event can
    only be handed over as an object (bytes are not JSON)."""
    expect, fields, object_only = HttpExpectation(), {}, False
    how = draw(st.sampled_from(["json", "json", "base64", "padded", "bad_base64", "text", "binary", "huge", "deep",
                                "not_text", "bytes", "missing"]))
    if how in ("json", "base64", "padded"):
        value = draw(bodies(pool))
        text = json.dumps(value, ensure_ascii=draw(st.booleans()))
        if how == "padded":  # a byte or so either side of the limit
            size = len(text.encode("utf-8", "surrogatepass"))
            text += " " * max(0, draw(st.sampled_from(range(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 3))) - size)
        expect.raw, expect.body, expect.is_array = utf8(text), expectation_of_dumped(value), isinstance(value, list)
        if expect.raw is None:  # a lone surrogate as it is, not escaped: no bytes can carry the body
            expect.body, fields = NOT_UTF8, {"body": text}
        elif how == "base64" or (how == "padded" and draw(st.booleans())):
            fields = {"body": b64(expect.raw), "isBase64Encoded": draw(st.sampled_from([True, 1, "true"]))}
        else:
            fields = {"body": text, **draw(st.fixed_dictionaries({}, optional={
                "isBase64Encoded": st.sampled_from([False, None, 0, ""])}))}
    elif how == "bad_base64":
        body = draw(st.sampled_from(["%%%", "e30", "e30=\n", " e30=", "é", "====", "abc", "ZZZZ=", "e30=e30="]) | TEXT)
        try:
            expect.raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            expect.raw, expect.body = None, Expect(1, "InvalidRequest", ("base64",))
        fields = {"body": body, "isBase64Encoded": True}
    elif how in ("text", "huge"):
        if how == "text":
            body = draw(TEXT | st.sampled_from(["[]", "NaN", '{"DomainName": "example.com", "KeyTag": Infinity}']))
        else:
            chunk = draw(texts(min_size=1, max_size=8)) + " "  # a space where chunks meet: no pair
            body = chunk * (draw(st.sampled_from([60_000, 65_536, 65_537, 70_000])) // len(chunk) + 1)
        expect.raw, fields = utf8(body), {"body": body, **({"isBase64Encoded": False} if how == "text" else {})}
        if expect.raw is None:
            expect.body = NOT_UTF8
        elif how == "text" and len(expect.raw) <= MAX_BODY_BYTES:
            reading = strict_reading(body)
            expect.body = NOT_JSON_TEXT if reading is NOT_JSON else expectation_of(reading)
            expect.is_array = isinstance(reading, list)
    elif how == "binary":
        expect.raw = draw(st.binary(max_size=128))
        fields = {"body": b64(expect.raw), "isBase64Encoded": True}
    elif how == "deep":
        levels = draw(st.integers(MAX_DEPTH + 1, 32_000))
        body = "[" * levels + "]" * levels
        expect.raw, expect.body, fields = body.encode("utf-8"), TOO_DEEP, {"body": body}
    elif how in ("not_text", "bytes"):  # only an object can carry bytes
        body = draw(NOT_TEXT) if how == "not_text" else draw(st.binary(min_size=1, max_size=64))
        object_only, fields = how == "bytes", {"body": body}
        if body:
            expect.raw, expect.body = None, Expect(1, "InvalidRequest", ("body", "text"))
        else:  # a falsy body counts as no body
            expect.raw, expect.body = b"", NOT_JSON_TEXT
    else:  # no body at all: empty text
        expect.raw, expect.body = b"", NOT_JSON_TEXT
    return fields, expect, object_only


@st.composite
def http_events(draw):
    fields, expect, object_only = draw(http_bodies(Pool(draw(valid_requests()))))
    http = draw(st.fixed_dictionaries({}, optional={
        "path": TEXT | JSON, "protocol": st.just("HTTP/1.1") | JSON, "sourceIp": SOURCE_IPS, "userAgent": TEXT | JSON}))
    method = draw(st.sampled_from(["POST"] * 5 + ["post", "Post", "other", "other", "missing"]))
    if method != "missing":
        http["method"] = draw(OTHER_METHODS) if method == "other" else method
    expect.post = isinstance(http.get("method"), str) and http["method"].upper() == "POST"
    context = {"http": http, **draw(st.fixed_dictionaries({}, optional={
        "requestId": IDS, "accountId": TEXT | JSON, "domainName": TEXT, "time": TEXT | JSON,
        "timeEpoch": TEXT | JSON}))}
    shape = draw(st.sampled_from(["http"] * 8 + ["http_not_an_object", "no_context"]))
    if shape == "http_not_an_object":
        context["http"] = draw(JSON.filter(lambda v: not isinstance(v, dict)))
    event = {**draw(st.fixed_dictionaries({}, optional={
        "version": st.just("v1") | JSON, "rawPath": TEXT | JSON, "headers": HEADERS,
        "queryParameters": st.dictionaries(TEXT, TEXT, max_size=3) | JSON})), **fields}
    if shape != "no_context":
        event["requestContext"] = context
    as_object = object_only or draw(st.booleans())
    return dict(draw(st.permutations(list(event.items())))), expect, as_object


@examples(150)
@given(generated=http_events())
def test_http_trigger_hostile_events(run, generated):
    event, expect, as_object = generated
    observed = run.invoke(event, as_object=as_object)
    decoded = delivered(event, as_object)
    if isinstance(decoded, Expect):  # no JSON as bytes: a direct invocation refused whole
        check_async(observed, "direct", [decoded])
    elif documented_trigger(event) == "http":
        check_http(observed, expect)
    else:  # not FC's HTTP shape after all: a direct invocation of one (invalid) request
        check_async(observed, "direct", [expectation_of(event)])


def header_name(name: str) -> st.SearchStrategy:
    return st.sampled_from([name, name.lower(), name.upper()])


# Unix seconds of now in another script's decimal digits (str.isdigit() and int() take them), in
# superscripts (isdigit() takes them, int() does not), or as a number (the header reads it as text).
ZEROS = [0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE]
NOW_IN_OTHER_DIGITS = st.sampled_from(ZEROS).map(
    lambda zero: str(int(time.time())).translate({ord(d): zero + int(d) for d in "0123456789"}))
TIMESTAMPS = st.integers() | st.none() | st.lists(st.integers(), max_size=2) | TEXT | NOW_IN_OTHER_DIGITS \
    | st.sampled_from(["\u00b2", "\u00b9\u00b2\u00b3", " 1 ", "+1", "-1", "1.0", "0x10"]) \
    | st.text(st.characters(categories=("Nd",)), min_size=1, max_size=12)  # any script's decimal digits


@st.composite
def webhook_events(draw):
    """A POST to the webhook, signed or not: (event, signed, HttpExpectation of a signed one, as_object)."""
    value = draw(bodies(Pool(draw(valid_requests(max_size=3)))))
    raw = json.dumps(value).encode("utf-8")
    assume(len(raw) <= MAX_BODY_BYTES)
    if draw(st.booleans()):
        fields = {"body": b64(raw), "isBase64Encoded": True}
    else:
        fields = {"body": raw.decode("utf-8"), "isBase64Encoded": False}
    now = int(time.time())
    how = draw(st.sampled_from(["signed", "signed", "stale", "other_secret", "tampered", "missing", "odd",
                                "odd_signed", "not_a_dict"]))
    timestamp = str(now + draw(st.integers(-200, 200)))  # the window is 300 s
    if how == "stale":
        timestamp = str(now + draw(st.sampled_from([-1, 1])) * draw(st.integers(301, 10**9)))
    signature = sign(WEBHOOK_SECRET, timestamp, raw)
    if how == "other_secret":
        signature = sign(WEBHOOK_SECRET[::-1], timestamp, raw)
    elif how == "tampered":
        signature = draw(st.sampled_from([signature[:-1] + ("0" if signature[-1] != "0" else "1"),
                                          signature.replace("v1=", "v2="), signature.upper(), signature[:10], ""]))
    headers = {draw(header_name("X-Webhook-Timestamp")): timestamp, draw(header_name("X-Webhook-Signature")): signature}
    if how == "missing":
        del headers[draw(st.sampled_from(sorted(headers)))]
    elif how == "odd":
        headers = {draw(header_name("X-Webhook-Timestamp")): draw(TIMESTAMPS),
                   draw(header_name("X-Webhook-Signature")): draw(TEXT | JSON)}
    elif how == "odd_signed":  # now in other digits, signed as if they were ASCII ones
        headers = {draw(header_name("X-Webhook-Timestamp")): draw(NOW_IN_OTHER_DIGITS),
                   draw(header_name("X-Webhook-Signature")): signature}
    extra = draw(st.dictionaries(TEXT.filter(lambda k: not k.lower().startswith("x-webhook-")), TEXT | JSON,
                                 max_size=3))
    headers = {**extra, **headers} if how != "not_a_dict" else draw(JSON.filter(lambda v: not isinstance(v, dict)))
    event = {"version": "v1", "rawPath": "/", "headers": headers, "queryParameters": {}, **fields,
             "requestContext": {"http": {"method": draw(st.sampled_from(["POST", "post"])), "path": "/",
                                         "sourceIp": draw(SOURCE_IPS)},
                                "requestId": draw(st.uuids().map(str))}}
    expect = HttpExpectation(raw=raw, body=expectation_of_dumped(value), is_array=isinstance(value, list))
    return event, how == "signed", expect, draw(st.booleans())


@examples(60)
@given(generated=webhook_events())
def test_webhook_hostile_headers(run_webhook, generated):
    event, signed, expect, as_object = generated
    with run_webhook.fresh_instance():
        first = run_webhook.observe(run_webhook.call(event, as_object))
        decoded = delivered(event, as_object)
        if isinstance(decoded, Expect):  # no JSON as bytes: a direct invocation refused whole
            check_async(first, "direct", [decoded])
            return
        if not signed:  # unsigned, stale or forged: refused before anything reaches the cloud
            check_http(first)
            assert first.answer["statusCode"] == 401, first.answer
            assert strict_json(first.answer["body"])["Code"] == "Unauthorized"
            return
        check_http(first, expect)
        assert first.answer["statusCode"] != 401, first.answer
        again = run_webhook.call(event, as_object)  # the same signature once more: a replay
        assert again["statusCode"] == 401, again
        assert run_webhook.function.cloud_calls() == first.calls, "a replayed request reached the cloud"


# One message id for several messages of a batch: a message delivered again with the others.
REDELIVERED = st.just("delivered-again")


@st.composite
def mns_queue_events(draw):
    """A batch as EventBridge delivers it: (event, one Expect per message)."""
    pool = Pool(draw(valid_requests()))
    event, expects = [], []
    for _ in range(draw(st.integers(1, 4))):
        if event and not draw(st.integers(0, 3)):  # a message delivered again with the others
            again = draw(st.integers(0, len(event) - 1))
            if isinstance(event[again].get("data"), dict):  # a redelivery has the message's id
                event[again]["data"]["messageId"] = event[again]["data"].get("messageId") or "delivered-again"
            event.append(copy.deepcopy(event[again]))
            expects.append(expects[again])
            continue
        body, expect = draw(message_bodies(pool))
        data = draw(st.fixed_dictionaries({}, optional={"messageId": IDS | REDELIVERED, "requestId": IDS}))
        if draw(st.integers(0, 9)):
            data["messageBody"] = body
        cloud_event = draw(st.fixed_dictionaries(
            {"type": st.sampled_from(["mns:Queue:SendMessage", "mns:Queue:SendMessage", "mns:Queue:Hostile"])},
            optional={"id": IDS, "source": TEXT, "specversion": st.just("1.0") | JSON, "subject": TEXT,
                      "time": TEXT | JSON, "aliyunaccountid": TEXT, "aliyunregionid": TEXT}))
        carried = draw(st.sampled_from(["data", "data", "data", "no_data", "data_not_an_object"]))
        if carried == "data":
            cloud_event["data"] = data
        elif carried == "data_not_an_object":
            cloud_event["data"] = draw(JSON.filter(lambda v: not isinstance(v, dict)))
        event.append(dict(draw(st.permutations(list(cloud_event.items())))))
        expects.append(expect if carried == "data" and "messageBody" in data else NOT_JSON_TEXT)  # None: not text
    return event, expects


@examples(100)
@given(generated=mns_queue_events(), as_object=st.booleans())
def test_mns_queue_hostile_events(run, generated, as_object):
    event, expects = generated
    check_trigger(run.invoke(event, as_object=as_object), event, as_object, "mns_queue", expects)


@st.composite
def mns_topic_events(draw):
    """(event, the trigger it is for, Expect)."""
    body, expect = draw(message_bodies(Pool(draw(valid_requests()))))
    if draw(st.booleans()):  # the JSON format
        event = {"TopicName": draw(TEXT | JSON), "MessageId": draw(IDS), "Message": body,
                 **draw(st.fixed_dictionaries({}, optional={
                     "TopicOwner": TEXT | JSON, "Subscriber": TEXT | JSON, "PublishTime": st.integers() | JSON,
                     "SubscriptionName": TEXT | JSON, "MessageMD5": TEXT | JSON}))}
        trigger = "mns_topic"
    else:  # STREAM with message attributes
        attrs = draw(st.dictionaries(TEXT, TEXT | JSON, max_size=3) | JSON)
        event, trigger = {"body": body, "attrs": attrs}, "mns_topic" if isinstance(attrs, dict) else "direct"
        if trigger == "direct":  # attributes that are not an object: the event is one request itself
            expect = TOO_DEEP if depth(event) > MAX_DEPTH else NOT_A_REQUEST
    return dict(draw(st.permutations(list(event.items())))), trigger, expect


@examples(80)
@given(generated=mns_topic_events(), as_object=st.booleans())
def test_mns_topic_hostile_events(run, generated, as_object):
    event, trigger, expect = generated
    check_trigger(run.invoke(event, as_object=as_object), event, as_object, trigger, [expect])


@st.composite
def timer_events(draw):
    payload, expect = draw(message_bodies(Pool(draw(valid_requests())), base64_too=False))  # never base64
    event = {"triggerTime": draw(st.just("2026-11-29T07:49:00Z") | TEXT | JSON),
             "triggerName": draw(st.just("nightly-ds-cleanup") | TEXT | JSON)}
    if draw(st.integers(0, 9)):
        event["payload"] = payload
    if not event.get("payload"):
        expect = NO_PAYLOAD
    return dict(draw(st.permutations(list(event.items())))), expect


@examples(60)
@given(generated=timer_events(), as_object=st.booleans())
def test_timer_hostile_events(run, generated, as_object):
    event, expect = generated
    check_trigger(run.invoke(event, as_object=as_object), event, as_object, "timer", [expect])


@st.composite
def direct_events(draw):
    value = draw(bodies(Pool(draw(valid_requests()))) | JSON)
    assume(documented_trigger(value) == "direct")
    return value


@examples(80)
@given(event=direct_events(), as_object=st.booleans())
def test_direct_invocations_of_any_json(run, event, as_object):
    decoded = delivered(event, as_object)
    check_async(run.invoke(event, as_object=as_object), "direct",
                [decoded if isinstance(decoded, Expect) else expectation_of(decoded)])


@st.composite
def events_with_copies(draw):
    """Valid requests only, some more than once: in one array, in two messages under one
    IdempotencyKey, or in a message delivered again within the batch. (event, trigger, expects)."""
    pool = Pool(draw(valid_requests()))

    def body() -> Any:
        if not draw(st.integers(0, 2)):
            return pool.take(draw)
        first = pool.take(draw)
        return draw(st.permutations([first, *(pool.take(draw) for _ in range(draw(st.integers(1, 4))))]))

    def text_of(value: Any) -> str:
        return b64(json.dumps(value).encode("utf-8")) if draw(st.booleans()) else json.dumps(value)

    trigger = draw(st.sampled_from(["direct", "http", "mns_queue", "mns_queue", "mns_topic", "timer"]))
    if trigger == "mns_queue":
        event, expects = [], []
        for n in range(draw(st.integers(1, 5))):
            if event and draw(st.booleans()):  # delivered again: the same message, its id included
                again = draw(st.integers(0, len(event) - 1))
                event.append(copy.deepcopy(event[again]))
                expects.append(expects[again])
                continue
            value = body()
            event.append({"id": f"event-{n}", "type": "mns:Queue:SendMessage",
                          "data": {"messageId": f"message-{n}", "messageBody": text_of(value)}})
            expects.append(expectation_of(value))
        return event, trigger, expects
    value = body()
    if not isinstance(value, list) and trigger in ("direct", "http"):
        value = [value, pool.copy(draw)]  # a copy needs an array to come in
    event = {"direct": lambda: value, "http": lambda: http_event(json.dumps(value)),
             "mns_topic": lambda: {"TopicName": "requests", "MessageId": "2F5B", "Message": text_of(value)},
             "timer": lambda: {"triggerTime": "2026-11-29T07:49:00Z", "triggerName": "nightly",
                               "payload": json.dumps(value)}}[trigger]()
    return event, trigger, [expectation_of(value)]


@examples(60)
@given(generated=events_with_copies(), as_object=st.booleans())
def test_copies_of_a_request_in_one_event(run, generated, as_object):
    event, trigger, expects = generated
    observed = run.invoke(event, as_object=as_object)
    if trigger == "http":
        check_http(observed, HttpExpectation(raw=b"", body=expects[0], is_array=True))
    else:
        check_async(observed, trigger, expects)


# --- the bugs found: a minimal example of each fixed one, and the open one (strict xfail) ---------

EXAMPLE = {"DomainName": "example.com", "KeyTag": 2371}
REFUSED = {"DomainName": "not-in-this-account.com", "KeyTag": 2371}  # the registrar: DomainNotExist (QueryDSRecord)


def queue_event(*bodies: str) -> list:
    return [{"id": f"event-{n}", "type": "mns:Queue:SendMessage",
             "data": {"messageId": f"message-{n}", "messageBody": body}} for n, body in enumerate(bodies)]


def http_event(body: str) -> dict:
    return {"body": body, "isBase64Encoded": False, "headers": {"Content-Type": "application/json"},
            "requestContext": {"http": {"method": "POST", "sourceIp": "11.11.11.11"}, "requestId": "1-hostile"}}


def copies(request: dict, count: int) -> Expect:
    return Expect(count, requests=(request,) * count)


@pytest.mark.parametrize("event", [
    queue_event('{"DomainName": "\\ud800.com", "KeyTag": 2371}'),
    b'{"\\udfff": 1}',
], ids=["queue", "direct"])
def test_a_lone_surrogate_is_rejected_and_published_once(run, event):
    check_async(run.invoke(event), documented_trigger(delivered(event, False)), [ONE])


@pytest.mark.parametrize("event", [
    queue_event(json.dumps({"\uffff": 1})),
    {"triggerTime": "2026-11-29T07:49:00Z", "triggerName": "nightly\ufffe", "payload": json.dumps(EXAMPLE)},
], ids=["rejected-queue-message", "submitted-timer-request"])
def test_a_character_xml_cannot_carry_is_escaped_in_notifications(run, event):
    check_async(run.invoke(event), documented_trigger(event), [ONE])


def one_message_id(event: list) -> list:
    """The messages of a queue event, all with one id: redeliveries of one message."""
    for cloud_event in event:
        cloud_event["data"]["messageId"] = "delivered-again"
    return event


@pytest.mark.parametrize("event, trigger, expects", [
    ([EXAMPLE] * 4, "direct", [copies(EXAMPLE, 4)]),
    (queue_event(*[json.dumps({**EXAMPLE, "IdempotencyKey": "retried-by-the-producer"})] * 4), "mns_queue",
     [copies({**EXAMPLE, "IdempotencyKey": "retried-by-the-producer"}, 1)] * 4),
    (http_event(json.dumps([EXAMPLE] * 3)), "http", [copies(EXAMPLE, 3)]),
    (one_message_id(queue_event(json.dumps(REFUSED), json.dumps(REFUSED))), "mns_queue", [copies(REFUSED, 1)] * 2),
], ids=["direct-array", "queue-messages-one-key", "http-array", "queue-refused-one-message-id"])
def test_the_same_request_twice_in_one_event_is_answered_once(run, event, trigger, expects):
    # A race: a copy that comes after the first has finished is answered from its record. A slow
    # first call (a delay, no failure) makes the others come while it is still in flight.
    slow_first_call = {"rules": [{"service": "domain", "action": SAVE, "fault": "latency", "rate": 1, "times": 1,
                                  "latency_ms": 300}]}
    observed = run.invoke(event, faults=slow_first_call)
    if trigger == "http":
        check_http(observed, HttpExpectation(raw=b"", body=expects[0], is_array=True))
        results = strict_json(observed.answer["body"])
    else:
        check_async(observed, trigger, expects)
        results = observed.answer["Results"]
    # One pre-check, and one deletion call (none for the domain the registrar refuses to list).
    refused = expects[0].requests[0] == REFUSED
    assert [call["action"] for call in observed.domain_calls()] == ["QueryDSRecord"] + ([] if refused else [SAVE])
    # Whichever copy claims the record first (they run side by side) is answered; the others replay it.
    assert sorted(bool(result.get("Replayed")) for result in results) == [False] + [True] * (len(results) - 1)


@pytest.mark.parametrize("event", [[REFUSED, REFUSED], http_event(json.dumps([REFUSED, REFUSED]))],
                         ids=["direct", "http"])
def test_a_refused_request_twice_in_one_event_is_called_once(run, event):
    observed = run.invoke(event)
    # Refused at its pre-check (DomainNotExist): one QueryDSRecord, no deletion call, the copy replayed.
    assert [call["action"] for call in observed.domain_calls()] == ["QueryDSRecord"]


def test_an_http_body_with_a_lone_surrogate_is_a_400(run):
    observed = run.invoke(http_event("\ud800"))  # sent as bytes: "\\ud800" in the JSON
    check_http(observed, HttpExpectation(raw=None, body=NOT_UTF8))


@pytest.mark.parametrize("timestamp_now", [
    lambda: "\u00b2",  # SUPERSCRIPT TWO: Latin-1, so any client can send it
    lambda: str(int(time.time())).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}),  # now, fullwidth
], ids=["superscript", "fullwidth-now"])
def test_an_odd_webhook_timestamp_is_a_401(run_webhook, timestamp_now):
    event = http_event(json.dumps(EXAMPLE))
    event["headers"].update({"X-Webhook-Timestamp": timestamp_now(), "X-Webhook-Signature": "v1=00"})
    observed = run_webhook.invoke(event)
    assert observed.answer["statusCode"] == 401 and observed.calls == []


@pytest.mark.parametrize("body", ['{"DomainName": "example.com", "KeyTag": NaN}', "[Infinity]", "-Infinity"])
def test_nan_and_infinity_are_not_json(run, body):
    observed = run.invoke(queue_event(body))
    check_async(observed, "mns_queue", [NOT_JSON_TEXT])
    assert "is not a JSON value" in observed.answer["Results"][0]["Message"]


def test_an_envelope_holding_infinity_is_no_json_event(run):
    event = queue_event(json.dumps(EXAMPLE))
    event[0]["time"] = math.inf  # sent as bytes: "time": Infinity
    observed = run.invoke(event)
    check_async(observed, "direct", [NOT_JSON_TEXT])
    assert observed.answer["Results"][0]["Message"].startswith("The event is not valid JSON")


def test_a_lone_queue_message_holding_an_empty_array_is_rejected(run):
    check_async(run.invoke(queue_event("[]")), "mns_queue", [EMPTY_ARRAY])


@pytest.mark.parametrize("event, trigger, expects", [
    ({"triggerTime": "2026-11-29T07:49:00Z", "triggerName": "nightly", "payload": "[]"}, "timer", [EMPTY_ARRAY]),
    ({"TopicName": "requests", "MessageId": "2F5B", "Message": b64(b"[]")}, "mns_topic", [EMPTY_ARRAY]),
    (queue_event("[]", json.dumps(EXAMPLE)), "mns_queue", [EMPTY_ARRAY, ONE]),
    ([], "direct", [EMPTY_ARRAY]),
], ids=["timer", "topic-base64", "queue-first-of-two", "direct"])
def test_an_empty_array_message_is_rejected_and_published(run, event, trigger, expects):
    check_async(run.invoke(event), trigger, expects)


def test_an_empty_topic_message_id_falls_back_to_the_request_id(run):
    observed = run.invoke({"TopicName": "requests", "MessageId": "", "Message": "{}"})
    check_async(observed, "mns_topic", [ONE])
    assert observed.answer["Results"][0]["Source"] == run.request_id


def test_an_empty_queue_message_id_falls_back_to_the_position(run):
    event = queue_event("{}", "{}")
    for cloud_event in event:
        cloud_event["id"] = cloud_event["data"]["messageId"] = ""
    observed = run.invoke(event)
    check_async(observed, "mns_queue", [ONE, ONE])
    assert [result["Source"] for result in observed.answer["Results"]] == ["message-0", "message-1"]


def test_a_base64_body_too_deep_names_the_depth_rule(run):
    deep = nested(EXAMPLE, MAX_DEPTH, in_objects=False)
    check_async(run.invoke(queue_event(b64(json.dumps(deep).encode()))), "mns_queue", [TOO_DEEP])
