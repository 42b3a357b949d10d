"""The webhook's OpenAPI document against the real local HTTP trigger (`make run`: real HTTP on
127.0.0.1, FC HTTP trigger events, the function on the embedded emulator, and the signed zones of
the seeded domains, so the DNSSEC safety check answers for real).

schemathesis (its CLI, with tests/e2e/schemathesis.toml and openapi_hooks.py) runs every phase
(the document's examples, coverage, fuzzing, stateful: a 202's TaskNo followed to GET
/tasks/{TaskNo}) with a fixed seed and number of examples, and every check: each answer's status
is documented, its Content-Type, headers and body match the document, no server error but the
documented 502 of the emulator's DomainNotExist, valid requests accepted, invalid ones refused,
undocumented methods answered 405 with Allow. Once signed, as deployed (WEBHOOK_SECRET set: every
request signed over the exact bytes sent, and unsigned ones must get 401), once without a secret.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "functions" / "ds_record_deleter" / "triggers" / "openapi.yaml"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261205"
SECRET = "openapi-test-secret-0123456789abcdef"  # WEBHOOK_SECRET wants at least 32 characters
RUN_TIMEOUT_SECONDS = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**settings: str) -> dict:
    """A clean environment: nothing of the developer's cloud or function settings leaks in."""
    kept = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    return {**kept, "PYTHONPATH": f"{ROOT / 'functions' / 'ds_record_deleter'}{os.pathsep}{ROOT}", **settings}


class LocalTrigger:
    """`make run`'s server (python -m local.http_trigger) on free ports, its output in a file."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.log = tmp_path / f"make-run-{self.port}.log"
        # MAX_REQUESTS_PER_SECOND=0: schemathesis sends hundreds of requests; the client-side
        # limit of Domain API calls (20/s) would only make the run slower.
        env = environment(PORT=str(self.port), EMULATOR_PORT=str(free_port()), MAX_REQUESTS_PER_SECOND="0",
                          **settings)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "local.http_trigger"], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "Ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"make run did not start:\n{self.output()}")
            time.sleep(0.1)
        self.url = f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def local_trigger(tmp_path):
    started = []

    def start(**settings: str) -> LocalTrigger:
        trigger = LocalTrigger(tmp_path, **settings)
        started.append(trigger)
        return trigger

    yield start
    for trigger in started:
        trigger.stop()


def schemathesis(document: Path, url: str, *options: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", str(document),
               "--url", url, "--seed", SEED, *options]
    return subprocess.run(command, cwd=ROOT, env=environment(**env), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_SECONDS)


def assert_passed(run: subprocess.CompletedProcess, trigger: LocalTrigger) -> None:
    assert run.returncode == 0, (f"schemathesis found answers that break the document:\n{run.stdout}\n{run.stderr}"
                                 f"\n--- make run's output (last 4000 characters):\n{trigger.output()[-4000:]}")
    # Every operation ran, in every phase.
    assert "3 selected / 3 total" in run.stdout, run.stdout
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in run.stdout, run.stdout


def signature(timestamp: str, body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def test_every_answer_of_the_signed_webhook_matches_the_document(local_trigger):
    trigger = local_trigger(WEBHOOK_SECRET=SECRET)
    run = schemathesis(DOCUMENT, trigger.url, WEBHOOK_SECRET=SECRET)
    assert_passed(run, trigger)
    # The runs were signed (ignored_auth, among the checks, also sent them unsigned: 401).
    assert "[http]" in trigger.output() and '" 401 -' in trigger.output()


def test_every_answer_without_a_webhook_secret_matches_the_document(local_trigger, tmp_path):
    """Without WEBHOOK_SECRET no signature is asked for: the document less its security
    requirement is what the function promises then."""
    document = yaml.safe_load(DOCUMENT.read_text())
    document.pop("security")
    unsigned = tmp_path / "openapi-unsigned.yaml"
    unsigned.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    trigger = local_trigger()
    run = schemathesis(unsigned, trigger.url, "--exclude-checks", "ignored_auth")
    assert_passed(run, trigger)


# --- answers made on purpose, checked against the document -----------------------------------------

def assert_documented(response: requests.Response, method: str, path: str, **path_parameters: str) -> dict:
    """A real answer conforms to the document, as schemathesis checks one (status, Content-Type,
    headers, body)."""
    import schemathesis
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                                   response_schema_conformance, status_code_conformance)

    operation = schemathesis.openapi.from_path(str(DOCUMENT))[path][method]
    case = operation.Case(path_parameters=path_parameters, **({"body": {}} if method == "POST" else {}))
    try:
        case.validate_response(response, checks=[status_code_conformance, content_type_conformance,
                                                 response_headers_conformance, response_schema_conformance])
    except FailureGroup as failures:
        raise AssertionError(f"{method} {path}: {response.status_code} {response.text}\n{failures}") from None
    return response.json()


def test_unsigned_or_badly_signed_requests_get_the_documented_401(local_trigger):
    trigger = local_trigger(WEBHOOK_SECRET=SECRET)
    body = json.dumps({"DomainName": "example.net", "KeyTag": 1}).encode()
    now = str(int(time.time()))
    stale = str(int(time.time()) - 301)
    attempts = {
        "unsigned": {},
        "no signature": {"X-Webhook-Timestamp": now},
        "no timestamp": {"X-Webhook-Signature": signature(now, body)},
        "wrong secret": {"X-Webhook-Timestamp": now, "X-Webhook-Signature": signature(now, body, "x" * 32)},
        "another body": {"X-Webhook-Timestamp": now, "X-Webhook-Signature": signature(now, b"{}")},
        "stale": {"X-Webhook-Timestamp": stale, "X-Webhook-Signature": signature(stale, body)},
        "malformed timestamp": {"X-Webhook-Timestamp": f"{now}.5", "X-Webhook-Signature": signature(f"{now}.5", body)},
    }
    for why, headers in attempts.items():
        answer = requests.post(trigger.url + "/", data=body, headers=headers, timeout=30)
        assert answer.status_code == 401, why
        assert assert_documented(answer, "POST", "/") == {
            "Code": "Unauthorized", "Message": "The request is not signed as this webhook requires"}
        answer = requests.get(trigger.url + "/tasks/e893148f", headers=headers, timeout=30)
        assert answer.status_code == 401, why
        assert_documented(answer, "GET", "/tasks/{TaskNo}", TaskNo="e893148f")
    # Signed as documented, it is answered (nothing to delete: 200); the same signature again is a replay.
    signed = {"X-Webhook-Timestamp": now, "X-Webhook-Signature": signature(now, body)}
    first = requests.post(trigger.url + "/", data=body, headers=signed, timeout=30)
    assert first.status_code == 200 and assert_documented(first, "POST", "/")["Code"] == "DSRecordAlreadyAbsent"
    replay = requests.post(trigger.url + "/", data=body, headers=signed, timeout=30)
    assert replay.status_code == 401 and assert_documented(replay, "POST", "/")["Code"] == "Unauthorized"
    get_signed = {"X-Webhook-Timestamp": now, "X-Webhook-Signature": signature(now, b"")}
    answer = requests.get(trigger.url + "/tasks/e893148f", headers=get_signed, timeout=30)
    assert answer.status_code == 404 and assert_documented(answer, "GET", "/tasks/{TaskNo}", TaskNo="e893148f")


# The document's request examples, in this order on a fresh `make run`, and what each is answered.
EXAMPLES = [("dryRun", 200, "DeletionWouldBreakDNSSEC"), ("breaks", 409, "DeletionWouldBreakDNSSEC"),
            ("disables", 409, "DeletionWouldDisableDNSSEC"), ("alreadyAbsent", 200, "DSRecordAlreadyAbsent"),
            ("safe", 202, None), ("array", 207, None), ("insecureOnPurpose", 202, None), ("everyField", 202, None),
            ("forced", 202, None)]


def test_the_documents_examples_get_the_answers_it_says(local_trigger):
    """With the DNSSEC safety check asking `make run`'s signed zones: each documented end of a
    request, made on purpose and checked against the document."""
    examples = yaml.safe_load(DOCUMENT.read_text())["components"]["requestBodies"]["Deletion"]["content"][
        "application/json"]["examples"]
    assert sorted(examples) == sorted(name for name, *_ in EXAMPLES)
    trigger = local_trigger()
    assert "Signed zones of" in trigger.output(), trigger.output()  # not SAFETY_CHECK=off
    answers = {}
    for name, status, code in EXAMPLES:
        answer = requests.post(trigger.url + "/", json=examples[name]["value"], timeout=60)
        assert answer.status_code == status, (name, answer.text)
        body = answers[name] = assert_documented(answer, "POST", "/")
        if code:
            assert body["Code"] == code, name
    assert answers["dryRun"]["DryRun"] is True and answers["dryRun"]["WouldSubmit"] is False
    assert [item["Status"] for item in answers["array"]] == [202, 409]
    assert answers["safe"]["SafetyCheck"] == "passed" and answers["insecureOnPurpose"]["SafetyCheck"] == "passed"
    assert answers["forced"]["Forced"] is True and answers["forced"]["SafetyCheck"] == "forced"
    # The 202's TaskNo, asked after (the document's link from a 202 to GET /tasks/{TaskNo}).
    task_no = answers["safe"]["TaskNo"]
    answer = requests.get(f"{trigger.url}/tasks/{task_no}", timeout=30)
    assert answer.status_code == 200
    body = assert_documented(answer, "GET", "/tasks/{TaskNo}", TaskNo=task_no)
    assert (body["TaskNo"], body["DomainName"], body["KeyTag"]) == (task_no, "example.net", 31589)
    for method in ("PUT", "DELETE", "PATCH"):
        answer = requests.request(method, f"{trigger.url}/tasks/{task_no}", timeout=30)
        assert answer.status_code == 405 and answer.headers["Allow"] == "GET, POST"
        assert_documented(answer, "GET", "/tasks/{TaskNo}", TaskNo=task_no)
        answer = requests.request(method, f"{trigger.url}/", timeout=30)
        assert answer.status_code == 405 and answer.headers["Allow"] == "POST"
        assert_documented(answer, "POST", "/")
