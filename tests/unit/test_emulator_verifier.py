"""The emulator's verifier accepts what the official SDKs signed (the recorded vectors) and
refuses the same requests once anything is off."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from local.emulator.auth import NonceCache, authenticate_domain, authenticate_mns
from local.emulator.credentials import Credential, CredentialStore
from local.emulator.errors import ApiError
from local.emulator.http_types import HttpRequest

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "signing-vectors.json").read_text())
INPUTS = VECTORS["inputs"]
SIGNED_AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
STORE = CredentialStore([{"AccessKeyId": INPUTS["AccessKeyId"], "AccessKeySecret": INPUTS["AccessKeySecret"],
                          "SecurityToken": INPUTS["SecurityToken"]}])


def v3_request(**header_changes) -> HttpRequest:
    vector = VECTORS["domain_v3_acs3_hmac_sha256"]
    headers = {name.lower(): value for name, value in vector["headers"].items()}
    headers.update(header_changes)
    return HttpRequest("POST", "/?DomainName=test.com&KeyTag=1", "/", dict(vector["query"]), headers, b"", "127.0.0.1")


def v1_request(**query_changes) -> HttpRequest:
    vector = VECTORS["domain_v1_rpc_hmac_sha1"]
    query = dict(parse_qsl(urlsplit(vector["url"]).query, keep_blank_values=True))
    query.update(query_changes)
    return HttpRequest("POST", "/?...", "/", query, {"host": "domain.aliyuncs.com"}, b"", "127.0.0.1")


def refusal(call) -> str:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.code


def test_the_sdk_v3_vector_is_accepted():
    call = authenticate_domain(v3_request(), STORE, NonceCache(), SIGNED_AT)
    assert (call.style, call.action, call.version) == ("V3", "SaveSingleTaskForDeletingDSRecord", "2018-01-29")
    assert call.params == {"DomainName": "test.com", "KeyTag": "1"}


def test_the_sdk_v1_vector_is_accepted_with_only_the_action_parameters():
    call = authenticate_domain(v1_request(), STORE, NonceCache(), SIGNED_AT)
    assert (call.style, call.action, call.access_key_id) == ("V1", "SaveSingleTaskForDeletingDSRecord", INPUTS["AccessKeyId"])
    assert call.params == {"DomainName": "test.com", "KeyTag": "1"}


@pytest.mark.parametrize("build", [v3_request, v1_request])
def test_a_vector_replayed_is_refused(build):
    nonces = NonceCache()
    authenticate_domain(build(), STORE, nonces, SIGNED_AT)
    assert refusal(lambda: authenticate_domain(build(), STORE, nonces, SIGNED_AT)) == "SignatureNonceUsed"


def test_a_nonce_is_remembered_while_its_request_could_still_be_accepted():
    # Stamped 14 minutes ahead of the clock when first sent, the request is still within the
    # 15-minute skew 28 minutes later: sending it again then must be a replay.
    clock = [SIGNED_AT - 14 * 60]
    nonces = NonceCache(clock=lambda: clock[0])
    assert authenticate_domain(v3_request(), STORE, nonces, clock[0]).action
    clock[0] = SIGNED_AT + 14 * 60
    assert refusal(lambda: authenticate_domain(v3_request(), STORE, nonces, clock[0])) == "SignatureNonceUsed"
    clock[0] = SIGNED_AT - 14 * 60 + 30 * 60  # 30 minutes after its first use it is forgotten
    nonce = v3_request().headers["x-acs-signature-nonce"]
    assert nonces.use(INPUTS["AccessKeyId"], nonce)


@pytest.mark.parametrize("change, code", [
    ({"x-acs-version": "2017-12-18"}, "SignatureDoesNotMatch"),  # signed header altered
    ({"x-acs-security-token": "other"}, "InvalidSecurityToken.MismatchWithAccessKey"),
    ({"x-acs-date": "2024-01-02T03:04:05"}, "InvalidTimeStamp.Format"),
])
def test_an_altered_v3_vector_is_refused(change, code):
    assert refusal(lambda: authenticate_domain(v3_request(**change), STORE, NonceCache(), SIGNED_AT)) == code


def test_a_v3_vector_with_a_different_body_does_not_match():
    request = v3_request()
    request.body = b"DomainName=other.com"
    assert refusal(lambda: authenticate_domain(request, STORE, NonceCache(), SIGNED_AT)) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("change, code", [
    ({"KeyTag": "2"}, "SignatureDoesNotMatch"),
    ({"SignatureMethod": "HMAC-SHA256"}, "IncompleteSignature"),
    ({"Signature": ""}, "IncompleteSignature"),
    ({"SecurityToken": ""}, "MissingSecurityToken"),
    ({"AccessKeyId": "nobody"}, "InvalidAccessKeyId.NotFound"),
])
def test_an_altered_v1_vector_is_refused(change, code):
    assert refusal(lambda: authenticate_domain(v1_request(**change), STORE, NonceCache(), SIGNED_AT)) == code


@pytest.mark.parametrize("offset, accepted", [(-15 * 60, True), (15 * 60, True), (-15 * 60 - 1, False), (15 * 60 + 1, False)])
def test_the_clock_may_be_15_minutes_off_either_way(offset, accepted):
    call = lambda: authenticate_domain(v3_request(), STORE, NonceCache(), SIGNED_AT + offset)  # noqa: E731
    if accepted:
        call()
    else:
        assert refusal(call) == "InvalidTimeStamp.Expired"


def mns_request(**header_changes) -> HttpRequest:
    vector = VECTORS["mns_publish_message"]
    headers = {name.lower(): value for name, value in vector["headers"].items()}
    headers.update(header_changes)
    return HttpRequest("POST", vector["uri"], vector["uri"], {}, headers, vector["body"].encode(), "127.0.0.1")


def test_the_sdk_mns_vector_is_accepted():
    assert authenticate_mns(mns_request(), STORE, SIGNED_AT).access_key_id == INPUTS["AccessKeyId"]


@pytest.mark.parametrize("change, code", [
    ({"x-mns-version": "2015-06-07"}, "SignatureDoesNotMatch"),
    ({"security-token": "other"}, "AccessDenied"),
    ({"authorization": "MNS nobody:abc="}, "InvalidAccessKeyId"),
    ({"date": "Tue, 02 Jan 2024 03:24:05 GMT"}, "TimeExpired"),
])
def test_an_altered_mns_vector_is_refused(change, code):
    assert refusal(lambda: authenticate_mns(mns_request(**change), STORE, SIGNED_AT)) == code


@pytest.mark.parametrize("token, now, problem", [
    ("t", 0, None), (None, 0, "missing"), ("x", 0, "mismatch"), ("t", 2e9, "expired"),
])
def test_token_problems(token, now, problem):
    sts = Credential("STS.k", "s", security_token="t", expiration="2030-01-01T00:00:00Z")
    assert sts.token_problem(token, now) == problem


def test_a_plain_key_takes_no_token():
    plain = Credential("LTAI.k", "s")
    assert plain.token_problem(None, 0) is None and plain.token_problem("t", 0) == "mismatch"
