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
    assert any("Started with WEBHOOK_SECRET" in line for line in output.seen)
    start = next(i for i, line in enumerate(output.seen) if "Delete a DS record" in line)
    snippet = "".join(output.seen[start + 1:start + 5])
    assert "X-Webhook-Signature" in snippet
    signed = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "WEBHOOK_SECRET": "a-local-webhook-secret-0123456789abcdef"})
    assert json.loads(signed.stdout)["DomainName"] == "example.net", signed.stdout + signed.stderr
    # Without the secret, the recipe stops with a message instead of sending an unsigned request.
    unset = subprocess.run(["bash", "-c", snippet], capture_output=True, text=True, timeout=30,
                           env={k: v for k, v in os.environ.items() if k != "WEBHOOK_SECRET"})
    assert unset.returncode != 0 and "set WEBHOOK_SECRET" in unset.stderr and unset.stdout == ""
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
    # What was published is shown on stderr, with its MessageTag (stdout stays the answer).
    [shown] = [line for line in completed.stderr.splitlines() if line.startswith("[notification DSDelSubmitted] ")]
    assert json.loads(shown.split("] ", 1)[1])["TaskNo"] == result["TaskNo"]


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


def test_make_run_refuses_to_start_with_a_webhook_secret_too_short():
    """It would answer every caller 500: it says why at once and does not start."""
    process = subprocess.run(["make", "-s", "run"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env=clean_environment(PORT=str(free_port()), EMULATOR_PORT=str(free_port()),
                                                   WEBHOOK_SECRET="too-short-a-secret"))
    assert process.returncode != 0
    assert "WEBHOOK_SECRET must be at least 32 characters" in process.stderr
    assert "too-short-a-secret" not in process.stdout + process.stderr


@pytest.mark.parametrize("environ, event, says", [
    ({"DOMAIN_API_ENDPOINT": "http://127.0.0.1:9"}, "tests/events/direct.json",
     "make invoke: DOMAIN_API_ENDPOINT is set but MNS_ENDPOINT is not"),
    ({"MNS_ENDPOINT": "http://127.0.0.1:9"}, "tests/events/direct.json",
     "make invoke: MNS_ENDPOINT is set but DOMAIN_API_ENDPOINT is not"),
    ({}, "tests/events/no-such-event.json", "make invoke: cannot read the event file tests/events/no-such-event.json"),
], ids=["domain-endpoint-only", "mns-endpoint-only", "missing-event-file"])
def test_make_invoke_refuses_what_it_cannot_do_in_one_line(environ, event, says):
    completed = subprocess.run(["make", "-s", "invoke", f"EVENT={event}"], cwd=ROOT, capture_output=True, text=True,
                               timeout=120, env=clean_environment(**environ))
    assert completed.returncode != 0 and completed.stdout == ""
    assert completed.stderr.startswith(says) and "Traceback" not in completed.stderr


def test_make_run_says_in_one_line_that_its_port_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(["make", "-s", "run"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                                   env=clean_environment(PORT=str(port), EMULATOR_PORT=str(free_port())))
    assert completed.returncode != 0 and "Traceback" not in completed.stderr
    assert f"port {port} on 127.0.0.1 is in use" in completed.stderr


def test_make_invoke_runs_one_check_of_a_watch_message():
    completed = subprocess.run(["make", "-s", "invoke", "EVENT=tests/events/mns_queue_watch.json"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, env=clean_environment())
    assert completed.returncode == 0, completed.stdout + completed.stderr
    [result] = json.loads(completed.stdout)["Results"]
    assert (result["Status"], result["Event"], result["TaskNo"]) == (
        "ENDED", "DSRecordDeletionTimedOut", "e893148f-6343-4ae1-9eba-6e2a4116e142")


def test_make_invoke_checks_a_task_on_the_endpoints_it_is_given(emulator, tmp_path):
    [task_no] = emulator.create_tasks("example.org", 12345, 1, outcome="failure", error_msg="2400 Command failed")
    event = json.loads((ROOT / "tests/events/mns_queue_watch.json").read_text())
    body = json.loads(event[0]["data"]["messageBody"])
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    body.update(TaskNo=task_no, DomainName="example.org", KeyTag=12345, WatchingSince=now, SubmittedAt=now)
    event[0]["data"]["messageBody"] = json.dumps(body)
    (tmp_path / "watch.json").write_text(json.dumps(event))
    key = emulator.access_key
    environ = clean_environment(DOMAIN_API_ENDPOINT=emulator.url, MNS_ENDPOINT=emulator.url,
                                ALIBABA_CLOUD_ACCESS_KEY_ID=key["AccessKeyId"],
                                ALIBABA_CLOUD_ACCESS_KEY_SECRET=key["AccessKeySecret"])
    completed = subprocess.run(["make", "-s", "invoke", f"EVENT={tmp_path / 'watch.json'}"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120, env=environ)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    [result] = json.loads(completed.stdout)["Results"]
    assert (result["Status"], result["Event"], result["TaskStatus"]) == (
        "ENDED", "DSRecordDeletionFailed", "EXECUTE_FAILURE")
    [topic] = [t for t in emulator.snapshot()["topics"] if t["TopicName"] == "ds-record-deleter-notifications"]
    [published] = topic["Published"]
    assert published["MessageTag"] == "DSDelFailed"
    assert json.loads(published["MessageBody"])["ErrorMsg"] == "2400 Command failed"


def test_make_run_shows_a_deletions_whole_life(make_run):
    """Submitted, then (its checks coming back through the watch queue) completed or failed,
    each notification printed with its MessageTag; and GET /tasks/<TaskNo> tells how it stands."""
    port, _, output = make_run
    output.wait_for("Ready.", timeout=60)
    assert any("example.info" in line for line in output.seen)  # the failing example is printed too
    done = requests.post(f"http://127.0.0.1:{port}/", json={"DomainName": "example.net", "KeyTag": 31589}, timeout=30)
    refused = requests.post(f"http://127.0.0.1:{port}/", json={"DomainName": "example.info", "KeyTag": 20326},
                            timeout=30)
    assert done.status_code == refused.status_code == 202
    output.wait_for("[notification DSDelSubmitted]", timeout=30)
    output.wait_for("[notification DSDelCompleted]", timeout=60)
    completed = output.wait_for('"TaskNo"', timeout=5)
    assert done.json()["TaskNo"] in completed
    output.wait_for("[notification DSDelFailed]", timeout=60)
    assert "2304 Object status prohibits operation" in output.wait_for('"ErrorMsg"', timeout=5)
    state = requests.get(f"http://127.0.0.1:{port}/tasks/{done.json()['TaskNo']}", timeout=30)
    assert state.status_code == 200
    assert (state.json()["TaskStatus"], state.json()["KeyTagListed"]) == ("EXECUTE_SUCCESS", False)
    assert requests.get(f"http://127.0.0.1:{port}/tasks/{refused.json()['TaskNo']}", timeout=30).json()[
        "TaskStatus"] == "EXECUTE_FAILURE"


@pytest.mark.parametrize("make_run", [{"WEBHOOK_SECRET": "a-local-webhook-secret-0123456789abcdef"}], indirect=True)
def test_make_run_prints_a_signed_task_query_that_works(make_run):
    port, _, output = make_run
    output.wait_for("Ready.", timeout=60)
    start = next(i for i, line in enumerate(output.seen) if "Delete a DS record" in line)
    secret = {**os.environ, "WEBHOOK_SECRET": "a-local-webhook-secret-0123456789abcdef"}
    created = subprocess.run(["bash", "-c", "".join(output.seen[start + 1:start + 5])], capture_output=True,
                             text=True, timeout=30, env=secret)
    task_no = json.loads(created.stdout)["TaskNo"]
    start = next(i for i, line in enumerate(output.seen) if "How a task stands" in line)
    asked = subprocess.run(["bash", "-c", "".join(output.seen[start + 1:start + 4])], capture_output=True,
                           text=True, timeout=30, env={**secret, "TASK_NO": task_no})
    assert json.loads(asked.stdout)["TaskNo"] == task_no, asked.stdout + asked.stderr
    assert requests.get(f"http://127.0.0.1:{port}/tasks/{task_no}", timeout=30).status_code == 401
