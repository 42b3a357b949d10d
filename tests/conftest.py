"""Shared fixtures. The emulator stands in for Alibaba Cloud in every test that needs it."""
from __future__ import annotations

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
    emulator_server.wait_idle()
    emulator_server.reset()
    return emulator_server
