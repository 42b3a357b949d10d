"""What a new user runs: `make run` (a real HTTP POST deletes a DS record) and `make invoke`."""
from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(**overrides: str) -> dict:
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("DOMAIN_API_", "MNS_", "NOTIFY_", "ALIBABA_CLOUD_", "MAKE", "MFLAGS"))}
    return {**environ, **overrides}


class LineReader:
    """Collects a process's stdout lines on a thread, so waiting for one never blocks forever."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never appeared; output so far:\n{''.join(self.seen)}")


@pytest.fixture
def make_run(request):
    port, emulator_port = free_port(), free_port()
    extra = getattr(request, "param", {})
    process = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=clean_environment(PORT=str(port), EMULATOR_PORT=str(emulator_port),
                                                                **extra))
    reader = LineReader(process)
    try:
        yield port, emulator_port, reader
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_make_run_deletes_a_ds_record_with_a_real_http_post(make_run):
    port, emulator_port, output = make_run
    output.wait_for("Ready.", timeout=60)
    curl = next(line for line in output.seen if "curl" in line)
    assert f"http://127.0.0.1:{port}/" in curl and '"DomainName": "example.net"' in curl

    answer = requests.post(f"http://127.0.0.1:{port}/", json={"DomainName": "example.net", "KeyTag": 31589},
                           timeout=30)
    assert answer.status_code == 202
    task_no = answer.json()["TaskNo"]
    state = requests.get(f"http://127.0.0.1:{emulator_port}/__emulator__/state", timeout=5).json()
    assert [task["TaskNo"] for task in state["tasks"]] == [task_no]
    output.wait_for(task_no, timeout=30)  # the notification is printed as it arrives

    refused = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
    assert refused.status_code == 405 and refused.json()["Code"] == "MethodNotAllowed"


def test_make_run_serves_signed_zones_and_prints_a_deletion_the_safety_check_refuses(make_run):
    port, _, output = make_run
    output.wait_for("Ready.", timeout=60)
    start = next(i for i, line in enumerate(output.seen) if "safety check refuses" in line)
    refused_curl = output.seen[start + 1]
    assert '"DomainName": "example.org", "KeyTag": 12345' in refused_curl
    refused = subprocess.run(["bash", "-c", refused_curl], capture_output=True, text=True, timeout=30)
    body = json.loads(refused.stdout)
    assert (body["Code"], body["SafetyCheck"]) == ("DeletionWouldBreakDNSSEC", "refused")
    assert "127.0.53.1" in body["Message"] and body["Verdict"]["Remaining"][0]["KeyTag"] == 54321
    safe = requests.post(f"http://127.0.0.1:{port}/", json={"DomainName": "example.net", "KeyTag": 31589}, timeout=30)
    assert safe.status_code == 202 and safe.json()["SafetyCheck"] == "passed"  # checked against the zones


@pytest.mark.parametrize("make_run", [{"WEBHOOK_SECRET": "a-local-webhook-secret-0123456789abcdef"}], indirect=True)
def test_make_run_with_a_webhook_secret_prints_a_signed_request_that_works(make_run):
    port, _, output = make_run
    output.wait_for("Ready.", timeout=60)
    start = next(i for i, line in enumerate(output.seen) if "Delete a DS record" in line)
    snippet = "".join(output.seen[start + 1:start + 4])
    assert "X-Webhook-Signature" in snippet
    signed = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "WEBHOOK_SECRET": "a-local-webhook-secret-0123456789abcdef"})
    assert json.loads(signed.stdout)["DomainName"] == "example.net", signed.stdout + signed.stderr
    unsigned = requests.post(f"http://127.0.0.1:{port}/", json={"DomainName": "example.org", "KeyTag": 12345},
                             timeout=30)
    assert unsigned.status_code == 401


@pytest.mark.parametrize("make_run", [{"NOTIFY_TOPIC": "my-team-ds-deletions"}], indirect=True)
def test_make_run_with_its_own_notify_topic_prints_the_notifications(make_run):
    port, emulator_port, output = make_run
    output.wait_for("Ready.", timeout=60)
    answer = requests.post(f"http://127.0.0.1:{port}/", json={"DomainName": "example.net", "KeyTag": 31589},
                           timeout=30)
    assert answer.status_code == 202
    output.wait_for(answer.json()["TaskNo"], timeout=30)  # published to that topic, read from its queue
    state = requests.get(f"http://127.0.0.1:{emulator_port}/__emulator__/state", timeout=5).json()
    [topic] = [topic for topic in state["topics"] if topic["TopicName"] == "my-team-ds-deletions"]
    assert len(topic["Published"]) == 1


def test_make_invoke_with_its_own_notify_topic_publishes_to_it():
    completed = subprocess.run(["make", "-s", "invoke", "EVENT=tests/events/direct.json"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120,
                               env=clean_environment(NOTIFY_TOPIC="my-team-ds-deletions"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    [result] = json.loads(completed.stdout)["Results"]
    assert (result["Status"], result["Notified"]) == ("SUBMITTED", True)


def test_make_invoke_prints_only_the_answer_as_json():
    completed = subprocess.run(["make", "-s", "invoke", "EVENT=tests/events/timer.json"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, env=clean_environment())
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)  # stdout is the JSON answer and nothing else
    assert [result["Status"] for result in answer["Results"]] == ["SUBMITTED", "SUBMITTED"]
    assert '"level":"INFO"' in completed.stderr  # the logs went to stderr


def test_make_invoke_talks_to_the_endpoints_it_is_given(emulator):
    key = emulator.access_key  # a plain AccessKey pair, read from the environment as on python3.12
    environ = clean_environment(DOMAIN_API_ENDPOINT=emulator.url, MNS_ENDPOINT=emulator.url,
                                ALIBABA_CLOUD_ACCESS_KEY_ID=key["AccessKeyId"],
                                ALIBABA_CLOUD_ACCESS_KEY_SECRET=key["AccessKeySecret"],
                                SAFETY_CHECK="off")  # no name server serves the emulator's domains
    completed = subprocess.run(["make", "-s", "invoke", "EVENT=tests/events/direct.json"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, env=environ)
    assert completed.returncode == 0, completed.stderr
    [result] = json.loads(completed.stdout)["Results"]
    assert [task["TaskNo"] for task in emulator.snapshot()["tasks"]] == [result["TaskNo"]]
    assert {entry["access_key_id"] for entry in emulator.request_log()} == {key["AccessKeyId"]}
