"""The operator's tool (`python -m local.cli`, `make cli`) against `make run`: its real local HTTP
trigger (signed with WEBHOOK_SECRET), the emulator's MNS, and the notifications the function
publishes. Every command runs in a subprocess, as an operator runs it; no output may hold a
secret or a traceback."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.test_make_targets import LineReader, clean_environment, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "an-operator-webhook-secret-0123456789abcdef"
INBOX = "ds-record-deleter-notifications-inbox"  # subscribed to the topic in make run's world, read by nobody
REQUEST_QUEUE = "ds-record-deleter-requests"
FAILING_TASK = "2304 Object status prohibits operation"  # the seed plans example.info's tasks to fail
PYTHONPATH = f"{ROOT / 'functions' / 'ds_record_deleter'}{os.pathsep}{ROOT}"


class World:
    """`make run` started once for the module, with a webhook secret."""

    def __init__(self, port: int, emulator_port: int, output: LineReader) -> None:
        self.webhook = f"http://127.0.0.1:{port}/"
        self.emulator = f"http://127.0.0.1:{emulator_port}"
        self.output = output
        banner = "".join(output.seen)
        # make run's name servers: a function instance of the test's own asks them too
        resolver = re.search(r"\(resolver (\S+):(\d+)\)", banner)
        self.dns = {"DNS_RESOLVER": f"{resolver.group(1)}:{resolver.group(2)}", "DNS_PORT": resolver.group(2)}
        view = requests.get(f"{self.emulator}/__emulator__/credentials", timeout=5).json()
        self.account_id, self.region = view["account_id"], view["region"]
        sts = next(entry for entry in view["credentials"] if entry.get("SecurityToken") and "Expired" not in
                   entry["AccessKeyId"])
        self.credentials = {"ALIBABA_CLOUD_ACCESS_KEY_ID": sts["AccessKeyId"],
                            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": sts["AccessKeySecret"],
                            "ALIBABA_CLOUD_SECURITY_TOKEN": sts["SecurityToken"]}

    def environment(self, **overrides: str) -> dict:
        """What an operator's shell holds: the secret, MNS's endpoint and credentials."""
        return clean_environment(**{"PYTHONPATH": PYTHONPATH, "WEBHOOK_SECRET": SECRET, "MNS_ENDPOINT": self.emulator,
                                    **self.credentials, **overrides})

    def secrets(self) -> list:
        return [SECRET, self.credentials["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                self.credentials["ALIBABA_CLOUD_SECURITY_TOKEN"]]

    def state(self) -> dict:
        return requests.get(f"{self.emulator}/__emulator__/state", timeout=5).json()

    def tasks(self, domain: str) -> list:
        return [task for task in self.state()["tasks"] if task["DomainName"] == domain]

    def faults(self, *rules: dict) -> None:
        requests.put(f"{self.emulator}/__emulator__/faults", json={"rules": list(rules)}, timeout=5).raise_for_status()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def make_run():
    port, emulator_port = free_port(), free_port()
    process = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=clean_environment(PORT=str(port), EMULATOR_PORT=str(emulator_port),
                                                                WEBHOOK_SECRET=SECRET,
                                                                # Each test resets the emulator, which then
                                                                # forgets tasks the function still remembers:
                                                                # a task made moments ago that the service does
                                                                # not list counts as going for the settle time.
                                                                RECONCILE_SETTLE_SECONDS="1"))
    try:
        output = LineReader(process)
        output.wait_for("Ready.", timeout=90)
        yield World(port, emulator_port, output)
    finally:
        stop(process)


@pytest.fixture
def world(make_run):
    """make run's world as it started: its emulator back to the seed (DS rows, tasks, queues),
    so that no test depends on what another deleted."""
    requests.post(f"{make_run.emulator}/__emulator__/reset", timeout=10).raise_for_status()
    return make_run


def cli(*args: str, env: dict, secrets: list = (), timeout: float = 120) -> subprocess.CompletedProcess:
    completed = subprocess.run([sys.executable, "-m", "local.cli", *args], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=timeout)
    shown = completed.stdout + completed.stderr
    assert "Traceback" not in shown, shown
    for secret in secrets:
        assert secret not in shown, f"a secret was printed:\n{shown}"
    return completed


def events(stdout: str) -> list:
    """The notifications `follow` printed, as (MessageTag, body)."""
    found = re.findall(r"^\[notification (\S+)\] (.*)$", stdout, re.MULTILINE)
    return [(tag, json.loads(body)) for tag, body in found]


def last_json(stdout: str) -> dict:
    """The answer send printed (pretty JSON, before any event line)."""
    return json.JSONDecoder().raw_decode(stdout)[0]


def test_a_signed_send_through_the_webhook_is_followed_to_completed(world):
    started = time.monotonic()
    sent = cli("send", "--webhook", world.webhook, "--domain", "example.net", "--key-tag", "31589",
               "--follow", "--inbox", INBOX, "--timeout", "60", env=world.environment(), secrets=world.secrets())
    assert sent.returncode == 0, sent.stdout + sent.stderr
    answer = last_json(sent.stdout)
    assert (answer["DomainName"], answer["KeyTag"], answer["SafetyCheck"]) == ("example.net", 31589, "passed")
    task_no = answer["TaskNo"]
    assert [task["TaskNo"] for task in world.tasks("example.net")] == [task_no]
    shown = events(sent.stdout)
    assert [(tag, body["Event"]) for tag, body in shown] == [("DSDelSubmitted", "DSRecordDeletionSubmitted"),
                                                             ("DSDelCompleted", "DSRecordDeletionCompleted")]
    assert {body["TaskNo"] for _, body in shown} == {task_no}
    assert sent.stderr.rstrip().endswith(f"follow: DSRecordDeletionCompleted: the DS record with key tag 31589 of "
                                         f"example.net is gone (TaskNo {task_no})")
    # The key it made up is printed, so that a retry can be the same request.
    key = re.search(r"IdempotencyKey (cli-[0-9a-f-]+)", sent.stderr).group(1)
    assert f"--idempotency-key {key}" in sent.stderr
    assert time.monotonic() - started < 30


def test_the_seeded_failing_domain_is_followed_to_failed_by_polling_and_by_the_inbox(world):
    env = world.environment()
    sent = cli("send", "--webhook", world.webhook, "--domain", "example.info", "--key-tag", "20326",
               env=env, secrets=world.secrets())
    assert sent.returncode == 0, sent.stderr
    task_no = last_json(sent.stdout)["TaskNo"]
    assert f"send: 202 accepted: TaskNo {task_no}" in sent.stderr

    polled = cli("follow", task_no, "--webhook", world.webhook, "--poll-seconds", "1", "--timeout", "60",
                 env=env, secrets=world.secrets())
    assert polled.returncode == 1, polled.stdout + polled.stderr
    states = [json.loads(body) for body in re.findall(r"^\[task \S+\] (.*)$", polled.stdout, re.MULTILINE)]
    assert states[-1]["TaskStatus"] == "EXECUTE_FAILURE" and FAILING_TASK in states[-1]["ErrorMsg"]
    assert polled.stderr.rstrip().splitlines()[-1].startswith(
        f"follow: task {task_no} failed at the registry (EXECUTE_FAILURE): The registry refused the deletion: "
        f"{FAILING_TASK}")

    read = cli("follow", task_no, "--inbox", INBOX, "--consume", "--timeout", "60", env=env, secrets=world.secrets())
    assert read.returncode == 1, read.stdout + read.stderr
    [(_, submitted), (tag, failed)] = events(read.stdout)
    assert submitted["Event"] == "DSRecordDeletionSubmitted" and tag == "DSDelFailed"
    assert (failed["Code"], failed["TaskNo"], failed["TryCount"]) == ("TaskFailed", task_no, 6)
    assert f"follow: DSRecordDeletionFailed (TaskFailed): The registry refused the deletion: {FAILING_TASK}" in read.stderr
    # --consume deleted what it showed: no message of that task is left in the inbox.
    [inbox] = [queue for queue in world.state()["queues"] if queue["QueueName"] == INBOX]
    assert not [message for message in inbox["Messages"] if task_no in message["MessageBody"]]


def test_a_dry_run_shows_the_verdict_of_a_refusal_and_deletes_nothing(world):
    env = world.environment()
    shown = cli("dry-run", "--webhook", world.webhook, "--domain", "example.org", "--key-tag", "12345",
                env=env, secrets=world.secrets())
    assert shown.returncode == 1, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "Dry run: deleting key tag 12345 of example.org would NOT be sent (nothing was deleted)."
    assert "  Code:          DeletionWouldBreakDNSSEC" in lines
    assert any(line.startswith("  Message:       Deleting the DS record with key tag 12345 of example.org would "
                               "make validating resolvers answer SERVFAIL") for line in lines)
    assert "  Would delete:  12345 algorithm 13, digest type 2 (SHA-256), 95200A8F…" in lines
    remaining = lines.index("  Would remain:")
    assert lines[remaining + 1] == "    54321 algorithm 13, digest type 2 (SHA-256), AB541A3C…: works on no server"
    why = "the DNSKEY with key tag 54321 does not sign the DNSKEY RRset (no RRSIG made by it)"
    assert lines[remaining + 2:remaining + 4] == [f"      fails on ns1.dns.test (127.0.53.1): {why}",
                                                  f"      fails on ns2.dns.test (127.0.53.2): {why}"]
    # send --dry-run: the answer as JSON, the Code on stderr, the same exit code.
    as_json = cli("send", "--dry-run", "--webhook", world.webhook, "--domain", "example.org", "--key-tag", "12345",
                  env=env, secrets=world.secrets())
    assert as_json.returncode == 1
    answer = json.loads(as_json.stdout)
    assert (answer["DryRun"], answer["WouldSubmit"], answer["Code"]) == (True, False, "DeletionWouldBreakDNSSEC")
    # (its last line: the same dry run signed in the same second as the one above is signed again)
    assert as_json.stderr.splitlines()[-1].startswith("send: 200 DeletionWouldBreakDNSSEC: Deleting the DS record")
    assert "IdempotencyKey" not in as_json.stderr  # a dry run claims no record: no key to reuse
    # A safe one would be sent (exit 0); none of them made a task.
    safe = cli("dry-run", "--webhook", world.webhook, "--domain", "example.net", "--key-tag", "34330", env=env)
    assert safe.returncode == 0 and "would be sent" in safe.stdout.splitlines()[0]
    assert world.tasks("example.org") == [] and world.tasks("example.net") == []


@pytest.fixture
def request_queue_trigger(world, tmp_path):
    """The request queue delivered to the function as its EventBridge trigger would, by a process
    of its own (make run delivers only the watch queue): another instance of the function, on
    make run's emulator and name servers."""
    log = (tmp_path / "queue-trigger.log").open("w")
    environ = clean_environment(PYTHONPATH=PYTHONPATH, DOMAIN_API_ENDPOINT=world.emulator, MNS_ENDPOINT=world.emulator,
                                FC_ACCOUNT_ID=world.account_id, FC_REGION=world.region,
                                WATCH_QUEUE="ds-record-deleter-watch", WATCH_FIRST_DELAY_SECONDS="2",
                                NOTIFY_TOPIC="ds-record-deleter-notifications", **world.dns, **world.credentials)
    process = subprocess.Popen([sys.executable, "-c", "from tests.e2e.test_cli import deliver_request_queue; "
                                "deliver_request_queue()"], cwd=ROOT, env=environ, stdout=log, stderr=log)
    try:
        yield tmp_path / "queue-trigger.log"
    finally:
        stop(process)
        log.close()


def deliver_request_queue() -> None:
    """Run in that process: each message of the request queue to the function, deleted when the
    invocation succeeded (local/queue_trigger.py), until SIGTERM."""
    import signal
    import threading
    from types import SimpleNamespace

    from local.queue_trigger import deliver_queue
    from local.runtime import LocalCloud, invoke

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Endpoints given: the function signs with ALIBABA_CLOUD_* (as on python3.12), the context has none.
    cloud = LocalCloud(os.environ["FC_ACCOUNT_ID"], os.environ["FC_REGION"], None)
    reader = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                                    access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                                    security_token=os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"]),
        emulator=SimpleNamespace(url=os.environ["MNS_ENDPOINT"]), account_id=cloud.account_id, region=cloud.region)
    deliver_queue(reader, REQUEST_QUEUE, lambda event: invoke(event, cloud), stop)


def test_a_send_onto_the_request_queue_is_followed_to_completed(world, request_queue_trigger):
    sent = cli("send", "--queue", REQUEST_QUEUE, "--domain", "xn--bcher-kva.com", "--key-tag", "47311",
               "--follow", "--inbox", INBOX, "--timeout", "60", env=world.environment(), secrets=world.secrets())
    assert sent.returncode == 0, sent.stdout + sent.stderr + request_queue_trigger.read_text()
    sent_message = last_json(sent.stdout)
    assert sent_message["Queue"] == REQUEST_QUEUE
    assert sent_message["Request"]["IdempotencyKey"].startswith("cli-")
    shown = events(sent.stdout)
    assert [body["Event"] for _, body in shown] == ["DSRecordDeletionSubmitted", "DSRecordDeletionCompleted"]
    submitted = shown[0][1]
    # Known by its message id until the Submitted notification named the task.
    assert submitted["Source"] == {"Trigger": "mns_queue", "Id": sent_message["MessageId"]}
    assert [task["TaskNo"] for task in world.tasks("xn--bcher-kva.com")] == [submitted["TaskNo"]]
    assert f"follow: the request's task is {submitted['TaskNo']}" in sent.stderr


def test_a_send_onto_the_queue_that_nobody_delivers_ends_with_the_timeout_and_says_why(world):
    sent = cli("send", "--queue", REQUEST_QUEUE, "--domain", "example.org", "--key-tag", "54321",
               "--follow", "--inbox", INBOX, "--timeout", "2", env=world.environment(), secrets=world.secrets())
    assert sent.returncode == 3, sent.stdout + sent.stderr
    assert "make run does not deliver it" in sent.stderr.splitlines()[-1]
    [queue] = [queue for queue in world.state()["queues"] if queue["QueueName"] == REQUEST_QUEUE]
    assert [json.loads(message["MessageBody"])["DomainName"] for message in queue["Messages"]] == ["example.org"]


def test_a_post_answered_503_is_sent_again_signed_anew_with_the_same_key(world):
    # A missing permission, once: the function answers 503 (try again) and makes no task.
    world.faults({"service": "domain", "action": "QueryDSRecord", "fault": "forbidden", "rate": 1, "times": 1})
    sent = cli("send", "--webhook", world.webhook, "--domain", "example.info", "--key-tag", "44383",
               "--idempotency-key", "operator-retry-1", env=world.environment(), secrets=world.secrets())
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert re.search(r"^webhook: 503 \S+: .*; sending it again in 1 s \(attempt 2 of 4\)$", sent.stderr, re.MULTILINE)
    # Had it sent the first signature again, the webhook would have refused it as a replay (401).
    assert [task["TaskNo"] for task in world.tasks("example.info")] == [last_json(sent.stdout)["TaskNo"]]
    assert "send: IdempotencyKey operator-retry-1\n" in sent.stderr


def test_a_post_that_timed_out_is_sent_again_and_answered_with_the_same_task(world):
    # The deletion call takes 4 s once: the first POST gives up after 3 s, the second (the same
    # key) is answered from the first one's record once make run's one instance is free again.
    world.faults({"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord", "fault": "latency",
                  "rate": 1, "times": 1, "latency_ms": 4000})
    sent = cli("send", "--webhook", world.webhook, "--domain", "example.info", "--key-tag", "44383",
               "--request-timeout", "3", env=world.environment(), secrets=world.secrets())
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert re.search(r"^webhook: ReadTimeout: .*; sending it again in 1 s \(attempt 2 of 4\)$", sent.stderr,
                     re.MULTILINE)
    answer = last_json(sent.stdout)
    assert [task["TaskNo"] for task in world.tasks("example.info")] == [answer["TaskNo"]]
    # The same key: answered from the first POST's record, not joined to its task as another request.
    assert "Joined" not in answer and answer["SafetyCheck"] == "passed"


def test_make_cli_runs_the_tool(world):
    completed = subprocess.run(["make", "-s", "cli", f"ARGS=dry-run --webhook {world.webhook} --domain example.com "
                                "--key-tag 2371 --allow-insecure"], cwd=ROOT, capture_output=True, text=True,
                               timeout=120, env=world.environment())
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[:2] == [
        "Dry run: deleting key tag 2371 of example.com would be sent (nothing was deleted).",
        "  Code:          DeletionSafe"]
    assert SECRET not in completed.stdout + completed.stderr


def test_wrong_secrets_are_told_in_one_line_and_never_printed(world):
    wrong_secret = "not-the-function-secret-0123456789abcdef"
    refused = cli("send", "--webhook", world.webhook, "--domain", "example.net", "--key-tag", "31589",
                  env=world.environment(WEBHOOK_SECRET=wrong_secret), secrets=[wrong_secret, SECRET])
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].startswith("python -m local.cli: the webhook refused the request as not "
                                                      "signed as it requires (401)")
    wrong_key = "EmulatorStsSecretThatIsWrong/+=01"
    denied = cli("follow", "--message-id", "x", "--inbox", INBOX, "--timeout", "5",
                 env=world.environment(ALIBABA_CLOUD_ACCESS_KEY_SECRET=wrong_key),
                 secrets=[wrong_key] + world.secrets())
    assert denied.returncode == 2
    assert denied.stderr.splitlines()[-1].startswith("python -m local.cli: MNS ReceiveMessage failed: "
                                                     "SignatureDoesNotMatch")
    assert world.tasks("example.net") == []


def test_bad_input_and_missing_settings_are_one_line_each():
    free = free_port()  # nothing listens there
    base = clean_environment(PYTHONPATH=PYTHONPATH)
    webhook = f"http://127.0.0.1:{free}/"
    cases = [
        (["send", "--webhook", webhook, "--domain", "example.net", "--key-tag", "31589"], {},
         "WEBHOOK_SECRET is not set: the webhook takes requests signed with the function's secret"),
        (["send", "--webhook", webhook, "--domain", "example.net", "--key-tag", "31589"],
         {"WEBHOOK_SECRET": "short-secret"}, "WEBHOOK_SECRET is shorter than 32 characters"),
        (["send", "--queue", REQUEST_QUEUE, "--domain", "example.net", "--key-tag", "31589"], {},
         "MNS_ENDPOINT is not set"),
        (["send", "--queue", REQUEST_QUEUE, "--domain", "example.net", "--key-tag", "31589"],
         {"MNS_ENDPOINT": "http://127.0.0.1:9"},
         "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set"),
        (["send", "--queue", REQUEST_QUEUE, "--domain", "example.net", "--key-tag", "31589"],
         {"MNS_ENDPOINT": f"http://127.0.0.1:{free}", "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIkey",
          "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "an-access-key-secret"},
         f"MNS SendMessage failed: ConnectionRefused: 127.0.0.1:{free} refused the connection"),
        (["send", "--webhook", webhook, "--unsigned", "--domain", "example.net", "--key-tag", "31589"], {},
         f"cannot reach the webhook: 127.0.0.1:{free} refused the connection"),
        (["send", "--webhook", webhook, "--domain", "example.net", "--key-tag", "70000"], {},
         "send: argument --key-tag: KeyTag must be an integer from 0 to 65535 (70000 is out of range)"),
        (["send", "--webhook", webhook, "--domain", "not a domain", "--key-tag", "1"], {"WEBHOOK_SECRET": SECRET},
         "the request is invalid: DomainName must be a registrable domain name"),
        (["send", "--queue", REQUEST_QUEUE, "--dry-run", "--domain", "example.net", "--key-tag", "1"], {},
         "--dry-run needs --webhook"),
        (["dry-run", "--domain", "example.net", "--key-tag", "1"], {},
         "dry-run: the following arguments are required: --webhook"),
        (["follow", "0c6f9a55-2f68-4bd6-8e1f-1e0b2f1c1d1a"], {}, "follow needs --inbox QUEUE"),
        (["follow", "../etc", "--webhook", webhook], {}, "TASKNO '../etc': TaskNo must be 1 to 64 letters"),
        (["follow", "--message-id", "M", "--webhook", webhook], {}, "--message-id needs --inbox"),
        (["send", "--webhook", webhook, "--inbox", INBOX, "--domain", "example.net", "--key-tag", "1"], {},
         "--inbox is read only with --follow"),
        (["follow", "T-1", "--webhook", webhook, "--consume"], {}, "--consume needs --inbox"),
    ]
    for argv, environ, says in cases:
        completed = cli(*argv, env={**base, **environ}, secrets=[SECRET, "an-access-key-secret", "short-secret"])
        assert completed.returncode == 2, (argv, completed.stderr)
        lines = [line for line in completed.stderr.splitlines() if not line.startswith("send: IdempotencyKey")]
        assert len(lines) == 1 and lines[0].startswith(f"python -m local.cli: {says}"), (argv, completed.stderr)
        assert completed.stdout == "", (argv, completed.stdout)
