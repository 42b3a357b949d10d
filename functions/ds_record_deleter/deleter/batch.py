"""Many requests with bounded concurrency: one slow call must not serialise the rest, and one
bad item never stops the others."""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Callable, List, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def process_all(items: Sequence[Item], process: Callable[[Item], Result], executor: Executor) -> List[Result]:
    """Results in the order of the items. The executor's worker count is the concurrency bound
    (MAX_CONCURRENCY); a single item runs on the calling thread."""
    if len(items) <= 1:
        return [process(item) for item in items]
    futures = [executor.submit(process, item) for item in items]
    return [future.result() for future in futures]
