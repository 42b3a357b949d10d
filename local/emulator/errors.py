"""The one error type every emulated service raises: it knows its HTTP status and code, and the
service that caught it renders it (JSON for the Domain API, XML for MNS)."""
from __future__ import annotations

from typing import Dict, Optional


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
