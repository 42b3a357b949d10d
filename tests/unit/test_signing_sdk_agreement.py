"""Our signers agree with the official SDKs' own signing code on generated requests.

Values cover Unicode, reserved characters and whitespace. Parameter names stay within letters,
digits and '.', as every Alibaba Cloud parameter name does: the tea SDK leaves names unencoded in
V3 while RFC 3986 (and our signer) would encode them, so the two agree only on such names.
"""
from __future__ import annotations

from types import SimpleNamespace

from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from hypothesis import given, settings, strategies as st
from mns.mns_client import MNSClient

from cloud import signing

EXAMPLES = 1000
RESERVED = "!*'();:@&=+$,/?#[]% ~\"<>\\^`{|}"
values = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8", exclude_categories=("Cs",)), st.sampled_from(RESERVED)),
    max_size=40,
)
names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.", min_size=1, max_size=20)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
secrets = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    query=st.dictionaries(names, values, max_size=6),
    extra_headers=st.dictionaries(names.map(lambda n: "x-acs-" + n.lower()), header_values, max_size=4),
    secret=secrets,
    payload=st.binary(max_size=64),
)
def test_v3_authorization_agrees_with_tea_openapi(method, query, extra_headers, secret, payload):
    headers = {"host": "domain.aliyuncs.com", "x-acs-action": "QueryDSRecord", "x-acs-version": "2018-01-29",
               **extra_headers}
    payload_hash = signing.sha256_hex(payload)
    request = SimpleNamespace(method=method, pathname="/", query=dict(query), headers=dict(headers))
    expected = TeaUtils.get_authorization(request, "ACS3-HMAC-SHA256", payload_hash, "AKID", secret)
    assert signing.acs3_authorization("AKID", secret, method, "/", query, headers, payload_hash) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(method=st.sampled_from(["GET", "POST"]),
       params=st.dictionaries(names.filter(lambda n: n != "Signature"), values, min_size=1, max_size=8),
       secret=secrets)
def test_v1_signature_agrees_with_tea_openapi(method, params, secret):
    expected = TeaUtils.get_rpcsignature(dict(params), method, secret)
    assert signing.rpc_v1_signature(secret, method, params) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    body=st.text(max_size=80),
    mns_headers=st.dictionaries(names.map(lambda n: "x-mns-" + n.lower()), header_values, max_size=3),
    resource=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    secret=secrets,
)
def test_mns_authorization_agrees_with_mns_sdk(method, body, mns_headers, resource, secret):
    payload = body.encode("utf-8")
    headers = {"x-mns-version": "2015-06-06", "date": "Tue, 02 Jan 2024 03:04:05 GMT", **mns_headers}
    if payload:
        headers["content-md5"] = signing.mns_content_md5(payload)
        headers["content-type"] = "text/xml;charset=UTF-8"
    credential = SimpleNamespace(get_access_key_id=lambda: "AKID", get_access_key_secret=lambda: secret)
    sdk = MNSClient.__new__(MNSClient)  # get_signature needs no connection state
    expected = sdk.get_signature(method, headers, "/" + resource, credential)

    string_to_sign = signing.mns_string_to_sign(
        method, headers.get("content-md5", ""), headers.get("content-type", ""), headers["date"], headers,
        "/" + resource,
    )
    assert signing.mns_authorization("AKID", secret, string_to_sign) == expected
