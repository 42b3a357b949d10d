"""`python -m local.emulator` (what `make emulator` runs) as a new user meets it: flags, the
export lines it prints and `make invoke` accepting them, stopping on SIGINT or SIGTERM even
when SIGINT was ignored at start, and a port already in use."""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from local.emulator.__main__ import fault_config, parse_args

REPO = Path(__file__).resolve().parents[2]
LAST_BANNER_LINE = "# every accepted key:"


def test_fault_flags_and_file_are_parsed(tmp_path):
    rules_file = tmp_path / "faults.json"
    rules_file.write_text(json.dumps({"seed": 7, "rules": [{"service": "mns", "action": "*", "fault": "unavailable"}]}))
    args = parse_args(["--faults", str(rules_file), "--task-delays", "0.5,1.5",
                       "--fault", "domain:SaveSingleTaskForDeletingDSRecord:throttling:0.2",
                       "--fault", "mns:PublishMessage:latency:1:latency_ms=50:times=3",
                       "--fault", "domain:SaveSingleTaskForDeletingDSRecord:gateway_page:1:status=504:process_after_ms=300",
                       "--fault", "domain:SaveSingleTaskForDeletingDSRecord:task_failure:0.5:error_msg=Registry said no"])
    config = fault_config(args)
    assert config["seed"] == 7 and args.task_delays == (0.5, 1.5)
    assert [(r["service"], r["action"], r["fault"]) for r in config["rules"]] == [
        ("mns", "*", "unavailable"),
        ("domain", "SaveSingleTaskForDeletingDSRecord", "throttling"),
        ("mns", "PublishMessage", "latency"),
        ("domain", "SaveSingleTaskForDeletingDSRecord", "gateway_page"),
        ("domain", "SaveSingleTaskForDeletingDSRecord", "task_failure"),
    ]
    assert (config["rules"][1]["rate"], config["rules"][2]["latency_ms"], config["rules"][2]["times"]) == (0.2, 50, 3)
    assert (config["rules"][3]["process_after_ms"], config["rules"][4]["error_msg"]) == (300, "Registry said no")


@pytest.mark.parametrize("spec", ["domain:*:throttling", "domain:*:explode:1", "domain:*:throttling:1.5",
                                  "domain:*:latency:1:latency_ms", "domain:*:unavailable:1:process_after_ms=5",
                                  "mns:*:task_stuck:1"])
def test_a_bad_fault_flag_stops_the_command(spec, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--fault", spec])


# --- the command, run as a person runs it ------------------------------------------------------

class Command:
    """The emulator command in a process of its own, its output read on threads."""

    def __init__(self, args, ignore_sigint: bool) -> None:
        # From the repository as a person would, without the Makefile's PYTHONPATH.
        env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.emulator", *args], cwd=REPO, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            # What a non-interactive shell does to a job it starts with &.
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
        )
        self.stdout: "queue.Queue[str]" = queue.Queue()
        self.stderr: list = []
        self._readers = [threading.Thread(target=lambda: [self.stdout.put(line) for line in self.process.stdout]),
                         threading.Thread(target=lambda: self.stderr.extend(self.process.stderr))]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    def banner(self, timeout: float = 30) -> str:
        lines, deadline = [], time.monotonic() + timeout
        while not lines or not lines[-1].startswith(LAST_BANNER_LINE):
            try:
                lines.append(self.stdout.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no banner; stdout {lines}, stderr {self.stderr}") from None
        return "".join(lines)

    def ended(self, timeout: float = 30) -> tuple:
        """Once the process has ended by itself: its exit code, stdout lines and stderr lines."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code, list(self.stdout.queue), self.stderr

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def command():
    """Starts the command; whatever a test does, every process it started is ended."""
    started = []

    def start(*args: str, ignore_sigint: bool = False) -> Command:
        started.append(Command(args, ignore_sigint))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def exported(banner: str) -> dict:
    """The variables the banner sets, as a shell sees them after running it."""
    shell = subprocess.run(["bash", "-c", banner + "\nenv -0"], capture_output=True, text=True, timeout=10,
                           env={"PATH": os.environ["PATH"]})
    assert shell.returncode == 0 and shell.stderr == "", shell.stderr
    return dict(item.split("=", 1) for item in shell.stdout.split("\0") if "=" in item)


def test_the_command_prints_export_lines_for_its_sts_triple_and_endpoints(command):
    banner = command("--port", "0", "--task-delays", "0,0", "--fault", "domain:QueryDSRecord:unavailable:1").banner()
    assert all(line.startswith(("export ", "# ")) for line in banner.splitlines()), banner
    env = exported(banner)
    url = env["DOMAIN_API_ENDPOINT"]
    assert url.startswith("http://127.0.0.1:") and env["MNS_ENDPOINT"] == url
    accepted = requests.get(f"{url}/__emulator__/credentials", timeout=5).json()
    sts = next(c for c in accepted["credentials"] if c["AccessKeyId"] == env["ALIBABA_CLOUD_ACCESS_KEY_ID"])
    assert (sts["AccessKeySecret"], sts["SecurityToken"], sts["Expiration"] > "2030") == (
        env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], env["ALIBABA_CLOUD_SECURITY_TOKEN"], True)
    assert (env["FC_ACCOUNT_ID"], env["FC_REGION"]) == (accepted["account_id"], accepted["region"])
    rules = requests.get(f"{url}/__emulator__/faults", timeout=5).json()["rules"]
    assert [(r["action"], r["fault"], r["rate"]) for r in rules] == [("QueryDSRecord", "unavailable", 1.0)]


def test_make_invoke_in_another_shell_accepts_the_export_lines_as_they_are(command):
    banner = command("--port", "0", "--task-delays", "0,0").banner()
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith(("DOMAIN_API_", "MNS_", "NOTIFY_", "ALIBABA_CLOUD_", "FC_", "MAKE", "MFLAGS"))}
    invoked = subprocess.run(["bash", "-c", banner + "\nmake -s invoke EVENT=tests/events/direct.json"], cwd=REPO,
                             capture_output=True, text=True, timeout=120, env=environ)
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    [result] = json.loads(invoked.stdout)["Results"]
    assert result["Status"] == "SUBMITTED"
    env = exported(banner)
    state = requests.get(f"{env['DOMAIN_API_ENDPOINT']}/__emulator__/state", timeout=5).json()
    assert [task["TaskNo"] for task in state["tasks"]] == [result["TaskNo"]]
    calls = requests.get(f"{env['DOMAIN_API_ENDPOINT']}/__emulator__/requests", timeout=5).json()
    assert {call["access_key_id"] for call in calls} == {env["ALIBABA_CLOUD_ACCESS_KEY_ID"]}


@pytest.mark.parametrize("signum, ignore_sigint", [(signal.SIGINT, False), (signal.SIGINT, True),
                                                   (signal.SIGTERM, False)],
                         ids=["sigint", "sigint-ignored-at-start", "sigterm"])
def test_the_command_stops_cleanly_on_a_signal(command, signum, ignore_sigint):
    emulator = command("--port", "0", ignore_sigint=ignore_sigint)
    url = exported(emulator.banner())["DOMAIN_API_ENDPOINT"]
    emulator.process.send_signal(signum)
    assert emulator.process.wait(10) == 0  # a default SIGTERM would be -15; an ignored SIGINT, no exit at all
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/__emulator__/state", timeout=5)


def test_a_port_in_use_is_one_clear_line_and_a_failed_exit(command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, stdout, stderr = command("--port", str(port)).ended()
    assert code != 0
    assert stdout == []  # no export lines for an emulator that is not there
    [line] = stderr
    assert str(port) in line and "in use" in line
