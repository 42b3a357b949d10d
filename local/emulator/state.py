"""All mutable cloud state behind one lock, with a Condition that long polls wait on.

Services take `with state.lock:` around every read or change and call state.lock.notify_all()
after adding messages. Nothing sleeps while holding the lock: waiting is lock.wait(timeout).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .domain_state import DomainStore
from .mns_state import MnsStore

DEFAULT_TASK_DELAYS = (1.0, 2.0)  # seconds WAITING_EXECUTE, seconds EXECUTING


def check_task_delays(delays: Tuple[float, float]) -> Tuple[float, float]:
    waiting, executing = (float(value) for value in delays)
    if waiting < 0 or executing < 0:
        raise ValueError("task delays must not be negative")
    return waiting, executing


class EmulatorState:
    def __init__(self, seed: Dict[str, Any], task_delays: Optional[Tuple[float, float]] = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.Condition()
        self.clock = clock
        self._seed = seed
        self._initial_task_delays = check_task_delays(task_delays or DEFAULT_TASK_DELAYS)
        self.reset()

    def reset(self) -> None:
        """Back to the seed and the task delays given at start."""
        with self.lock:
            self.domains = DomainStore(self._seed.get("domains", []), self._initial_task_delays, self.clock)
            self.mns = MnsStore(self._seed, self.clock)
            self.lock.notify_all()

    def set_task_delays(self, waiting_seconds: float, executing_seconds: float) -> None:
        """For tasks submitted from now on."""
        delays = check_task_delays((waiting_seconds, executing_seconds))
        with self.lock:
            self.domains.task_delays = delays

    def set_listing_lag(self, seconds: float) -> None:
        """Tasks are listed only this long after they were created (until the next reset)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
            raise ValueError("listing_lag_seconds must be a number of seconds from 0 to 3600")
        with self.lock:
            self.domains.listing_lag_ms = int(seconds * 1000)

    def put_domain(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            return self.domains.put_domain(entry).as_dict()

    def create_tasks(self, entry: Dict[str, Any]) -> List[str]:
        """Many tasks at once (DomainStore.create_tasks); their TaskNos, oldest first."""
        with self.lock:
            return [task.task_no for task in self.domains.create_tasks(entry)]

    def snapshot(self) -> Dict[str, Any]:
        with self.lock:
            self.domains.advance()
            return {
                "account_id": self._seed["account_id"], "region": self._seed["region"],
                **self.domains.snapshot(), **self.mns.snapshot(),
            }
