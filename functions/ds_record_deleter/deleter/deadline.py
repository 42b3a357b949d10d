"""The invocation's deadline. FC has no remaining-time method: the deadline is the start plus
the function's timeout.

    start ........ end (work stops) ........ publish end ... hard end (FC stops the invocation)
                   |<---------- DEADLINE_MARGIN_SECONDS ------------->|
                                              |<- ANSWER_RESERVE ->|

Work (Domain API calls, waits) stops at `end`; the margin after it is publishing's own, so a
TaskNo obtained at the last moment can still be published; the last ANSWER_RESERVE_SECONDS
return the answer. A timeout that leaves no room for both is a configuration error, not a
silent shortening."""
from __future__ import annotations

import time
from typing import Any, Callable

from .settings import ConfigurationError

POLL_SECONDS = 0.025  # how often a lock or a record held by another request is tried again
DEFAULT_TIMEOUT_SECONDS = 60.0  # FC's default when a context names none (local runs)
ANSWER_RESERVE_SECONDS = 0.2  # kept after publishing, to hand the answer back
MIN_WORK_SECONDS = 0.5  # the least time before the margin that a request can be worked in


class Deadline:
    def __init__(self, start: float, timeout_seconds: float, margin_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if timeout_seconds - margin_seconds < MIN_WORK_SECONDS:
            raise ConfigurationError(
                f"DEADLINE_MARGIN_SECONDS ({margin_seconds:g}) leaves no time to work within the function's timeout "
                f"of {timeout_seconds:g} s: the margin is kept for publishing, so the timeout must exceed it by at "
                f"least {MIN_WORK_SECONDS:g} s (raise the function's timeout or lower the margin)")
        self.hard_end = start + timeout_seconds          # FC stops the invocation here
        self.publish_end = self.hard_end - ANSWER_RESERVE_SECONDS
        self.end = self.hard_end - margin_seconds        # we stop working here
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

    def publish_remaining(self) -> float:
        """Seconds left to publish: the work's time and the margin kept for publishing."""
        return max(0.0, self.publish_end - self._clock())

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
