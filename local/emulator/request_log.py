"""Every API call the emulator received, in order: enough to prove what a client did (or that
it made no cloud call at all), and never a secret or a token."""
from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Dict, List

from .http_types import CallRecord, Reply

MAX_ENTRIES = 100_000


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque = deque(maxlen=MAX_ENTRIES)
        self._seq = itertools.count(1)
        # Calls being served right now, and the most at once: proves a client's concurrency bound.
        self._in_flight: Dict[str, int] = {}
        self._peak: Dict[str, int] = {}

    def enter(self, service: str) -> None:
        with self._lock:
            current = self._in_flight[service] = self._in_flight.get(service, 0) + 1
            self._peak[service] = max(self._peak.get(service, 0), current)

    def leave(self, service: str) -> None:
        with self._lock:
            self._in_flight[service] -= 1

    def stats(self) -> Dict[str, Any]:
        with self._lock:
            return {"in_flight": dict(self._in_flight), "in_flight_peak": dict(self._peak)}

    def add(self, record: CallRecord, reply: Reply) -> None:
        now = time.time()
        error_fault = next((name for name in record.faults if not name.startswith("latency")), None)
        entry = {
            "time": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "time_ms": int(now * 1000),
            "service": record.service,
            "action": record.action,
            "status": None if reply.dropped else reply.status,
            "code": reply.code,
            "access_key_id": record.access_key_id,
            "fault": error_fault or (record.faults[0] if record.faults else None),
            "faults": list(record.faults),
        }
        with self._lock:
            entry["seq"] = next(self._seq)
            self._entries.append(entry)

    def entries(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._peak = dict(self._in_flight)
