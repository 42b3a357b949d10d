"""HTTP trigger (FC 3.0): a POST with a JSON body -> {statusCode, headers, isBase64Encoded, body}."""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Dict, List, Optional

from cloud.errors import PermanentError
from deleter.deletion_request import InvalidRequest
from deleter.idempotency import StoreError
from deleter.outcome import ALREADY_ABSENT, DRY_RUN, PERMANENT, REJECTED, RETRYABLE, SUBMITTED, Outcome
from deleter.source import HTTP, Source
from deleter.task_query import TaskLookup, TaskLookupOutcome
from deleter.task_state import parse_task_no

from .common import (Delivery, Refused, TriggerOptions, batch_too_large, guard_facts, parse_json, requests_in,
                     task_facts)
from .webhook import WebhookVerifier

MAX_BODY_BYTES = 64 * 1024
# Refusals the caller can act on differently from a plain 400.
REJECTION_STATUS = {"DomainNotAllowed": 403, "IdempotencyKeyReused": 422}
FAILURE_STATUS = {"RequestInProgress": 409}
TASK_PATH = re.compile(r"^/tasks/(?P<task_no>[^/]*)/?$")


def matches(event: Any) -> bool:
    context = event.get("requestContext") if isinstance(event, dict) else None
    return isinstance(context, dict) and isinstance(context.get("http"), dict)


def response(status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "isBase64Encoded": False,
        "body": json.dumps(body),  # ASCII escapes: a lone surrogate echoed in a Message stays encodable
    }


def error_response(status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> dict:
    return response(status, {"Code": code, "Message": message}, headers)


def refused(status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None,
            log_message: str = "Request refused", **why: Any) -> Refused:
    """A refusal to raise: its answer, and what its log line says (Code, Message, why)."""
    return Refused(error_response(status, code, message, headers), status,
                   {"code": code, "reason": message, **why}, log_message)


def raw_body(event: dict) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise refused(400, "InvalidRequest", "The body must be text")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise refused(400, "InvalidRequest", "The body is marked base64 but is not") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no bytes could have carried it
        raise refused(400, "InvalidRequest", "The body is not UTF-8 text") from None


def correlation_id(event: dict, context: Any) -> str:
    """The HTTP request id (what the caller sees in FC's x-fc-request-id), else the invocation's."""
    return str(event["requestContext"].get("requestId") or getattr(context, "request_id", "") or "-")


def check_signature(webhook: WebhookVerifier, event: dict, body: bytes) -> None:
    """Refused (401) unless signed as the webhook requires; 503 when the replay check cannot be
    made (its store is down): the request may be genuine, so it is not called unsigned."""
    headers = event.get("headers") if isinstance(event.get("headers"), dict) else {}
    try:
        refusal = webhook.refusal(headers, body)
    except StoreError as error:
        raise refused(503, "ServiceUnavailable", "The service is temporarily unavailable: try again later",
                      {"Retry-After": "1"}, store_error=str(error)) from None
    if refusal:
        raise refused(401, "Unauthorized", "The request is not signed as this webhook requires",
                      log_message="Webhook request refused", webhook_refusal=refusal)


def signed_body(event: dict, options: TriggerOptions) -> bytes:
    """The raw body, at most MAX_BODY_BYTES, and signed as the webhook requires (else refused)."""
    body = raw_body(event)
    if len(body) > MAX_BODY_BYTES:
        raise refused(413, "PayloadTooLarge", f"The body must be at most {MAX_BODY_BYTES} bytes")
    if options.webhook is not None:
        check_signature(options.webhook, event, body)
    return body


def delivery(event: dict, context: Any, options: TriggerOptions) -> Delivery:
    lookup = task_lookup(event, context, options)  # GET /tasks/<TaskNo>; None: any other request
    if lookup is not None:
        return lookup
    http = event["requestContext"]["http"]
    if str(http.get("method", "")).upper() != "POST":
        raise refused(405, "MethodNotAllowed", "Only POST is allowed", {"Allow": "POST"})
    body = signed_body(event, options)
    try:
        value = parse_json(body, "The body")
    except InvalidRequest as error:
        raise refused(400, error.code, error.message) from None
    if isinstance(value, list) and not value:
        raise refused(400, "InvalidRequest", "The array of requests is empty")
    if isinstance(value, list) and len(value) > options.max_batch:
        problem = batch_too_large(len(value), options.max_batch)
        raise refused(400, problem.code, problem.message)
    source = Source(HTTP, correlation_id(event, context))
    items = requests_in(value, source, options.max_batch, client_ip=http.get("sourceIp"))
    return Delivery(items, as_batch=isinstance(value, list))


def _status_and_body(outcome: Outcome) -> tuple:
    if outcome.status == SUBMITTED:
        request = outcome.request
        body = {"TaskNo": outcome.task_no, "RequestId": outcome.api_request_id,
                "DomainName": request.domain_name, "KeyTag": request.key_tag}
        body.update(task_facts(outcome))
        body.update(guard_facts(outcome))
        if outcome.notified is False:
            # The task exists (its TaskNo is kept as unpublished): the same request sent again
            # publishes it and makes no new task.
            body.update(Notified=False, Message="The deletion task was created, but its notification could not "
                        "be published yet; send the same request again to publish it")
        elif outcome.watched is False:  # likewise: sent again, it schedules the check, publishing nothing twice
            body.update(Message="The deletion task was created and its notification published, but its first "
                        "check could not be scheduled yet; send the same request again to schedule it")
        return 202, body
    if outcome.guard is not None:
        return _guarded_status_and_body(outcome)
    if outcome.status == REJECTED:
        return REJECTION_STATUS.get(outcome.code or "", 400), {"Code": outcome.code, "Message": outcome.message}
    # The cloud failed us: 503 try again later, 504 unknown whether it was done, 502 refused.
    status = FAILURE_STATUS.get(outcome.code or "") or {RETRYABLE: 503, PERMANENT: 502}.get(outcome.failure or "", 504)
    return status, {"Code": outcome.code, "Message": outcome.message}


def answer(outcomes: List[Outcome], delivered: Delivery) -> dict:
    if isinstance(outcomes[0], TaskLookupOutcome):
        return task_answer(outcomes[0])
    if not delivered.as_batch:
        outcome = outcomes[0]
        status, body = _status_and_body(outcome)
        headers = {"Retry-After": "1"} if status == 503 or (status == 409 and outcome.failure == RETRYABLE) else {}
        if outcome.replayed:
            headers["X-Idempotent-Replay"] = "true"
        return response(status, body, headers)
    results = []
    for outcome in outcomes:
        status, body = _status_and_body(outcome)
        results.append({"Status": status, **body, **({"Replayed": True} if outcome.replayed else {})})
    return response(207, results)


def _guarded_status_and_body(outcome: Outcome) -> tuple:
    """An answer of the checks before a deletion: a dry run's or nothing to delete (200), a refusal
    of the safety check (409: final, no Retry-After), a check that could not decide (503)."""
    request = outcome.request
    body = {"Code": outcome.code, "Message": outcome.message, "DomainName": request.domain_name,
            "KeyTag": request.key_tag, **guard_facts(outcome)}
    if outcome.status in (DRY_RUN, ALREADY_ABSENT):
        return 200, body
    return (409 if outcome.failure == PERMANENT else 503), body


def misconfigured(message: str) -> dict:
    """The caller cannot be authenticated while the settings are broken, so it is told nothing of
    them: the detail is in the function's log (an ERROR line)."""
    return error_response(500, "FunctionMisconfigured",
                          "The function is misconfigured; its operator can read why in the function's log")


# --- GET /tasks/<TaskNo>: how one task stands (deleter/task_query.py) ------------------------------

def task_lookup(event: dict, context: Any, options: TriggerOptions) -> Optional[Delivery]:
    """A GET of /tasks/<TaskNo>, signed like a POST (over its empty body) when the webhook requires
    it; None for any other request (a POST to any path is a deletion request, as before)."""
    http = event["requestContext"]["http"]
    match = TASK_PATH.match(str(event.get("rawPath") or http.get("path") or ""))
    method = str(http.get("method", "")).upper()
    if match is None or method == "POST":
        return None
    if method != "GET":
        raise refused(405, "MethodNotAllowed", "Only GET (how a task stands) and POST are allowed",
                      {"Allow": "GET, POST"})
    signed_body(event, options)
    try:
        task_no = parse_task_no(match.group("task_no"))
    except InvalidRequest as error:
        raise refused(400, error.code, error.message) from None
    return Delivery([TaskLookup(task_no, Source(HTTP, correlation_id(event, context)))])


def task_answer(outcome: TaskLookupOutcome) -> dict:
    error = outcome.error
    if error is not None:  # 502 refused, 503 try again (throttled, unavailable, a permission missing)
        if isinstance(error, PermanentError):
            return error_response(502, error.code, error.message)
        return error_response(503, error.code, error.message, {"Retry-After": "1"})
    state = outcome.state
    if state is None:
        return error_response(404, "TaskNotFound", f"The account has no task {outcome.lookup.task_no}")
    return response(200, {
        "TaskNo": state.task_no, "DomainName": state.domain_name, "TaskStatus": state.status,
        "TaskStatusCode": state.status_code, "CreateTime": state.create_time, "UpdateTime": state.update_time,
        "ErrorMsg": state.error_msg, "FailReason": state.fail_reason, "TryCount": state.try_count,
        # Known when this function published the TaskNo (the store noted its DS record); else null.
        "KeyTag": outcome.key_tag, "KeyTagListed": outcome.key_tag_listed,
    })
