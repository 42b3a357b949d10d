"""Shared fixtures. The emulator stands in for Alibaba Cloud in every test that needs it."""
from __future__ import annotations

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
    """The session's emulator, reset to its seed (no requests, faults or nonces remembered)."""
    reset = urllib.request.Request(f"{emulator_server.url}/__emulator__/reset", method="POST", data=b"")
    with urllib.request.urlopen(reset, timeout=10) as answer:
        assert answer.status == 200
    return emulator_server
