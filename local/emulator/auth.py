"""Who sent a request, and may it be served: signature V3 and V1 for the Domain API, the MNS
signature, STS tokens, clock skew and signature-nonce replay. Signatures are recomputed with
the project's own signer (cloud.signing); the official SDKs talking to the emulator keep both
honest.

Domain API order: signature form -> access key -> token -> timestamp -> signature -> nonce.
MNS order: Authorization -> Date -> clock -> access key -> token -> signature.
"""
from __future__ import annotations

import hmac
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Dict, Optional
from urllib.parse import parse_qsl

from cloud import signing

from .credentials import Credential, CredentialStore
from .errors import ApiError
from .http_types import HttpRequest

MAX_CLOCK_SKEW_SECONDS = 15 * 60
ACS_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
V3_REQUIRED_HEADERS = (
    "host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
    "x-acs-content-sha256",
)
V1_SIGNATURE_PARAMS = ("SignatureMethod", "SignatureVersion", "SignatureNonce", "AccessKeyId", "Signature")
# Parameters every V1 request carries; the rest belong to the action.
V1_COMMON_PARAMS = frozenset(V1_SIGNATURE_PARAMS) | {
    "Action", "Version", "Format", "Timestamp", "SecurityToken", "RegionId", "SignatureType",
}
MNS_AUTHORIZATION = re.compile(r"^MNS ([^:\s]+):(\S+)$")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class NonceCache:
    """Signature nonces seen per AccessKeyId, kept 30 minutes: a request stamped 15 minutes ahead
    of the clock is accepted until 15 minutes after its stamp, so its nonce must be remembered
    that long, or the same request could be sent again once the nonce was forgotten."""

    def __init__(self, ttl_seconds: float = 2 * MAX_CLOCK_SKEW_SECONDS, clock: Callable[[], float] = time.time):
        self._ttl = ttl_seconds
        self._clock = clock
        self._expiry: "OrderedDict[tuple, float]" = OrderedDict()  # insertion order = expiry order
        self._lock = threading.Lock()

    def use(self, access_key_id: str, nonce: str) -> bool:
        """Record the nonce; False when it was already used within the window."""
        now = self._clock()
        key = (access_key_id, nonce)
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) <= now:
                self._expiry.popitem(last=False)
            if key in self._expiry:
                return False
            self._expiry[key] = now + self._ttl
            return True

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()


# --- Domain API (JSON errors) --------------------------------------------------------------

@dataclass
class DomainCall:
    """An authenticated Domain API request."""

    style: str  # "V3" or "V1"
    access_key_id: str
    action: Optional[str]
    version: Optional[str]
    params: Dict[str, str] = field(default_factory=dict)


def _incomplete(detail: str) -> ApiError:
    return ApiError(400, "IncompleteSignature", f"The request signature does not conform to Aliyun standards. {detail}")


def _signature_mismatch(string_to_sign: str) -> ApiError:
    # The real message quotes the server's string to sign (for V1 that includes the token).
    return ApiError(
        400, "SignatureDoesNotMatch",
        f"Specified signature does not match our calculation. server string to sign is:{string_to_sign}",
    )


def missing_parameter(name: str) -> ApiError:
    return ApiError(
        400, "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def form_params(request: HttpRequest) -> Dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE or not request.body:
        return {}
    return dict(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))


def request_params(request: HttpRequest) -> Dict[str, str]:
    """A Domain API call's parameters: the form body's, then the query's (which win)."""
    return {**form_params(request), **request.query}


def claimed_domain_identity(request: HttpRequest, params: Dict[str, str]) -> tuple:
    """(AccessKeyId, Action) as the request states them, before anything is verified."""
    parsed = signing.parse_acs3_authorization(request.headers.get("authorization", "")) or {}
    access_key_id = parsed.get("Credential") or params.get("AccessKeyId")
    action = request.headers.get("x-acs-action") if "authorization" in request.headers else params.get("Action")
    return access_key_id, action


def _credential(store: CredentialStore, access_key_id: str) -> Credential:
    credential = store.get(access_key_id)
    if credential is None:
        raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    return credential


def _check_domain_token(credential: Credential, token: Optional[str], now: float) -> None:
    problem = credential.token_problem(token, now)
    if problem == "missing":
        raise ApiError(400, "MissingSecurityToken", "SecurityToken is mandatory for this action.")
    if problem == "mismatch":
        raise ApiError(400, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
    if problem == "expired":
        raise ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")


def _check_timestamp(value: str, now: float) -> None:
    try:
        moment = datetime.strptime(value, ACS_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ApiError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
    if abs(moment.timestamp() - now) > MAX_CLOCK_SKEW_SECONDS:
        raise ApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")


def _check_nonce(nonces: NonceCache, access_key_id: str, nonce: str) -> None:
    if not nonces.use(access_key_id, nonce):
        raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")


def authenticate_domain(
    request: HttpRequest, store: CredentialStore, nonces: NonceCache, now: float,
    params: Optional[Dict[str, str]] = None,
) -> DomainCall:
    """The verified call; params are request_params(request), when the caller has them already."""
    params = request_params(request) if params is None else params
    if "authorization" in request.headers:
        return _authenticate_v3(request, params, store, nonces, now)
    return _authenticate_v1(request, params, store, nonces, now)


def _authenticate_v3(request: HttpRequest, params: Dict[str, str], store: CredentialStore, nonces: NonceCache,
                     now: float) -> DomainCall:
    headers = request.headers
    authorization = signing.parse_acs3_authorization(headers["authorization"])
    if authorization is None:
        raise _incomplete("The Authorization header is malformed.")
    for name in V3_REQUIRED_HEADERS:
        if name not in headers:
            raise _incomplete(f"The header {name} is missing.")
    signed = authorization["SignedHeaders"].split(";")
    must_sign = {"host"} | {name for name in headers if name.startswith("x-acs-")}
    unsigned = sorted(must_sign - set(signed))
    if unsigned:
        raise _incomplete(f"SignedHeaders must include {', '.join(unsigned)}.")
    absent = [name for name in signed if name not in headers]
    if absent:
        raise _incomplete(f"SignedHeaders names headers that were not sent: {', '.join(absent)}.")

    credential = _credential(store, authorization["Credential"])
    _check_domain_token(credential, headers.get("x-acs-security-token"), now)
    _check_timestamp(headers["x-acs-date"], now)
    canonical, _ = signing.acs3_canonical_request(
        request.method, request.path, request.query, {name: headers[name] for name in signed},
        signing.sha256_hex(request.body),
    )
    string_to_sign = signing.acs3_string_to_sign(canonical)
    expected = signing.acs3_signature(credential.access_key_secret, string_to_sign)
    if not hmac.compare_digest(expected, authorization["Signature"]):
        raise _signature_mismatch(string_to_sign)
    _check_nonce(nonces, credential.access_key_id, headers["x-acs-signature-nonce"])
    return DomainCall(
        style="V3", access_key_id=credential.access_key_id, action=headers["x-acs-action"],
        version=headers["x-acs-version"], params=params,
    )


def _authenticate_v1(request: HttpRequest, params: Dict[str, str], store: CredentialStore, nonces: NonceCache,
                     now: float) -> DomainCall:
    for name in V1_SIGNATURE_PARAMS:
        if not params.get(name):
            raise _incomplete(f"The parameter {name} is missing.")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        raise _incomplete("Only SignatureMethod HMAC-SHA1 with SignatureVersion 1.0 is supported.")

    credential = _credential(store, params["AccessKeyId"])
    _check_domain_token(credential, params.get("SecurityToken"), now)
    if not params.get("Timestamp"):
        raise missing_parameter("Timestamp")
    _check_timestamp(params["Timestamp"], now)
    expected = signing.rpc_v1_signature(credential.access_key_secret, request.method, params)
    if not hmac.compare_digest(expected, params["Signature"]):
        unsigned = {key: value for key, value in params.items() if key != "Signature"}
        raise _signature_mismatch(signing.rpc_v1_string_to_sign(request.method, unsigned))
    _check_nonce(nonces, credential.access_key_id, params["SignatureNonce"])
    return DomainCall(
        style="V1", access_key_id=credential.access_key_id, action=params.get("Action"),
        version=params.get("Version"),
        params={key: value for key, value in params.items() if key not in V1_COMMON_PARAMS},
    )


# --- MNS (XML errors) ----------------------------------------------------------------------

def claimed_mns_access_key_id(request: HttpRequest) -> Optional[str]:
    match = MNS_AUTHORIZATION.match(request.headers.get("authorization", ""))
    return match.group(1) if match else None


def _mns_date(value: Optional[str]) -> float:
    if not value:
        raise ApiError(400, "MissingDateHeader", "Date header is required.")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ApiError(400, "InvalidDateHeader", "The Date header format is invalid.")
    if moment is None:
        raise ApiError(400, "InvalidDateHeader", "The Date header format is invalid.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def authenticate_mns(request: HttpRequest, store: CredentialStore, now: float) -> Credential:
    headers = request.headers
    if "authorization" not in headers:
        raise ApiError(400, "MissingAuthorizationHeader", "Authorization header is required.")
    match = MNS_AUTHORIZATION.match(headers["authorization"])
    if match is None:
        raise ApiError(400, "InvalidAuthorizationHeader", "The Authorization header format is invalid.")
    if abs(_mns_date(headers.get("date")) - now) > MAX_CLOCK_SKEW_SECONDS:
        raise ApiError(408, "TimeExpired", "The http request you sent is expired.")
    credential = store.get(match.group(1))
    if credential is None:
        raise ApiError(403, "InvalidAccessKeyId", "The AccessKey Id you provided is not exist.")
    token = headers.get("x-mns-security-token") or headers.get("security-token")
    problem = credential.token_problem(token, now)
    if problem is not None:
        reason = {"missing": "is required", "mismatch": "is invalid", "expired": "has expired"}[problem]
        raise ApiError(403, "AccessDenied", f"The security token you provided {reason}.")
    string_to_sign = signing.mns_string_to_sign(
        request.method, headers.get("content-md5", ""), headers.get("content-type", ""),
        headers["date"], headers, request.target,
    )
    expected = signing.mns_signature(credential.access_key_secret, string_to_sign)
    if not hmac.compare_digest(expected, match.group(2)):
        raise ApiError(
            403, "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    return credential
