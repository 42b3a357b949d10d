"""Backoff with full jitter, x-acs-retry-after, the deadline; the token bucket; the deadline itself.
Time is simulated: these tests never wait."""
from __future__ import annotations

import random
import threading
from types import SimpleNamespace

import pytest

from cloud.errors import OutcomeUnknownError, PermanentError, RetryableError
from deleter.deadline import Deadline
from deleter.settings import ConfigurationError
from deleter.rate_limit import RateLimitedDomainApi, TokenBucket
from deleter.retry import Retrier, RetryPolicy


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def throttled(retry_after=None):
    return RetryableError("Throttling.User", "slow down", service="Domain", action="A",
                          retry_after_seconds=retry_after)


def failing(errors, result="done"):
    """A call that raises the given errors in turn, then returns result."""
    pending = list(errors)
    calls = []

    def call():
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return result
    call.calls = calls
    return call


def test_backoff_is_full_jitter_capped_and_growing():
    policy, rng = RetryPolicy(base_delay=0.1, max_delay=2.0), random.Random(7)
    for attempt in range(10):
        ceiling = min(2.0, 0.1 * 2 ** attempt)
        delays = [policy.backoff(attempt, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # it spreads over the whole range, not a fixed step


def test_retry_after_is_a_floor():
    assert RetryPolicy(0.1, 2.0).backoff(0, 1.5, random.Random(1)) >= 1.5


def test_retryable_errors_are_retried_until_success():
    time = FakeTime()
    call = failing([throttled(), throttled(0.3)])
    retrier = Retrier(RetryPolicy(0.1, 1.0), lambda: 60.0, sleep=time.sleep, rng=random.Random(3))
    assert retrier.call(call) == "done"
    assert len(call.calls) == 3 and time.sleeps[1] >= 0.3


@pytest.mark.parametrize("error", [
    PermanentError("InvalidParameter", "bad", service="Domain", action="A"),
    OutcomeUnknownError("InternalError", "?", service="Domain", action="A"),
])
def test_other_errors_are_not_retried_by_default(error):
    call = failing([error])
    with pytest.raises(type(error)):
        Retrier(RetryPolicy(), lambda: 60.0, sleep=FakeTime().sleep).call(call)
    assert len(call.calls) == 1


def test_unknown_outcomes_are_retried_when_asked_as_for_publishing():
    call = failing([OutcomeUnknownError("InternalError", "?", service="MNS", action="PublishMessage")])
    retrier = Retrier(RetryPolicy(0.01), lambda: 60.0, sleep=FakeTime().sleep)
    assert retrier.call(call, retry_on=(RetryableError, OutcomeUnknownError)) == "done"


def test_attempts_are_bounded():
    call = failing([throttled()] * 100)
    with pytest.raises(RetryableError):
        Retrier(RetryPolicy(0.01, 0.01, max_attempts=4), lambda: 60.0, sleep=FakeTime().sleep).call(call)
    assert len(call.calls) == 4


def test_no_sleep_runs_past_the_time_left():
    time = FakeTime()
    deadline = Deadline(time.now, timeout_seconds=10, margin_seconds=2, clock=time.clock)
    call = failing([throttled(3.0)] * 100)
    with pytest.raises(RetryableError):
        Retrier(RetryPolicy(0.1, 1.0, max_attempts=100), deadline.remaining, sleep=time.sleep).call(call)
    assert time.now <= deadline.end  # gave up instead of sleeping past the deadline
    assert len(call.calls) == 3      # slept 3 s twice (the service asked), a third wait would not fit


def test_deadline_is_start_plus_timeout_minus_margin():
    time = FakeTime()
    context = SimpleNamespace(function=SimpleNamespace(timeout=30))
    deadline = Deadline.for_invocation(context, margin_seconds=5, clock=time.clock)
    assert deadline.remaining() == 25 and deadline.hard_remaining() == 30
    time.now += 26
    assert deadline.remaining() == 0 and deadline.hard_remaining() == 4
    assert Deadline.for_invocation(SimpleNamespace(), 5, clock=time.clock).hard_remaining() == 60  # FC default
    # The margin is publishing's: it never shrinks silently; a timeout that leaves no time to work is
    # a configuration error, named.
    with pytest.raises(ConfigurationError, match="DEADLINE_MARGIN_SECONDS .10. leaves no time"):
        Deadline(0, 4, margin_seconds=10, clock=lambda: 0)


def test_publishing_has_the_margin_after_work_stops():
    time = FakeTime()
    deadline = Deadline(time.now, 1, margin_seconds=0.5, clock=time.clock)
    assert deadline.remaining() == pytest.approx(0.5) and deadline.publish_remaining() == pytest.approx(0.8)
    time.now += 0.6  # work is over; publishing still has its time
    assert deadline.remaining() == 0 and deadline.publish_remaining() == pytest.approx(0.2)


def test_bucket_allows_a_burst_then_spaces_calls_at_the_rate():
    time = FakeTime()
    bucket = TokenBucket(5, burst=2, clock=time.clock, sleep=time.sleep)
    for _ in range(6):
        assert bucket.acquire(max_wait=10)
    assert time.sleeps[:1] == [pytest.approx(0.2)]
    assert time.now - 1000.0 == pytest.approx(0.8)  # 2 at once, then 4 more at 5 per second


def test_bucket_refuses_when_the_wait_exceeds_what_is_left():
    time = FakeTime()
    bucket = TokenBucket(1, burst=1, clock=time.clock, sleep=time.sleep)
    assert bucket.acquire(max_wait=0)
    assert not bucket.acquire(max_wait=0.5)  # the next token is 1 s away
    assert bucket.acquire(max_wait=1.0)      # and the refusal gave its reservation back
    assert time.sleeps == [pytest.approx(1.0)]


def test_bucket_rate_zero_is_unlimited():
    assert all(TokenBucket(0).acquire(max_wait=0) for _ in range(1000))


def test_bucket_reservations_from_threads_never_exceed_the_rate():
    time = FakeTime()
    granted = []

    def sleep(seconds):  # each thread "sleeps" until its reserved instant, recorded, not waited
        granted.append(time.now + seconds)

    bucket = TokenBucket(10, burst=1, clock=time.clock, sleep=sleep)
    threads = [threading.Thread(target=lambda: bucket.acquire(max_wait=100)) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    instants = sorted(granted)
    assert len(instants) == 49  # the first token was free
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(instants, instants[1:]))


def test_rate_limited_api_makes_no_call_without_a_token():
    calls = []
    api = SimpleNamespace(save_deleting_ds_task=lambda *a, **k: calls.append(a) or "task")
    bucket = TokenBucket(1, burst=1, clock=FakeTime().clock, sleep=lambda s: None)
    limited = RateLimitedDomainApi(api, bucket, time_left=lambda: 0.1)
    assert limited.save_deleting_ds_task("example.com", 1) == "task"
    with pytest.raises(RetryableError) as caught:
        limited.save_deleting_ds_task("example.com", 2)
    assert caught.value.code == "ClientRateLimited" and len(calls) == 1
