"""The webhook's OpenAPI document (functions/ds_record_deleter/triggers/openapi.yaml) against the
code, beyond what schemathesis samples (tests/e2e/test_openapi_schemathesis.py runs it against the
local HTTP trigger): the document is valid OpenAPI 3.1; every request field and rule is the code's;
every Code the HTTP adapter can answer, each end of the checks before a deletion and every shape
of a 202, 207 and GET answer, made by the adapter itself, is documented with its status, headers
and body (validated as schemathesis validates a real answer)."""
from __future__ import annotations

import ast
import base64
import json
import re
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
import requests
import schemathesis
import yaml
from hypothesis import given, settings, strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

import triggers
from cloud.errors import OutcomeUnknownError, PermanentError, RetryableError
from deleter import deletion_request, guard, safety, settings as settings_module, task_state
from deleter.deletion_request import FIELDS, InvalidRequest, parse_deletion_request
from deleter.guard import Clearance
from deleter.idempotency import StoreError
from deleter.outcome import (ALREADY_ABSENT, DRY_RUN, FAILED, PERMANENT, REJECTED, RETRYABLE, SUBMITTED, UNKNOWN,
                             Outcome)
from deleter.source import HTTP, Source
from deleter.task_query import TaskLookup, TaskLookupOutcome
from deleter.task_state import TaskState
from triggers import common, http
from triggers.common import Delivery, Refused, TriggerOptions
from triggers.webhook import WebhookVerifier, sign

DOCUMENT = Path(triggers.__file__).parent / "openapi.yaml"
SPEC = yaml.safe_load(DOCUMENT.read_text())
SCHEMA = schemathesis.openapi.from_path(str(DOCUMENT))
SCHEMAS = SPEC["components"]["schemas"]
CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
SOURCE = Source(HTTP, "1-test-request")
REQUEST = parse_deletion_request({"DomainName": "example.org", "KeyTag": 12345})
ROW = {"KeyTag": 12345, "Algorithm": 13, "DigestType": 2, "Digest": "95200A8FC59FD4ED93EDCB38CA01D137DBB6DF733FAE5181B5D41BC5658605E6"}
OTHER_ROW = {"KeyTag": 54321, "Algorithm": 13, "DigestType": 2, "Digest": "AB541A3C033CAAE5FF476CF06E433F9C4A126153269CF4C7E0B8F159A3AAEAA9"}


# --- validating an answer of the adapter as schemathesis validates one from the wire ----------------

def assert_documented(answer: dict, method: str = "POST", path: str = "/") -> dict:
    """The adapter's answer (FC's {statusCode, headers, body}) conforms to the document: its status
    is documented for the operation, and its Content-Type, headers and body match. Returns the body."""
    operation = SCHEMA[path][method]
    parameters = {"TaskNo": "e893148f-6343-4ae1-9eba-6e2a4116e142"} if "{TaskNo}" in path else {}
    request = requests.Request(method, f"http://127.0.0.1:9000{path.format(**parameters)}").prepare()
    response = schemathesis.Response(status_code=answer["statusCode"],
                                     headers={name: [value] for name, value in answer["headers"].items()},
                                     content=answer["body"].encode("utf-8"), request=request, elapsed=0.0, verify=True)
    case = operation.Case(path_parameters=parameters, **({"body": {}} if method == "POST" else {}))
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as failures:  # a BaseException group: made an assertion for pytest
        raise AssertionError(f"{method} {path}: {answer}\n{failures}") from None
    return json.loads(answer["body"])


def single(outcome: Outcome) -> dict:
    return http.answer([outcome], Delivery([], as_batch=False))


def batch(*outcomes: Outcome) -> dict:
    return http.answer(list(outcomes), Delivery([], as_batch=True))


def test_validation_catches_a_drift():
    """The helper fails on what a drift would look like (so the tests below mean something)."""
    drifts = [http.error_response(400, "SomethingNew", "x"),               # a Code not listed for 400
              http.error_response(418, "Teapot", "x"),                     # a status not documented
              http.error_response(503, "Throttling", "x"),                 # 503 without Retry-After
              http.response(202, {"TaskNo": "t", "RequestId": "", "DomainName": "example.org", "KeyTag": 1,
                                  "Surprise": True}),                     # a field the document does not name
              http.response(200, {"Code": "DSRecordAlreadyAbsent", "Message": "m", "DomainName": "Example.ORG",
                                  "KeyTag": 1, "ListedKeyTags": []})]     # a domain as not normalised
    for answer in drifts:
        with pytest.raises(AssertionError):
            assert_documented(answer)


# --- the document itself ---------------------------------------------------------------------------

def refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node: Any = SPEC
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_valid_openapi_and_every_schema_valid_json_schema():
    assert SPEC["openapi"].startswith("3.1.")
    SCHEMA.validate()  # the OpenAPI 3.1 meta-schema (schemathesis raises on a violation)
    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        for value in re.findall(r"'pattern': '([^']*)'", repr(schema)):
            re.compile(value)
    for reference in set(refs(SPEC)):
        assert resolve(reference) is not None, reference
    # Every schema, response and header is used (no dead part for a reader to puzzle over).
    text = DOCUMENT.read_text()
    for kind in ("schemas", "responses", "headers", "parameters", "requestBodies"):
        for name in SPEC["components"][kind]:
            assert f"#/components/{kind}/{name}'" in text, f"{kind}/{name} is never used"


def test_every_route_and_method_is_the_adapters():
    assert {path: sorted(item) for path, item in SPEC["paths"].items()} == {
        "/": ["post"], "/tasks/{TaskNo}": ["get", "parameters", "post"]}
    assert SPEC["components"]["parameters"]["TaskNo"]["schema"]["pattern"] == task_state.TASK_NO.pattern
    assert http.TASK_PATH.match("/tasks/e893148f-6343-4ae1-9eba-6e2a4116e142")


# --- requests: the fields and their rules ----------------------------------------------------------

def test_every_field_of_a_request_is_documented_and_no_other():
    request = SCHEMAS["DeletionRequest"]
    assert list(request["properties"]) == list(FIELDS)
    assert request["required"] == ["DomainName", "KeyTag"] and request["additionalProperties"] is False
    with pytest.raises(InvalidRequest) as refused:
        parse_deletion_request({"DomainName": "example.org", "KeyTag": 1, "Surprise": 1})
    assert refused.value.code == "UnknownParameter"


def test_the_documented_rules_are_the_codes():
    fields = SCHEMAS["DeletionRequest"]["properties"]
    key_tag = SCHEMAS["KeyTag"]
    assert (key_tag["type"], key_tag["minimum"], key_tag["maximum"]) == ("integer", *deletion_request.KEY_TAG_RANGE)
    assert fields["Lang"]["enum"] == [*deletion_request.LANGS, None]
    assert fields["IdempotencyKey"]["maxLength"] == 128
    for switch in ("DryRun", "Force", "AllowInsecure"):
        assert fields[switch]["type"] == ["boolean", "null"]
    for name in ("RequestedDomainName", "DomainName"):
        assert SCHEMAS[name]["maxLength"] == deletion_request.MAX_DOMAIN_LENGTH
    batch_schema = SCHEMAS["DeletionRequests"]
    assert (batch_schema["minItems"], batch_schema["maxItems"]) == (1, settings_module.Settings.max_batch)
    assert f"{http.MAX_BODY_BYTES // 1024} KiB" in SPEC["components"]["requestBodies"]["Deletion"]["description"]
    assert common.MAX_JSON_DEPTH == 8 and "deeper than 8 levels" in SPEC["components"]["responses"]["InvalidRequest"]["description"]


def pattern(schema: dict) -> re.Pattern:
    return re.compile(schema["pattern"])


def accepts(field: str, value: Any) -> Optional[Any]:
    try:
        return parse_deletion_request({"DomainName": "example.org", "KeyTag": 1, field: value})
    except InvalidRequest:
        return None


NAME_PATTERN = pattern(SCHEMAS["RequestedDomainName"])
NORMALISED_PATTERN = pattern(SCHEMAS["DomainName"])


@settings(max_examples=300, deadline=None)
@given(st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda name: len(name) <= 253))
def test_a_domain_name_the_document_allows_is_accepted_and_answered_normalised(name):
    request = parse_deletion_request({"DomainName": name, "KeyTag": 1})
    assert request.domain_name == name.lower() and NORMALISED_PATTERN.fullmatch(request.domain_name)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.sampled_from(["bücher.com", "xn--bcher-kva.com", " Example.COM. ",
                                                        "例え.テスト", "ÉCOLE.fr"])))
def test_any_domain_name_accepted_is_answered_in_the_documented_form(name):
    """U-labels, A-labels, upper case, a trailing dot, whitespace: normalised (as the document
    says) to a name the answers' pattern matches."""
    try:
        request = parse_deletion_request({"DomainName": name, "KeyTag": 1})
    except InvalidRequest:
        return
    assert NORMALISED_PATTERN.fullmatch(request.domain_name) and len(request.domain_name) <= 253


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=130), st.from_regex(r"[!-~]{1,128}\n?", fullmatch=True)))
def test_an_idempotency_key_is_accepted_exactly_when_the_document_allows_it(key):
    documented = pattern(SCHEMAS["DeletionRequest"]["properties"]["IdempotencyKey"]).fullmatch(key) is not None
    assert (accepts("IdempotencyKey", key) is not None) == documented, repr(key)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=70), st.from_regex(r"[A-Za-z0-9-]{1,64}\n?", fullmatch=True)))
def test_a_task_no_is_accepted_exactly_when_the_document_allows_it(task_no):
    documented = pattern(SPEC["components"]["parameters"]["TaskNo"]["schema"]).fullmatch(task_no) is not None
    try:
        task_state.parse_task_no(task_no)
        accepted = True
    except InvalidRequest:
        accepted = False
    assert accepted == documented, repr(task_no)


def test_a_client_ip_is_an_ipv4_or_ipv6_address_without_a_zone():
    assert [branch.get("format", branch["type"]) for branch in
            SCHEMAS["DeletionRequest"]["properties"]["UserClientIp"]["oneOf"]] == ["ipv4", "ipv6", "null"]
    for address in ("203.0.113.7", "2001:db8::1", "::ffff:192.0.2.1"):
        assert accepts("UserClientIp", address) is not None
    for address in ("fe80::1%eth0", "203.0.113", "example.org", 7):
        assert accepts("UserClientIp", address) is None


# --- every Code the adapter answers, with its status -----------------------------------------------

def http_event(method: str, path: str = "/", body: str = "", headers: Optional[dict] = None,
               base64_encoded: bool = False) -> dict:
    return {"rawPath": path, "body": body, "isBase64Encoded": base64_encoded, "headers": headers or {},
            "requestContext": {"requestId": "1-test", "http": {"method": method, "path": path, "sourceIp": "192.0.2.9"}}}


def refusal(event: dict, options: TriggerOptions = TriggerOptions()) -> dict:
    with pytest.raises(Refused) as refused:
        http.delivery(event, None, options)
    return refused.value.answer


class BrokenStore:
    def first_use(self, token: str, ttl_ms: int) -> bool:
        raise StoreError("down")


SECRET = "s" * 32
SIGNED = TriggerOptions(webhook=WebhookVerifier(SECRET, lambda token, ttl: True))
# Signed and fresh, but the replay check's store is down: 503, not 401.
STORE_DOWN = TriggerOptions(webhook=WebhookVerifier(SECRET, BrokenStore().first_use, clock=lambda: 1000))


def signed_headers(body: bytes) -> dict:
    return {"X-Webhook-Timestamp": "1000", "X-Webhook-Signature": sign(SECRET, "1000", body)}


# What the adapter answers before the core, each with the operation(s) it is documented for.
REFUSALS = [
    # (answer, [(method, path)], status, Code)
    (lambda: refusal(http_event("GET", "/")), [("POST", "/")], 405, "MethodNotAllowed"),
    (lambda: refusal(http_event("PUT", "/tasks/abc")), [("GET", "/tasks/{TaskNo}")], 405, "MethodNotAllowed"),
    (lambda: refusal(http_event("POST", body="x" * (http.MAX_BODY_BYTES + 1))), [("POST", "/")], 413, "PayloadTooLarge"),
    (lambda: refusal(http_event("GET", "/tasks/abc", body="x" * (http.MAX_BODY_BYTES + 1))),
     [("GET", "/tasks/{TaskNo}")], 413, "PayloadTooLarge"),
    (lambda: refusal(http_event("POST", body="{}"), SIGNED), [("POST", "/")], 401, "Unauthorized"),
    (lambda: refusal(http_event("GET", "/tasks/abc"), SIGNED), [("GET", "/tasks/{TaskNo}")], 401, "Unauthorized"),
    (lambda: refusal(http_event("POST", body="{}", headers=signed_headers(b"{}")), STORE_DOWN), [("POST", "/")], 503,
     "ServiceUnavailable"),
    (lambda: refusal(http_event("GET", "/tasks/abc", headers=signed_headers(b"")), STORE_DOWN),
     [("GET", "/tasks/{TaskNo}")], 503, "ServiceUnavailable"),
    (lambda: refusal(http_event("POST", body="not base64!", base64_encoded=True)), [("POST", "/")], 400, "InvalidRequest"),
    (lambda: refusal(http_event("GET", "/tasks/abc", body="not base64!", base64_encoded=True)),
     [("GET", "/tasks/{TaskNo}")], 400, "InvalidRequest"),
    (lambda: refusal(http_event("POST", body="{")), [("POST", "/")], 400, "InvalidJSON"),
    (lambda: refusal(http_event("POST", body="[]")), [("POST", "/")], 400, "InvalidRequest"),
    (lambda: refusal(http_event("POST", body="[[[[[[[[[[1]]]]]]]]]]")), [("POST", "/")], 400, "InvalidRequest"),
    (lambda: refusal(http_event("POST", body=json.dumps([{}] * 101))), [("POST", "/")], 400, "BatchTooLarge"),
    (lambda: refusal(http_event("GET", "/tasks/not_a_task!")), [("GET", "/tasks/{TaskNo}")], 400, "InvalidTaskNo"),
    (lambda: http.misconfigured("NOTIFY_TOPIC is not set"), [("POST", "/"), ("GET", "/tasks/{TaskNo}")], 500,
     "FunctionMisconfigured"),
]


@pytest.mark.parametrize("make, operations, status, code", REFUSALS)
def test_every_refusal_of_the_adapter_is_documented_with_its_status(make, operations, status, code):
    answer = make()
    assert (answer["statusCode"], json.loads(answer["body"])["Code"]) == (status, code)
    for method, path in operations:
        assert_documented(answer, method, path)
    if status == 400 and operations == [("POST", "/")]:  # also answered at /tasks/<anything> (the same request)
        assert_documented(answer, "POST", "/tasks/{TaskNo}")


def literal_codes(source: Path, callee: str, code_position: int) -> set:
    """The Codes written as string literals in calls of `callee` in a module."""
    codes = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == callee:
            if len(node.args) > code_position and isinstance(node.args[code_position], ast.Constant):
                codes.add(node.args[code_position].value)
    return codes


PACKAGE = DOCUMENT.parents[1]


def test_the_refusals_above_are_every_one_the_adapter_writes():
    """A new refusal in triggers/http.py fails here until it is in REFUSALS (and so documented)."""
    written = literal_codes(PACKAGE / "triggers" / "http.py", "refused", 1) | \
        literal_codes(PACKAGE / "triggers" / "http.py", "error_response", 1)
    assert written - {"TaskNotFound"} <= {code for *_, code in REFUSALS}


def rejection_codes() -> set:
    """Every Code a request is rejected with (an InvalidRequest): the rules of deletion_request.py
    and of reading the body (common.py), and the use case's own (deletion.py)."""
    return set().union(*(literal_codes(PACKAGE / module, "InvalidRequest", 0) for module in
                         ("deleter/deletion_request.py", "triggers/common.py", "deleter/deletion.py")))


def test_every_rejection_code_is_documented_with_its_status_alone_and_in_an_array():
    codes = rejection_codes()
    assert {"MissingParameter", "InvalidParameter", "UnknownParameter", "InvalidRequest", "InvalidJSON",
            "BatchTooLarge", "DomainNotAllowed", "IdempotencyKeyReused"} <= codes
    for code in codes:
        answer = single(Outcome(REJECTED, SOURCE, code=code, message="why"))
        assert answer["statusCode"] == http.REJECTION_STATUS.get(code, 400)
        assert_documented(answer)
        assert_documented(answer, "POST", "/tasks/{TaskNo}")
        if code not in ("InvalidJSON", "BatchTooLarge"):  # refused before the array is split
            assert_documented(batch(Outcome(REJECTED, SOURCE, code=code, message="why")))
    assert set(http.REJECTION_STATUS) <= codes


@pytest.mark.parametrize("code, status", sorted(http.FAILURE_STATUS.items()))
def test_every_failure_with_its_own_status_is_documented(code, status):
    answer = single(Outcome(FAILED, SOURCE, REQUEST, code=code, message="busy", failure=RETRYABLE))
    assert answer["statusCode"] == status and answer["headers"]["Retry-After"] == "1"
    assert_documented(answer)
    assert_documented(batch(Outcome(FAILED, SOURCE, REQUEST, code=code, message="busy", failure=RETRYABLE)))


@pytest.mark.parametrize("failure, status", [(RETRYABLE, 503), (PERMANENT, 502), (UNKNOWN, 504)])
def test_a_failure_of_the_cloud_is_documented_with_its_status(failure, status):
    for code in ("Throttling.User", "DomainNotExist", "InternalError", "StoreUnavailable", "UnexpectedError"):
        outcome = Outcome(FAILED, SOURCE, REQUEST, code=code, message="the service said", failure=failure)
        answer = single(outcome)
        assert answer["statusCode"] == status
        assert_documented(answer)
        assert_documented(batch(outcome))
    replayed = single(Outcome(FAILED, SOURCE, REQUEST, code="DomainNotExist", message="m", failure=PERMANENT,
                              replayed=True))
    assert replayed["headers"]["X-Idempotent-Replay"] == "true"
    assert_documented(replayed)


# --- the checks before a deletion (deleter/guard.py) ------------------------------------------------

def verdict(code: str, *, overridden: Optional[str] = None, error: Optional[str] = None) -> dict:
    """A verdict as the safety check makes one (safety.SafetyVerdict, every part filled)."""
    deleted = (safety.DsRow(**snake(ROW)),)
    works = error is None and code != safety.DISABLES
    remaining = () if code == safety.DISABLES else (
        safety.RowReport(**snake(OTHER_ROW), works_on=("ns1.dns.test (127.0.53.1)",) if works else (),
                         fails=() if works else ("ns1.dns.test (127.0.53.1): no RRSIG made by it",),
                         ignored_by=("all+rfc4509",)),)
    rows = (safety.RowCheck(**snake(ROW), works=True), safety.RowCheck(**snake(OTHER_ROW), works=None, reason="x"))
    states = tuple(safety.ValidatorState(validator.name, safety.SECURE, safety.BOGUS) for validator in safety.VALIDATORS)
    server = safety.ServerFinding("ns1.dns.test", "127.0.53.1", error, rows, states)
    made = safety.SafetyVerdict(code, code in (safety.SAFE, safety.FORCED), f"{code}: why", REQUEST.domain_name,
                                REQUEST.key_tag, deleted, remaining, (server,), overridden,
                                f"{overridden}: why" if overridden else None)
    return guard._verdict_json(made)


def snake(row: dict) -> dict:
    return {"key_tag": row["KeyTag"], "algorithm": row["Algorithm"], "digest_type": row["DigestType"],
            "digest": row["Digest"]}


def clearance(code: str, **options: Any) -> Clearance:
    said = {safety.SAFE: guard.PASSED, safety.FORCED: guard.FORCED, safety.UNAVAILABLE: guard.UNAVAILABLE,
            guard.NOT_CHECKED: guard.SKIPPED, guard.ALREADY_ABSENT: ""}.get(code, guard.REFUSED)
    allowed = code in (safety.SAFE, safety.FORCED, guard.NOT_CHECKED)
    if code == guard.ALREADY_ABSENT:
        return Clearance(code, False, "nothing to delete", "", (), (54321, 4242))
    if code == guard.NOT_CHECKED:
        return Clearance(code, True, "not checked", guard.SKIPPED)
    overridden = options.get("overridden")
    return Clearance(code, allowed, "why", said, (ROW,), verdict=verdict(code, overridden=overridden,
                                                                         error=options.get("error")))


CLEARANCE_CODES = [safety.SAFE, safety.FORCED, safety.BREAKS, safety.DISABLES, safety.UNAVAILABLE,
                   guard.ALREADY_ABSENT, guard.NOT_CHECKED]


def test_the_documented_verdicts_are_the_safety_checks():
    codes = {value for name, value in vars(safety).items() if name.isupper() and isinstance(value, str)
             and value.startswith(("Deletion", "SafetyCheck"))}
    assert set(SCHEMAS["SafetyCheckCode"]["enum"]) == codes
    assert set(SCHEMAS["RefusalCode"]["enum"]) == {safety.BREAKS, safety.DISABLES, safety.UNAVAILABLE}
    assert SCHEMAS["ValidatorName"]["enum"] == [validator.name for validator in safety.VALIDATORS]
    assert set(SCHEMAS["ValidationState"]["enum"]) == {safety.SECURE, safety.INSECURE, safety.BOGUS, safety.UNKNOWN}
    assert set(SCHEMAS["DryRunFields"]["properties"]["Code"]["enum"]) == set(CLEARANCE_CODES)
    assert set(SCHEMAS["CheckFields"]["properties"]["SafetyCheck"]["enum"]) == {
        guard.PASSED, guard.FORCED, guard.SKIPPED, guard.REFUSED, guard.UNAVAILABLE}


@pytest.mark.parametrize("code", CLEARANCE_CODES)
def test_a_dry_run_is_answered_200_as_documented(code):
    options = {"overridden": safety.BREAKS} if code == safety.FORCED else {}
    outcome = Outcome(DRY_RUN, SOURCE, REQUEST, code=code, message="what would happen", guard=clearance(code, **options))
    body = assert_documented(single(outcome))
    assert body["DryRun"] is True and body["WouldSubmit"] == outcome.guard.allowed
    assert_documented(batch(outcome))


def test_nothing_to_delete_is_answered_200_as_documented():
    absent = clearance(guard.ALREADY_ABSENT)
    outcome = Outcome(ALREADY_ABSENT, SOURCE, REQUEST, code=absent.code, message=absent.message, guard=absent)
    assert assert_documented(single(outcome))["ListedKeyTags"] == [54321, 4242]
    replayed = single(Outcome(ALREADY_ABSENT, SOURCE, REQUEST, code=absent.code, message=absent.message,
                              guard=absent, replayed=True))
    assert replayed["headers"]["X-Idempotent-Replay"] == "true"
    assert_documented(replayed)
    assert_documented(batch(outcome, Outcome(ALREADY_ABSENT, SOURCE, REQUEST, code=absent.code, message="m",
                                             guard=absent, replayed=True)))


@pytest.mark.parametrize("code", [safety.BREAKS, safety.DISABLES])
def test_a_refusal_of_the_safety_check_is_answered_409_as_documented(code):
    refused = clearance(code)
    outcome = Outcome(FAILED, SOURCE, REQUEST, code=code, message=refused.message, failure=PERMANENT, guard=refused)
    answer = single(outcome)
    assert answer["statusCode"] == 409 and "Retry-After" not in answer["headers"]
    assert assert_documented(answer)["Verdict"]["Code"] == code
    assert_documented(batch(outcome))


def test_a_safety_check_that_cannot_decide_is_answered_503_as_documented():
    open_verdict = clearance(safety.UNAVAILABLE, error="no answer (timed out)")
    outcome = Outcome(FAILED, SOURCE, REQUEST, code=safety.UNAVAILABLE, message=open_verdict.message,
                      failure=RETRYABLE, guard=open_verdict)
    answer = single(outcome)
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] == "1"
    assert assert_documented(answer)["Verdict"]["Servers"][0]["Error"] == "no answer (timed out)"
    assert_documented(batch(outcome))


# --- 202 in every form -----------------------------------------------------------------------------

SUBMITTED_FORMS = {
    "made": {"guard": clearance(safety.SAFE)},
    "forced": {"guard": clearance(safety.FORCED, overridden=safety.DISABLES)},
    "unchecked": {"guard": clearance(guard.NOT_CHECKED)},
    "joined": {"joined": True, "task_status": "EXECUTING"},
    "adopted": {"adopted": True, "task_status": "WAITING_EXECUTE", "guard": clearance(safety.SAFE)},
    "not published yet": {"notified": False},
    "not watched yet": {"notified": True, "watched": False},
    "replayed": {"notified": True, "replayed": True, "watched": True},
}


@pytest.mark.parametrize("form", SUBMITTED_FORMS)
def test_every_form_of_a_submitted_task_is_answered_202_as_documented(form):
    options = SUBMITTED_FORMS[form]
    api_request_id = "" if options.get("joined") or options.get("adopted") else "6240859F-4D66-44AD-A9DF-1E561422C00F"
    outcome = Outcome(SUBMITTED, SOURCE, REQUEST, task_no="e893148f-6343-4ae1-9eba-6e2a4116e142",
                      api_request_id=api_request_id, **options)
    answer = single(outcome)
    assert answer["statusCode"] == 202
    body = assert_documented(answer)
    assert_documented(answer, "POST", "/tasks/{TaskNo}")
    assert_documented(batch(outcome))
    if form == "forced":
        assert body["Forced"] is True and body["OverriddenVerdict"]["Code"] == safety.DISABLES
    if form == "replayed":
        assert answer["headers"]["X-Idempotent-Replay"] == "true"


def test_an_array_is_answered_207_with_every_kind_of_result_as_documented():
    outcomes = [Outcome(SUBMITTED, SOURCE, REQUEST, task_no="t-1", api_request_id="r", guard=clearance(safety.SAFE)),
                Outcome(REJECTED, SOURCE, code="MissingParameter", message="KeyTag is required"),
                Outcome(FAILED, SOURCE, REQUEST, code="DomainNotExist", message="m", failure=PERMANENT, replayed=True),
                Outcome(FAILED, SOURCE, REQUEST, code="ReadTimeout", message="m", failure=UNKNOWN),
                Outcome(FAILED, SOURCE, REQUEST, code=safety.BREAKS, message="m", failure=PERMANENT,
                        guard=clearance(safety.BREAKS))]
    answer = batch(*outcomes)
    assert answer["statusCode"] == 207
    assert [item["Status"] for item in assert_documented(answer)] == [202, 400, 502, 504, 409]


# --- GET /tasks/{TaskNo} ---------------------------------------------------------------------------

LOOKUP = TaskLookup("e893148f-6343-4ae1-9eba-6e2a4116e142", SOURCE)


@pytest.mark.parametrize("state, key_tag, listed", [
    (TaskState(LOOKUP.task_no, "example.net", "EXECUTE_FAILURE", 3, "2026-12-05 07:48:53", "2026-12-05 07:48:56",
               "2304 Object status prohibits operation", "registry", 6), 20326, True),
    (TaskState(LOOKUP.task_no, "example.net", "WAITING_EXECUTE", None, "", "", None, None, None), None, None),
])
def test_how_a_task_stands_is_answered_200_as_documented(state, key_tag, listed):
    answer = http.task_answer(TaskLookupOutcome(LOOKUP, state, key_tag, listed))
    assert answer["statusCode"] == 200
    assert assert_documented(answer, "GET", "/tasks/{TaskNo}")["KeyTag"] == key_tag


def test_a_task_lookup_that_fails_is_answered_as_documented():
    answers = {
        404: http.task_answer(TaskLookupOutcome(LOOKUP)),
        502: http.task_answer(TaskLookupOutcome(LOOKUP, error=PermanentError(
            "DomainNotExist", "m", service="Domain", action="QueryTaskDetailList"))),
        503: http.task_answer(TaskLookupOutcome(LOOKUP, error=RetryableError(
            "Throttling.User", "m", service="Domain", action="QueryTaskDetailList"))),
    }
    for status, answer in answers.items():
        assert answer["statusCode"] == status
        assert_documented(answer, "GET", "/tasks/{TaskNo}")
    assert json.loads(answers[404]["body"])["Code"] == "TaskNotFound"
    # An unknown outcome of a read is retryable (cloud/errors.classify): there is no 504 here.
    assert http.task_answer(TaskLookupOutcome(LOOKUP, error=OutcomeUnknownError(
        "ReadTimeout", "m", service="Domain", action="QueryTaskDetailList")))["statusCode"] == 503


def test_a_key_or_task_no_ending_in_a_newline_is_refused():
    """Found by the two tests above: the rules were checked with re.match, whose $ also matches
    before a final newline, so "key\\n" passed for 1 to 128 visible ASCII characters."""
    with pytest.raises(InvalidRequest) as refused:
        parse_deletion_request({"DomainName": "example.org", "KeyTag": 1, "IdempotencyKey": "rollover-1\n"})
    assert (refused.value.code, refused.value.field) == ("InvalidParameter", "IdempotencyKey")
    with pytest.raises(InvalidRequest) as refused:
        task_state.parse_task_no("e893148f-6343-4ae1-9eba-6e2a4116e142\n")
    assert refused.value.code == "InvalidTaskNo"
