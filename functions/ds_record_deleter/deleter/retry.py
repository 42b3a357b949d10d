"""Retries of calls that are safe to repeat: exponential backoff with full jitter, honouring the
service's x-acs-retry-after, and never sleeping past the invocation's deadline."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Type, TypeVar

from cloud.errors import CloudError, RetryableError

from .log import logger

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    base_delay: float = 0.1
    max_delay: float = 5.0
    max_attempts: int = 8

    def backoff(self, attempt: int, retry_after: Optional[float], rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^attempt)], but at least what the
        service asked for."""
        delay = rng.uniform(0, min(self.max_delay, self.base_delay * (2 ** attempt)))
        return max(delay, retry_after or 0.0)


# One generator for every Retrier: seeding a new one from os.urandom on every call costs more
# than the call's backoff arithmetic ever will.
_SHARED_RNG = random.Random()


class Retrier:
    def __init__(self, policy: RetryPolicy, time_left: Callable[[], float], *,
                 sleep: Callable[[float], None] = time.sleep, rng: Optional[random.Random] = None) -> None:
        self.policy = policy
        self._time_left = time_left
        self._sleep = sleep
        self._rng = rng or _SHARED_RNG

    def call(self, call: Callable[[], T], *, retry_on: Tuple[Type[CloudError], ...] = (RetryableError,),
             what: str = "call") -> T:
        """Run call(); on an error of retry_on, back off and run it again while attempts and
        time remain. The last error is raised as it is."""
        attempt = 0
        while True:
            try:
                return call()
            except retry_on as error:
                attempt += 1
                delay = self.policy.backoff(attempt - 1, error.retry_after_seconds, self._rng)
                if attempt >= self.policy.max_attempts or delay >= self._time_left():
                    raise
                logger.debug("Retrying", extra={"what": what, "attempt": attempt, "code": error.code,
                                                "delay_seconds": round(delay, 3)})
                self._sleep(delay)
