"""Environment -> Settings, read and validated once per instance.

Every problem is collected into one ConfigurationError, so a misconfigured function says all that
is wrong in one message on every invocation instead of failing on the first call to the cloud.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, TypeVar

T = TypeVar("T")

TOPIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,255}$")
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(Exception):
    """The function's settings are unusable; nothing can be processed until they are fixed."""


@dataclass(frozen=True)
class Settings:
    notify_topic: str
    domain_api_endpoint: str = "https://domain.aliyuncs.com"
    domain_api_version: str = "2018-01-29"
    domain_api_signature: str = "v3"
    mns_endpoint: Optional[str] = None
    default_lang: str = "en"
    max_concurrency: int = 8
    log_level: str = "INFO"
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 10.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        reader = _Reader(environ)
        settings = cls(
            notify_topic=reader.text("NOTIFY_TOPIC", None, TOPIC_NAME,
                                     "must be an MNS topic name (a letter, then letters, digits or hyphens, "
                                     "at most 256)"),
            domain_api_endpoint=reader.text("DOMAIN_API_ENDPOINT", cls.domain_api_endpoint, _ENDPOINT,
                                            "must be a host name or an http(s):// URL"),
            domain_api_version=reader.text("DOMAIN_API_VERSION", cls.domain_api_version, API_VERSION,
                                           "must be an API version like 2018-01-29"),
            domain_api_signature=reader.choice("DOMAIN_API_SIGNATURE", cls.domain_api_signature, ("v3", "v1")),
            mns_endpoint=reader.text("MNS_ENDPOINT", None, _URL, "must be an http(s):// URL", required=False),
            default_lang=reader.choice("DEFAULT_LANG", cls.default_lang, ("en", "zh")),
            max_concurrency=reader.number("MAX_CONCURRENCY", cls.max_concurrency, int, 1, 64),
            log_level=reader.choice("LOG_LEVEL", cls.log_level, LOG_LEVELS, transform=str.upper),
            connect_timeout_seconds=reader.number("CONNECT_TIMEOUT_SECONDS", cls.connect_timeout_seconds,
                                                  float, 0.1, 60),
            read_timeout_seconds=reader.number("READ_TIMEOUT_SECONDS", cls.read_timeout_seconds, float, 0.1, 300),
        )
        reader.raise_problems()
        return settings


_URL = re.compile(r"^https?://[^\s/]+/?$")
_ENDPOINT = re.compile(r"^(https?://)?[A-Za-z0-9.-]+(:\d+)?/?$")


class _Reader:
    """Reads variables and collects what is wrong with them, naming each variable and rule."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: List[str] = []

    def _raw(self, name: str) -> Optional[str]:
        value = self._environ.get(name)
        return value.strip() if value is not None and value.strip() else None

    def text(self, name: str, default: Optional[str], pattern: "re.Pattern[str]", rule: str,
             required: bool = True) -> str:
        value = self._raw(name)
        if value is None:
            if default is None and required:
                self.problems.append(f"{name} is required")
            return default  # type: ignore[return-value]
        if not pattern.match(value):
            self.problems.append(f"{name} {rule}")
        return value

    def choice(self, name: str, default: str, allowed: tuple, transform: Callable[[str], str] = str) -> str:
        value = self._raw(name)
        if value is None:
            return default
        value = transform(value)
        if value not in allowed:
            self.problems.append(f"{name} must be one of {', '.join(allowed)}")
        return value

    def number(self, name: str, default: T, kind: Callable[[str], T], low: float, high: float) -> T:
        value = self._raw(name)
        if value is None:
            return default
        try:
            parsed = kind(value)
        except ValueError:
            parsed = None
        if parsed is None or not low <= parsed <= high:  # type: ignore[operator]
            kind_name = "an integer" if kind is int else "a number"
            self.problems.append(f"{name} must be {kind_name} from {low:g} to {high:g}")
            return default
        return parsed

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigurationError("Invalid configuration: " + "; ".join(self.problems))
