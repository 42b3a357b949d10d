"""Hand-signed requests to the emulator (or any endpoint), for tests that must control every
byte: a replayed nonce, a skewed clock, a wrong token, a body the SDKs would never send.

Each function returns a requests.PreparedRequest: send it with requests.Session().send(),
as many times as the test needs. Signing uses cloud.signing, the project's own signer.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Dict, Mapping, Optional
from urllib.parse import urlencode, urlsplit

import requests

from cloud import signing
from cloud.mns import message_xml  # noqa: F401  (the tests build messages with it)

from .auth import ACS_DATE_FORMAT
from .domain_params import API_VERSIONS
from .mns_service import API_VERSION as MNS_VERSION

DOMAIN_VERSION = API_VERSIONS[0]


def _utc(moment: Optional[datetime]) -> datetime:
    return moment or datetime.now(timezone.utc)


def domain_request_v3(
    url: str, credential: Mapping[str, str], action: str, params: Mapping[str, str], *,
    version: str = DOMAIN_VERSION, nonce: Optional[str] = None, moment: Optional[datetime] = None,
    body: bytes = b"", extra_headers: Optional[Mapping[str, str]] = None,
) -> requests.PreparedRequest:
    """POST / signed with ACS3-HMAC-SHA256; every header given here is signed."""
    headers = {
        "host": urlsplit(url).netloc, "x-acs-action": action, "x-acs-version": version,
        "x-acs-date": _utc(moment).strftime(ACS_DATE_FORMAT),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": signing.sha256_hex(body), **(extra_headers or {}),
    }
    if credential.get("SecurityToken"):
        headers["x-acs-security-token"] = credential["SecurityToken"]
    headers["Authorization"] = signing.acs3_authorization(
        credential["AccessKeyId"], credential["AccessKeySecret"], "POST", "/", params, headers,
        headers["x-acs-content-sha256"],
    )
    query = signing.canonical_query(params)
    return requests.Request("POST", f"{url}/?{query}" if query else f"{url}/", headers=headers,
                            data=body or None).prepare()


def domain_request_v1(
    url: str, credential: Mapping[str, str], action: str, params: Mapping[str, str], *,
    version: str = DOMAIN_VERSION, nonce: Optional[str] = None, moment: Optional[datetime] = None,
    method: str = "POST",
) -> requests.PreparedRequest:
    """RPC V1 (HMAC-SHA1): every parameter in the query string."""
    query: Dict[str, str] = {
        "Action": action, "Version": version, "Format": "JSON",
        "Timestamp": _utc(moment).strftime(ACS_DATE_FORMAT), "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "AccessKeyId": credential["AccessKeyId"],
        **params,
    }
    if credential.get("SecurityToken"):
        query["SecurityToken"] = credential["SecurityToken"]
    query["Signature"] = signing.rpc_v1_signature(credential["AccessKeySecret"], method, query)
    return requests.Request(method, f"{url}/?{urlencode(query)}").prepare()


def mns_request(
    url: str, credential: Mapping[str, str], method: str, resource: str, body: bytes = b"", *,
    moment: Optional[datetime] = None, extra_headers: Optional[Mapping[str, str]] = None,
) -> requests.PreparedRequest:
    """An MNS call signed as the official SDK signs it (token in the unsigned security-token)."""
    headers = {"x-mns-version": MNS_VERSION, "date": format_datetime(_utc(moment), usegmt=True),
               **(extra_headers or {})}
    if body:
        headers.setdefault("content-md5", signing.mns_content_md5(body))
        headers.setdefault("content-type", "text/xml;charset=UTF-8")
    string_to_sign = signing.mns_string_to_sign(
        method, headers.get("content-md5", ""), headers.get("content-type", ""), headers["date"], headers, resource
    )
    headers["Authorization"] = signing.mns_authorization(
        credential["AccessKeyId"], credential["AccessKeySecret"], string_to_sign
    )
    if credential.get("SecurityToken"):
        headers["security-token"] = credential["SecurityToken"]
    return requests.Request(method, url + resource, headers=headers, data=body or None).prepare()
