"""Environment -> Settings, read and validated once per instance.

Every problem is collected into one ConfigurationError, so a misconfigured function says all that
is wrong in one message on every invocation instead of failing on the first call to the cloud.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Tuple, TypeVar

from cloud.domain_api import DEFAULT_ENDPOINT, DEFAULT_VERSION, SIGNATURE_VERSIONS

from .deletion_request import LANGS, InvalidRequest, normalise_domain

T = TypeVar("T")

TOPIC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,255}$")
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
WEBHOOK_SECRET_MIN_LENGTH = 32  # the template's WebhookSecret says the same
MIN_DEADLINE_MARGIN_SECONDS = 0.5  # the margin is publishing's time: a TaskNo needs it to be told


class ConfigurationError(Exception):
    """The function's settings are unusable; nothing can be processed until they are fixed."""


@dataclass(frozen=True)
class Settings:
    notify_topic: str
    domain_api_endpoint: str = DEFAULT_ENDPOINT
    domain_api_version: str = DEFAULT_VERSION
    domain_api_signature: str = "v3"
    mns_endpoint: Optional[str] = None
    default_lang: str = "en"
    max_concurrency: int = 8
    log_level: str = "INFO"
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 10.0
    # Who may ask, and how much at once.
    webhook_secret: Optional[str] = field(default=None, repr=False)
    allowed_domains: Tuple[str, ...] = ()
    max_batch: int = 100
    # Exactly one task per request.
    idempotency_ttl_seconds: int = 3600
    delivery_record_ttl_seconds: int = 8 * 86400  # MNS keeps a message 7 days; EventBridge retries a day
    redis_url: Optional[str] = field(default=None, repr=False)  # may carry a password
    max_requests_per_second: float = 20.0
    deadline_margin_seconds: float = 3.0
    retry_base_delay_seconds: float = 0.1
    retry_max_delay_seconds: float = 5.0
    reconcile_settle_seconds: float = 30.0
    # Following each task to its end (follow_up.py); no WATCH_QUEUE: watching is off.
    watch_queue: Optional[str] = None
    watch_max_seconds: int = 86400
    watch_first_delay_seconds: int = 30
    # Before a deletion (deleter/guard.py): QueryDSRecord first; the DNSSEC safety check and where
    # it asks (a resolver for the delegation, the name servers on dns_port); only check, never send.
    precheck: bool = True
    safety_check: bool = True
    dry_run: bool = False
    dns_resolver: Optional[Tuple[str, int]] = None  # (address, port); None: the system's resolver
    dns_port: int = 53

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
            domain_api_signature=reader.choice("DOMAIN_API_SIGNATURE", cls.domain_api_signature, SIGNATURE_VERSIONS),
            mns_endpoint=reader.text("MNS_ENDPOINT", None, _URL, "must be an http(s):// URL", required=False),
            default_lang=reader.choice("DEFAULT_LANG", cls.default_lang, LANGS),
            max_concurrency=reader.number("MAX_CONCURRENCY", cls.max_concurrency, int, 1, 64),
            log_level=reader.choice("LOG_LEVEL", cls.log_level, LOG_LEVELS, transform=str.upper),
            connect_timeout_seconds=reader.number("CONNECT_TIMEOUT_SECONDS", cls.connect_timeout_seconds,
                                                  float, 0.1, 60),
            read_timeout_seconds=reader.number("READ_TIMEOUT_SECONDS", cls.read_timeout_seconds, float, 0.1, 300),
            webhook_secret=reader.secret("WEBHOOK_SECRET", min_length=WEBHOOK_SECRET_MIN_LENGTH),
            allowed_domains=reader.domain_patterns("ALLOWED_DOMAINS"),
            max_batch=reader.number("MAX_BATCH", cls.max_batch, int, 1, 1000),
            idempotency_ttl_seconds=reader.number("IDEMPOTENCY_TTL_SECONDS", cls.idempotency_ttl_seconds, int,
                                                  60, 30 * 86400),
            delivery_record_ttl_seconds=reader.number("DELIVERY_RECORD_TTL_SECONDS", cls.delivery_record_ttl_seconds,
                                                      int, 3600, 30 * 86400),
            redis_url=reader.redis_url("REDIS_URL"),
            max_requests_per_second=reader.number("MAX_REQUESTS_PER_SECOND", cls.max_requests_per_second, float,
                                                  0, 10000),
            deadline_margin_seconds=reader.number("DEADLINE_MARGIN_SECONDS", cls.deadline_margin_seconds, float,
                                                  MIN_DEADLINE_MARGIN_SECONDS, 600),
            retry_base_delay_seconds=reader.number("RETRY_BASE_DELAY_SECONDS", cls.retry_base_delay_seconds,
                                                   float, 0.001, 60),
            retry_max_delay_seconds=reader.number("RETRY_MAX_DELAY_SECONDS", cls.retry_max_delay_seconds,
                                                  float, 0.001, 300),
            reconcile_settle_seconds=reader.number("RECONCILE_SETTLE_SECONDS", cls.reconcile_settle_seconds,
                                                   float, 0, 600),
            watch_queue=reader.text("WATCH_QUEUE", None, TOPIC_NAME,
                                    "must be an MNS queue name (a letter, then letters, digits or hyphens, "
                                    "at most 256)", required=False),
            watch_max_seconds=reader.number("WATCH_MAX_SECONDS", cls.watch_max_seconds, int, 1, 30 * 86400),
            watch_first_delay_seconds=reader.number("WATCH_FIRST_DELAY_SECONDS", cls.watch_first_delay_seconds,
                                                    int, 1, 900),
            precheck=reader.switch("PRECHECK", cls.precheck),
            safety_check=reader.switch("SAFETY_CHECK", cls.safety_check),
            dry_run=reader.switch("DRY_RUN", cls.dry_run),
            dns_resolver=reader.resolver("DNS_RESOLVER"),
            dns_port=reader.number("DNS_PORT", cls.dns_port, int, 1, 65535),
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

    def redis_url(self, name: str) -> Optional[str]:
        """Checked by the very parser the client will use, so a URL accepted here connects."""
        value = self._raw(name)
        if value is not None:
            from cloud.redis import URL_RULE, parse_url  # only instances that use Redis pay for it
            try:
                parse_url(value)
            except ValueError:
                self.problems.append(f"{name} {URL_RULE}")
        return value

    def secret(self, name: str, min_length: int) -> Optional[str]:
        """A secret is never echoed back, not even in a configuration error."""
        value = self._raw(name)
        if value is not None and len(value) < min_length:
            self.problems.append(f"{name} must be at least {min_length} characters")
        return value

    def domain_patterns(self, name: str) -> Tuple[str, ...]:
        """Comma-separated exact names and *.suffix patterns, normalised like requests are."""
        patterns = []
        for entry in filter(None, (part.strip() for part in (self._raw(name) or "").split(","))):
            wildcard = entry.startswith("*.")
            try:
                name_part = normalise_domain(entry[2:] if wildcard else entry)
            except InvalidRequest:
                self.problems.append(f"{name} has an entry that is neither a domain name nor *.suffix")
                continue
            patterns.append(("*." if wildcard else "") + name_part)
        return tuple(patterns)

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

    def switch(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() not in SWITCH_VALUES:
            self.problems.append(f"{name} must be on or off (also true/false, 1/0, yes/no)")
            return default
        return SWITCH_VALUES[value.lower()]

    def resolver(self, name: str) -> Optional[Tuple[str, int]]:
        """An IP address with an optional port; a name would need a resolver to find the resolver."""
        value = self._raw(name)
        if value is None:
            return None
        from cloud.dns import parse_resolver  # only instances that name a resolver read it here

        try:
            return parse_resolver(value)
        except ValueError:
            self.problems.append(f"{name} must be an IP address with an optional port: 192.0.2.53, 192.0.2.53:5353 "
                                 "or [2001:db8::53]:53")
            return None


SWITCH_VALUES = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False,
                 "no": False}
