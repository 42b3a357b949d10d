"""ALLOWED_DOMAINS: exact names and *.suffix patterns (a pattern matches names under the suffix,
not the suffix itself). Empty allows every domain the account holds."""
from __future__ import annotations

from typing import Iterable


class DomainAllowlist:
    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = tuple(patterns)
        self._exact = frozenset(p for p in patterns if not p.startswith("*."))
        self._suffixes = tuple(p[1:] for p in patterns if p.startswith("*."))  # ".example.com"
        self.restricted = bool(patterns)

    def allows(self, domain: str) -> bool:
        """domain is already normalised (lower-case A-labels, no trailing dot)."""
        if not self.restricted:
            return True
        return domain in self._exact or domain.endswith(self._suffixes)
