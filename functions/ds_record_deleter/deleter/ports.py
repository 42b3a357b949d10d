"""What the core needs from the cloud, as the cloud adapters (cloud/) provide it. Tests hand the
core the real adapters pointed at the emulator; nothing here knows HTTP or signatures."""
from __future__ import annotations

from typing import Optional, Protocol


class SubmittedTaskLike(Protocol):
    task_no: str
    request_id: str


class DomainApi(Protocol):
    def save_deleting_ds_task(self, domain: str, key_tag: int, lang: Optional[str] = None,
                              user_client_ip: Optional[str] = None) -> SubmittedTaskLike: ...


class Publisher(Protocol):
    def publish(self, topic: str, body: str, tag: Optional[str] = None) -> object: ...
