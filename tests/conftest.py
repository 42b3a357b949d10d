"""Shared fixtures. The emulator stands in for Alibaba Cloud in every test that needs it."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest

from local.emulator import Emulator


@pytest.fixture(scope="session")
def emulator_server():
    """One in-process emulator for the session; tasks finish on the next read."""
    with Emulator(port=0, task_delays=(0, 0)) as server:
        yield server


@pytest.fixture
def emulator(emulator_server):
    """The session's emulator, reset to its seed (no requests, faults or nonces remembered).
    Calls still in flight from an earlier test (one its client gave up on) finish first, so
    that none of them lands in this test's state or request log."""
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        with urllib.request.urlopen(f"{emulator_server.url}/__emulator__/stats", timeout=10) as answer:
            if not any(json.load(answer)["in_flight"].values()):
                break
        time.sleep(0.05)
    reset = urllib.request.Request(f"{emulator_server.url}/__emulator__/reset", method="POST", data=b"")
    with urllib.request.urlopen(reset, timeout=10) as answer:
        assert answer.status == 200
    return emulator_server
