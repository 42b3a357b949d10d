"""What the core needs from the cloud, as the cloud adapters (cloud/) provide it. Tests hand the
core the real adapters pointed at the emulator; nothing here knows HTTP or signatures."""
from __future__ import annotations

from typing import Any, Optional, Protocol


class SubmittedTaskLike(Protocol):
    task_no: str
    request_id: str


class DomainApi(Protocol):
    def save_deleting_ds_task(self, domain: str, key_tag: int, lang: Optional[str] = None,
                              user_client_ip: Optional[str] = None) -> SubmittedTaskLike: ...

    # Read-only calls, for reconciling an unknown outcome (see reconcile.py).
    def query_ds_records(self, domain: str) -> Any: ...

    def query_task_list(self, begin_ms: int, end_ms: int, *, page_num: int = 1, page_size: int = 100) -> Any: ...

    def query_task_details(self, task_no: str, *, domain: Optional[str] = None) -> Any: ...

