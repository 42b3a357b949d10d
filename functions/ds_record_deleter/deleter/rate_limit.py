"""A client-side token bucket, shared by all of an instance's threads, so that a big batch does not
throttle itself at the Domain API (MAX_REQUESTS_PER_SECOND; 0 turns it off)."""
from __future__ import annotations

import threading
import time
from typing import Callable, Optional

from cloud.errors import RetryableError


class TokenBucket:
    def __init__(self, rate_per_second: float, burst: Optional[float] = None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate_per_second
        self.capacity = burst if burst is not None else max(1.0, rate_per_second)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now, or reserve the next one: the wait before it may be used."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1  # may go negative: a reservation, honoured in order
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, max_wait: float) -> bool:
        """Wait for a token at most max_wait seconds; False (and nothing taken) if that is too long."""
        if self.rate <= 0:
            return True
        wait = self._reserve()
        if wait > max_wait:
            with self._lock:
                self._tokens += 1  # give the reservation back
            return False
        if wait > 0:
            self._sleep(wait)
        return True


class RateLimitedDomainApi:
    """The Domain API port with a token taken before every call. When no token comes within the
    time the invocation has left, the call is not made (a RetryableError: nothing was sent)."""

    def __init__(self, api, bucket: TokenBucket, time_left: Callable[[], float]) -> None:
        self._api = api
        self._bucket = bucket
        self._time_left = time_left

    def _take(self, action: str) -> None:
        if not self._bucket.acquire(max_wait=self._time_left()):
            raise RetryableError("ClientRateLimited", "No request slot within the time left (MAX_REQUESTS_PER_SECOND)",
                                 service="Domain", action=action)

    def save_deleting_ds_task(self, *args, **kwargs):
        self._take("SaveSingleTaskForDeletingDSRecord")
        return self._api.save_deleting_ds_task(*args, **kwargs)

    def query_ds_records(self, *args, **kwargs):
        self._take("QueryDSRecord")
        return self._api.query_ds_records(*args, **kwargs)

    def query_task_details(self, *args, **kwargs):
        self._take("QueryTaskDetailList")
        return self._api.query_task_details(*args, **kwargs)

    def query_task_list(self, *args, **kwargs):
        self._take("QueryTaskList")
        return self._api.query_task_list(*args, **kwargs)
