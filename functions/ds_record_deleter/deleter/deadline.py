"""The invocation's deadline. FC has no remaining-time method: the deadline is the start plus
the function's timeout, less a margin kept for publishing and answering."""
from __future__ import annotations

import time
from typing import Any, Callable

POLL_SECONDS = 0.025  # how often a lock or a record held by another request is tried again
DEFAULT_TIMEOUT_SECONDS = 60.0  # FC's default when a context names none (local runs)


class Deadline:
    def __init__(self, start: float, timeout_seconds: float, margin_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.hard_end = start + timeout_seconds          # FC stops the invocation here
        self.end = self.hard_end - min(margin_seconds, timeout_seconds / 2)  # we stop working here
        self._clock = clock

    @classmethod
    def for_invocation(cls, context: Any, margin_seconds: float,
                       clock: Callable[[], float] = time.monotonic) -> "Deadline":
        function = getattr(context, "function", None)
        timeout = float(getattr(function, "timeout", 0) or DEFAULT_TIMEOUT_SECONDS)
        return cls(clock(), timeout, margin_seconds, clock)

    def remaining(self) -> float:
        """Seconds left to work; never negative."""
        return max(0.0, self.end - self._clock())

    def hard_remaining(self) -> float:
        return max(0.0, self.hard_end - self._clock())

    def lease_ms(self) -> int:
        """Leases last until the invocation's hard end: after it, this process cannot be working."""
        return max(1, int(self.hard_remaining() * 1000))

    def poll(self, attempt: Callable[[], bool], sleep: Callable[[float], None]) -> bool:
        """attempt() every POLL_SECONDS until it is true; False when the deadline comes first."""
        while not attempt():
            if self.remaining() <= POLL_SECONDS:
                return False
            sleep(POLL_SECONDS)
        return True
