"""Request signatures of Alibaba Cloud: ACS3-HMAC-SHA256 (V3), RPC V1 (HMAC-SHA1) and MNS.

Pure functions: no I/O, no clock, no randomness. Callers pass the date and the nonce, so every
function here can be checked against the official SDKs' output (tests/unit/test_signing*.py).
The emulator verifies with the same functions; the official SDK clients talking to the emulator
are what keeps both sides honest.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Mapping, Tuple
from urllib.parse import quote

ACS3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@functools.lru_cache(maxsize=16)
def _keyed(secret: str, digest: str) -> "hmac.HMAC":
    """An HMAC already keyed with secret: keying hashes the padded key twice, so each signature
    copies this instead (a few secrets live at once: STS rotates them)."""
    return hmac.new(secret.encode("utf-8"), digestmod=digest)


def _mac(secret: str, message: str, digest: str) -> "hmac.HMAC":
    mac = _keyed(secret, digest).copy()
    mac.update(message.encode("utf-8"))
    return mac


class _PerSecond:
    """A date format of a moment, made once per second (every call in that second signs the same
    text). Dates are given, never read here: still pure."""

    def __init__(self, render) -> None:
        self._render = render
        self._last: Tuple[int, str] = (-1, "")

    def __call__(self, moment: datetime) -> str:
        second = int(moment.timestamp())
        last = self._last  # one tuple read: another thread may replace it, never tear it
        if last[0] != second:
            last = self._last = (second, self._render(moment.astimezone(timezone.utc).replace(microsecond=0)))
        return last[1]


# x-acs-date / Timestamp (ISO 8601, UTC) and MNS's Date (RFC 7231, GMT).
iso8601_utc = _PerSecond(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
http_date = _PerSecond(lambda moment: format_datetime(moment, usegmt=True))


def percent_encode(value: str) -> str:
    """RFC 3986 encoding: only A-Z a-z 0-9 - _ . ~ stay as they are (UTF-8 for the rest)."""
    return quote(value, safe="~")


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def canonical_query(params: Mapping[str, str]) -> str:
    """Sorted key=value pairs, both percent-encoded, joined by '&' (V3 and V1 alike)."""
    return "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params)
    )


# --- ACS3-HMAC-SHA256 (V3) ---------------------------------------------------------------

def acs3_canonical_request(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], payload_sha256: str
) -> tuple[str, str]:
    """The canonical request and its SignedHeaders list. Every header given is signed."""
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed_headers = ";".join(names)
    request = "\n".join(
        [method.upper(), path or "/", canonical_query(query), canonical_headers, signed_headers,
         payload_sha256]
    )
    return request, signed_headers


def acs3_string_to_sign(canonical_request: str) -> str:
    return f"{ACS3_ALGORITHM}\n{sha256_hex(canonical_request.encode('utf-8'))}"


def acs3_signature(secret: str, string_to_sign: str) -> str:
    return _mac(secret, string_to_sign, "sha256").hexdigest()


def acs3_authorization(
    access_key_id: str,
    secret: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str,
) -> str:
    """The Authorization header value for a request whose every given header is signed."""
    canonical, signed_headers = acs3_canonical_request(method, path, query, headers, payload_sha256)
    signature = acs3_signature(secret, acs3_string_to_sign(canonical))
    return f"{ACS3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def parse_acs3_authorization(value: str) -> dict[str, str] | None:
    """Split 'ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..'; None if malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ACS3_ALGORITHM:
        return None
    fields = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


# --- RPC V1 (HMAC-SHA1) -------------------------------------------------------------------

def rpc_v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def rpc_v1_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Signature over every parameter but Signature itself; the key is the secret plus '&'."""
    unsigned = {key: value for key, value in params.items() if key != "Signature"}
    digest = _mac(f"{secret}&", rpc_v1_string_to_sign(method, unsigned), "sha1").digest()
    return base64.b64encode(digest).decode("ascii")


# --- MNS ----------------------------------------------------------------------------------

def mns_content_md5(body: bytes) -> str:
    """Content-MD5 as the MNS SDKs send it: base64 of the hex digest (not of the raw digest)."""
    return base64.b64encode(hashlib.md5(body).hexdigest().encode("ascii")).decode("ascii")


def mns_string_to_sign(
    method: str, content_md5: str, content_type: str, date: str, headers: Mapping[str, str], resource: str
) -> str:
    mns_headers = "".join(
        f"{name}:{value}\n"
        for name, value in sorted((name.lower(), value) for name, value in headers.items())
        if name.startswith("x-mns-")
    )
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date}\n{mns_headers}{resource}"


def mns_signature(secret: str, string_to_sign: str) -> str:
    digest = _mac(secret, string_to_sign, "sha1").digest()
    return base64.b64encode(digest).decode("ascii")


def mns_authorization(access_key_id: str, secret: str, string_to_sign: str) -> str:
    return f"MNS {access_key_id}:{mns_signature(secret, string_to_sign)}"
