"""Calls the backend performs after the client has had its answer: a gateway page answered at
once while the service still processes the call a moment later (gateway_page with
process_after_ms). Tracked, so that waiting for quiet includes them and a reset cancels them."""
from __future__ import annotations

import threading
import traceback
from typing import Callable, Set


class DeferredCalls:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._timers: Set[threading.Timer] = set()
        self._running = 0

    def defer(self, seconds: float, work: Callable[[], object]) -> None:
        """Run work on its own thread after `seconds`; what it returns is dropped."""
        with self._changed:
            timer = threading.Timer(seconds, lambda: self._run(timer, work))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _run(self, timer: threading.Timer, work: Callable[[], object]) -> None:
        with self._changed:
            if timer not in self._timers:  # cancelled as it fired
                return
            self._timers.discard(timer)
            self._running += 1
        try:
            work()
        except Exception:  # an emulator bug: nobody is waiting for this answer, so say it here
            traceback.print_exc()
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def pending(self) -> int:
        """Calls not yet performed, or being performed."""
        with self._changed:
            return len(self._timers) + self._running

    def cancel(self, wait_seconds: float = 10) -> None:
        """Forget the calls not yet begun, and wait for those under way (they may still change
        the state they started on)."""
        with self._changed:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._changed.wait_for(lambda: self._running == 0, timeout=wait_seconds)
