"""AccessKey pairs and STS triples the emulator accepts, and what is wrong with a given token."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Optional


STS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _epoch(expiration: Optional[str]) -> Optional[float]:
    if expiration is None:
        return None
    moment = datetime.strptime(expiration, STS_TIME_FORMAT).replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    access_key_secret: str
    security_token: Optional[str] = None
    expiration: Optional[str] = None  # STS style, UTC: 2099-12-31T23:59:59Z

    @classmethod
    def from_dict(cls, entry: Dict[str, str]) -> "Credential":
        credential = cls(
            access_key_id=entry["AccessKeyId"],
            access_key_secret=entry["AccessKeySecret"],
            security_token=entry.get("SecurityToken"),
            expiration=entry.get("Expiration"),
        )
        _epoch(credential.expiration)  # refuse a malformed date at load time
        return credential

    def as_dict(self) -> Dict[str, str]:
        entry = {"AccessKeyId": self.access_key_id, "AccessKeySecret": self.access_key_secret}
        if self.security_token is not None:
            entry["SecurityToken"] = self.security_token
        if self.expiration is not None:
            entry["Expiration"] = self.expiration
        return entry

    @property
    def is_sts(self) -> bool:
        return self.security_token is not None

    @functools.cached_property
    def _expires_at(self) -> Optional[float]:  # parsed once: checked on every STS call
        return _epoch(self.expiration)

    def is_expired(self, now: float) -> bool:
        return self._expires_at is not None and now >= self._expires_at

    def token_problem(self, token: Optional[str], now: float) -> Optional[str]:
        """None when the token fits this key, else 'missing', 'mismatch' or 'expired'."""
        if not self.is_sts:
            return "mismatch" if token else None  # a plain key carries no token
        if not token:
            return "missing"
        if token != self.security_token:
            return "mismatch"
        if self.is_expired(now):
            return "expired"
        return None


class CredentialStore:
    def __init__(self, entries: Iterable[Dict[str, str]]) -> None:
        self._by_id = {c.access_key_id: c for c in map(Credential.from_dict, entries)}

    def get(self, access_key_id: str) -> Optional[Credential]:
        return self._by_id.get(access_key_id)

    def all(self) -> List[Credential]:
        return list(self._by_id.values())
