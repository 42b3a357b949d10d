"""Plain values passed between the HTTP server and the emulated services."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class HttpRequest:
    method: str
    target: str  # the request target exactly as sent: path plus query (MNS signs it as is)
    path: str
    query: Dict[str, str]  # parse_qsl with blanks kept; a repeated key keeps its last value
    headers: Dict[str, str]  # lower-case names; repeated headers joined by ","
    body: bytes
    client_ip: str


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)
    code: Optional[str] = None  # the error Code, for the request log
    dropped: bool = False  # close the connection without answering


DROPPED = Reply(status=0, dropped=True)


@dataclass
class CallRecord:
    """What the request log keeps of one API call. Never a secret or a token."""

    service: str
    action: Optional[str] = None
    access_key_id: Optional[str] = None
    faults: List[str] = field(default_factory=list)
