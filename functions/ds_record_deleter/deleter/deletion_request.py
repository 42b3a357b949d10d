"""A deletion request: parsed, normalised and validated before anything touches the cloud.

The fields carry the Domain API's own names: {"DomainName", "KeyTag", "Lang"?, "UserClientIp"?},
plus "IdempotencyKey"?, the caller's own key for deduplicating retries, and the switches of the
checks made before a deletion (deleter/guard.py): "DryRun"?, "Force"?, "AllowInsecure"?.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Optional

FIELDS = ("DomainName", "KeyTag", "Lang", "UserClientIp", "IdempotencyKey", "DryRun", "Force", "AllowInsecure")
LANGS = ("en", "zh")
KEY_TAG_RANGE = (0, 65535)
MAX_DOMAIN_LENGTH = 253
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
PLAIN_ASCII_NAME = re.compile(r"^[A-Za-z0-9.-]+$")
DOMAIN_RULE = (
    "must be a registrable domain name: at least two labels of letters, digits and hyphens "
    "(1 to 63 characters each, no hyphen first or last), at most 253 characters"
)


class InvalidRequest(ValueError):
    """A request that breaks a rule. The message names the field and the rule."""

    def __init__(self, code: str, field: Optional[str], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def missing(field: str) -> InvalidRequest:
    return InvalidRequest("MissingParameter", field, f"{field} is required")


def invalid(field: str, rule: str) -> InvalidRequest:
    return InvalidRequest("InvalidParameter", field, f"{field} {rule}")


@dataclass(frozen=True)
class DeletionRequest:
    domain_name: str  # A-labels, lower case, no trailing dot
    key_tag: int
    lang: str
    user_client_ip: Optional[str] = None
    idempotency_key: Optional[str] = None
    # Before a deletion (deleter/guard.py): only check and answer; delete despite a refusal of the
    # DNSSEC safety check; let the deletion turn DNSSEC off.
    dry_run: bool = False
    force: bool = False
    allow_insecure: bool = False


def normalise_domain(value: Any) -> str:
    """IDNA 2008 (UTS #46 mapping, non-transitional) to A-labels, lower case, no trailing dot."""
    if not isinstance(value, str):
        raise invalid("DomainName", "must be a string")
    name = value.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name or len(name) > 4 * MAX_DOMAIN_LENGTH:  # no IDNA work on input that cannot fit
        raise invalid("DomainName", DOMAIN_RULE)
    if PLAIN_ASCII_NAME.match(name) and "xn--" not in name.lower():
        ascii_name = name.lower()  # what IDNA would give: the common case needs no IDNA tables
    else:
        ascii_name = _to_a_labels(name)
    labels = ascii_name.split(".")
    if len(ascii_name) > MAX_DOMAIN_LENGTH or len(labels) < 2:
        raise invalid("DomainName", DOMAIN_RULE)
    if not all(LDH_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise invalid("DomainName", DOMAIN_RULE)
    if any(label[2:4] == "--" and not label.startswith("xn--") for label in labels):
        raise invalid("DomainName", f"{DOMAIN_RULE} (hyphens in the 3rd and 4th places are reserved)")
    return ascii_name


def _to_a_labels(name: str) -> str:
    """IDNA 2008 (UTS #46 mapping, non-transitional), for names with U-labels or A-labels."""
    import idna  # its tables are only loaded for names that need them

    try:
        return idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise invalid("DomainName", f"{DOMAIN_RULE} ({_short(str(error))})") from None


KEY_TAG_RULE = "must be an integer from 0 to 65535"


def parse_key_tag(value: Any) -> int:
    """The rule, and what is wrong with this value: its range, or its JSON type."""
    # bool is an int in Python and 12.0 is a float: neither is a key tag.
    if isinstance(value, int) and not isinstance(value, bool):
        if KEY_TAG_RANGE[0] <= value <= KEY_TAG_RANGE[1]:
            return value
        raise invalid("KeyTag", f"{KEY_TAG_RULE} ({_short(str(value), 20)} is out of range)")
    if isinstance(value, bool):
        why = "a JSON number, not true or false"
    elif isinstance(value, str):
        why = "a JSON number, not a string"
    elif isinstance(value, float):
        why = "a whole JSON number, without a fraction or an exponent"
    elif hasattr(value, "digits"):  # a number too long to read (triggers.common.OversizedInteger)
        why = f"a {value.digits}-digit number is out of range"
    else:
        why = "a JSON number"
    raise invalid("KeyTag", f"{KEY_TAG_RULE} ({why})")


def parse_lang(value: Any) -> str:
    if value not in LANGS:
        raise invalid("Lang", "must be \"en\" or \"zh\"")
    return value


CLIENT_IP_RULE = "must be an IPv4 or IPv6 address, without a zone (no %scope: a scoped address is local to a host)"


def parse_client_ip(value: Any) -> str:
    if not isinstance(value, str):
        raise invalid("UserClientIp", CLIENT_IP_RULE)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise invalid("UserClientIp", CLIENT_IP_RULE) from None
    if getattr(address, "scope_id", None) is not None:  # fe80::1%eth0: Python accepts it since 3.9
        raise invalid("UserClientIp", CLIENT_IP_RULE)
    return str(address)


def parse_idempotency_key(value: Any) -> str:
    # fullmatch: with match, the pattern's $ would also let a key end in a newline.
    if not isinstance(value, str) or not IDEMPOTENCY_KEY.fullmatch(value):
        raise invalid("IdempotencyKey", "must be 1 to 128 visible ASCII characters")
    return value


def parse_deletion_request(
    raw: Any, *, default_lang: str = "en", fallback_client_ip: Optional[str] = None
) -> DeletionRequest:
    """Turn one decoded JSON value into a DeletionRequest, or raise InvalidRequest.

    fallback_client_ip (an HTTP caller's source address) is used when UserClientIp is absent
    and is itself valid; a bad fallback is dropped rather than blamed on the caller."""
    if not isinstance(raw, dict):
        raise InvalidRequest("InvalidRequest", None,
                             "A deletion request must be a JSON object with DomainName and KeyTag")
    unknown = sorted(str(key) for key in raw if key not in FIELDS)
    if unknown:
        raise InvalidRequest("UnknownParameter", _short(unknown[0]),
                             f"{_short(unknown[0])} is not a field of a deletion request "
                             f"(allowed: {', '.join(FIELDS)})")
    for field in ("DomainName", "KeyTag"):
        if raw.get(field) is None:
            raise missing(field)
    client_ip = raw.get("UserClientIp")
    if client_ip is None and fallback_client_ip:
        try:
            client_ip = parse_client_ip(fallback_client_ip)
        except InvalidRequest:
            client_ip = None
    elif client_ip is not None:
        client_ip = parse_client_ip(client_ip)
    return DeletionRequest(
        domain_name=normalise_domain(raw["DomainName"]),
        key_tag=parse_key_tag(raw["KeyTag"]),
        lang=parse_lang(raw["Lang"]) if raw.get("Lang") is not None else default_lang,
        user_client_ip=client_ip,
        idempotency_key=parse_idempotency_key(raw["IdempotencyKey"]) if raw.get("IdempotencyKey") is not None else None,
        dry_run=parse_switch(raw, "DryRun"),
        force=parse_switch(raw, "Force"),
        allow_insecure=parse_switch(raw, "AllowInsecure"),
    )


def parse_switch(raw: dict, field: str) -> bool:
    """An optional JSON boolean (absent or null: false). "true", 1 or "yes" are refused: a switch
    that can skip a safety check is not guessed from a string or a number."""
    value = raw.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false (a JSON boolean, not a string or a number)")
    return value


def _short(text: str, limit: int = 80) -> str:
    """Echo at most a little of the caller's input back in an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
