"""What every trigger adapter shares: decoding bodies, splitting them into requests, and the
per-request result it reports back."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from .webhook import WebhookVerifier

from deleter.deletion_request import InvalidRequest
from deleter.follow_up import NOT_CHECKED, CheckOutcome
from deleter.log import logger
from deleter.outcome import DRY_RUN, SUBMITTED, Outcome
from deleter.source import IncomingRequest, Source


MAX_JSON_DEPTH = 8  # a request array is 2 deep; anything far deeper is hostile


@dataclass(frozen=True)
class TriggerOptions:
    """Limits and checks the adapters apply before anything reaches the core."""
    max_batch: int = 100
    webhook: Optional[WebhookVerifier] = None
    watch_queue: Optional[str] = None  # WATCH_QUEUE: the one queue whose watch messages are checks


@dataclass(frozen=True)
class Delivery:
    """The plain requests an event carried (each adapter's correlation_id(event, context) names
    the id that correlates their log lines)."""
    items: List[IncomingRequest]
    as_batch: bool = False  # the caller sent an array and expects one result per item


class Refused(Exception):
    """The event is answered at once (bad method, too large...): nothing reaches the core.

    `details` go to the one log line the refusal gets: its status, Code and Message, and why
    where the answer does not say (never the body, never a secret)."""

    def __init__(self, answer: Any, status: int, details: Dict[str, Any],
                 log_message: str = "Request refused") -> None:
        super().__init__("refused")
        self.answer = answer
        self.status = status
        self.details = details
        self.log_message = log_message

    def log(self) -> None:
        """A WARNING: the caller's request was at fault; an ERROR when the service was (5xx)."""
        write = logger.error if self.status >= 500 else logger.warning
        write(self.log_message, extra={"status": self.status, **self.details})


class RedeliveryRequired(Exception):
    """Raised to fail the invocation, so that the trigger delivers the event again."""


def not_json(what: str, error: Exception) -> InvalidRequest:
    return InvalidRequest("InvalidJSON", None, f"{what} is not valid JSON ({error})")


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest (iteratively: hostile input cannot blow the stack)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def check_depth(value: Any, what: str) -> Any:
    if json_depth(value) > MAX_JSON_DEPTH:
        raise InvalidRequest("InvalidRequest", None, f"{what} nests JSON deeper than {MAX_JSON_DEPTH} levels")
    return value


def _not_a_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


MAX_INTEGER_DIGITS = 40  # no field takes more; Python refuses over 4300 digits with advice of its own


class OversizedInteger:
    """A JSON integer too long to be any field's value. Left in place of the number, so the
    field's own rule names it (KeyTag must be an integer from 0 to 65535), not Python's limit."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<an integer of {self.digits} digits>"


def _integer(text: str) -> Any:
    return int(text) if len(text) <= MAX_INTEGER_DIGITS else OversizedInteger(len(text.lstrip("-")))


def parse_json(text: Any, what: str) -> Any:
    """JSON from str or bytes, at most MAX_JSON_DEPTH deep; InvalidRequest naming `what` and the
    rule when it is not."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        if not isinstance(text, str):
            raise ValueError(f"expected text, got {type(text).__name__}")
        value = json.loads(text, parse_constant=_not_a_json_constant, parse_int=_integer)
    except RecursionError:
        raise InvalidRequest("InvalidRequest", None, f"{what} nests JSON deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise not_json(what, error) from None
    return check_depth(value, what)


def decode_message_body(body: Any, what: str = "The message body") -> Any:
    """An MNS message body: JSON as sent, or base64 of it (queues and topics can deliver either;
    a base64-encoded JSON object never parses as a JSON object itself).

    The reference (shared/reference/alibaba-cloud.md) documents messageBody and Message as strings
    only. A body that arrives as a JSON object or array all the same (already decoded on its way,
    which no documentation confirms) is the request(s) itself, not "not valid JSON"."""
    if isinstance(body, (dict, list)):
        return check_depth(body, what)
    try:
        value = parse_json(body, what)
        if isinstance(value, (dict, list)):
            return value
    except InvalidRequest as error:
        first_error = error
    else:
        first_error = None
    if isinstance(body, str):
        try:
            decoded = base64.b64decode(body.strip(), validate=True)
        except (binascii.Error, ValueError):
            decoded = None
        if decoded is not None:
            try:
                return parse_json(decoded, f"{what} (base64-decoded)")
            except InvalidRequest as error:
                if error.code != "InvalidJSON":  # JSON after all, but breaking a rule: say which
                    raise
    if first_error is not None:
        raise first_error
    return value


def requests_in(value: Any, source: Source, max_batch: int, client_ip: Optional[str] = None) -> List[IncomingRequest]:
    """One request per object: an object is one request, an array holds several (each reported
    under the delivery's id with its position; deduplicated by what it asks, see Source.item)."""
    if isinstance(value, list) and len(value) > max_batch:
        return [problem_item(batch_too_large(len(value), max_batch), source)]
    if isinstance(value, list) and not value:  # answered and published like any invalid request
        return [problem_item(InvalidRequest("InvalidRequest", None, "The array of requests is empty"), source)]
    if isinstance(value, list):
        return [IncomingRequest(item, source.item(index), client_ip) for index, item in enumerate(value)]
    return [IncomingRequest(value, source, client_ip)]


def requests_or_problem(read: Callable[[], Any], source: Source, max_batch: int) -> List[IncomingRequest]:
    """The requests read() finds in a delivery; a delivery that cannot be read is one invalid
    item, answered or published like any invalid request."""
    try:
        return requests_in(read(), source, max_batch)
    except InvalidRequest as problem:
        return [problem_item(problem, source)]


def summary_answer(outcomes: List[Outcome], delivered: Delivery) -> dict:
    """The answer of the triggers without a caller waiting on it: see summary()."""
    return summary(outcomes)


def batch_too_large(length: int, max_batch: int) -> InvalidRequest:
    return InvalidRequest("BatchTooLarge", None, f"An array holds at most {max_batch} requests (MAX_BATCH), not {length}")


def problem_item(problem: InvalidRequest, source: Source) -> IncomingRequest:
    return IncomingRequest(None, source, problem=problem)


def result_of(outcome: Outcome) -> dict:
    """A request's result for an answer that lists every request (queue, topic, timer, direct)."""
    if isinstance(outcome, CheckOutcome):  # a watch message's check
        return check_result(outcome)
    result = {"Source": outcome.source.id, "Status": outcome.status}
    if outcome.request is not None:
        result.update(DomainName=outcome.request.domain_name, KeyTag=outcome.request.key_tag)
    if outcome.status == SUBMITTED:
        result.update(TaskNo=outcome.task_no, RequestId=outcome.api_request_id)
    else:
        result.update(Code=outcome.code, Message=outcome.message)
        if outcome.failure:
            result["Failure"] = outcome.failure
    if outcome.notified is not None:
        result["Notified"] = outcome.notified
    result.update(task_facts(outcome))
    result.update(guard_facts(outcome))
    if outcome.replayed:
        result["Replayed"] = True
    return result


def task_facts(outcome: Outcome) -> dict:
    """How a request came to its TaskNo, when not by a call of its own: found after a lost answer
    (Adopted), or another request's task for the same DS record (Joined), with its status then."""
    facts: dict = {}
    if outcome.adopted:
        facts["Adopted"] = True
    if outcome.joined:
        facts["Joined"] = True
    if outcome.task_status:
        facts["TaskStatus"] = outcome.task_status
    if outcome.watched is False:  # published, but its first check is not scheduled yet
        facts["Watched"] = False
    return facts


def guard_facts(outcome: Outcome) -> dict:
    """What the checks before the deletion found (deleter/guard.py): SafetyCheck, the DS rows the
    deletion removes, Forced with the verdict it overrode, a refusal's verdict; a dry run's answer."""
    clearance = outcome.guard
    if clearance is None:
        return {}
    if outcome.status == DRY_RUN:
        return {"DryRun": True, "WouldSubmit": clearance.allowed, **clearance.facts(with_verdict=True)}
    return clearance.facts()


def summary(outcomes: List[Outcome]) -> dict:
    """The answer of an asynchronous trigger: every request's result, in order. When one is not
    settled, the invocation fails instead, so the trigger delivers the event again."""
    answer = {"Results": [result_of(outcome) for outcome in outcomes]}
    unsettled = [outcome for outcome in outcomes if not outcome.settled]
    if unsettled:
        raise RedeliveryRequired(
            f"{len(unsettled)} of {len(outcomes)} requests failed transiently and need a redelivery: "
            + json.dumps(answer)
        )
    return answer


def check_result(outcome: CheckOutcome) -> dict:
    """A watch message's check, for the queue trigger's answer: what the service said of the task
    and what the check did (scheduled the next one, published the end), or why it could not."""
    message = outcome.message
    result = {"Source": outcome.source.id, "Status": outcome.status, "TaskNo": message.task_no,
              "DomainName": message.domain_name, "KeyTag": message.key_tag, "Attempt": message.attempt,
              "TaskStatus": outcome.task_status or None}
    if outcome.event:
        result["Event"] = outcome.event
    if outcome.next_attempt is not None:
        result.update(NextAttempt=outcome.next_attempt, NextCheckInSeconds=outcome.next_delay_seconds)
    if outcome.status == NOT_CHECKED:
        result.update(Code=outcome.code, Message=outcome.reason, Failure="RETRYABLE")
    if outcome.replayed:
        result["Replayed"] = True
    return result
