"""Hand-signed requests: the checks the SDKs never trip (replays, clocks, malformed signatures,
odd bodies), seen at the HTTP level, and the request log that must never hold a secret."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from local.emulator import raw_client

TOPIC_MESSAGES = "/topics/ds-record-deleter-notifications/messages"
QUEUE_MESSAGES = "/queues/ds-record-deleter-followup/messages"
QUERY = ("QueryDSRecord", {"DomainName": "example.com"})


def send(prepared: requests.PreparedRequest) -> requests.Response:
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


def code_of(response: requests.Response) -> str:
    if response.headers["Content-Type"].startswith("text/xml"):
        return response.text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    return response.json()["Code"]


def skewed(minutes: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


@pytest.mark.parametrize("sign", [raw_client.domain_request_v3, raw_client.domain_request_v1])
def test_a_replayed_nonce_is_refused(emulator, sign):
    prepared = sign(emulator.url, emulator.sts_credentials, *QUERY)
    assert send(prepared).status_code == 200
    replay = send(prepared)
    assert (replay.status_code, code_of(replay)) == (400, "SignatureNonceUsed")


def test_a_nonce_is_remembered_per_access_key(emulator):
    nonce = "0123456789abcdef0123456789abcdef"
    for credential in (emulator.sts_credentials, emulator.access_key):
        assert send(raw_client.domain_request_v3(emulator.url, credential, *QUERY, nonce=nonce)).status_code == 200


def test_a_refused_signature_does_not_burn_the_nonce(emulator):
    nonce = "fedcba9876543210fedcba9876543210"
    wrong = {**emulator.access_key, "AccessKeySecret": "wrong"}
    assert code_of(send(raw_client.domain_request_v3(emulator.url, wrong, *QUERY, nonce=nonce))) == "SignatureDoesNotMatch"
    assert send(raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY, nonce=nonce)).status_code == 200


@pytest.mark.parametrize("minutes", [-20, 20])
@pytest.mark.parametrize("sign", [raw_client.domain_request_v3, raw_client.domain_request_v1])
def test_a_domain_timestamp_20_minutes_off_is_expired(emulator, sign, minutes):
    response = send(sign(emulator.url, emulator.access_key, *QUERY, moment=skewed(minutes)))
    assert (response.status_code, code_of(response)) == (400, "InvalidTimeStamp.Expired")


def test_a_domain_timestamp_14_minutes_off_is_accepted(emulator):
    response = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY, moment=skewed(-14)))
    assert response.status_code == 200


def test_a_malformed_timestamp_is_a_format_error(emulator):
    prepared = raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY,
                                            extra_headers={"x-acs-date": "2024-01-02 03:04:05"})
    assert code_of(send(prepared)) == "InvalidTimeStamp.Format"


@pytest.mark.parametrize("minutes", [-20, 20])
def test_an_mns_date_20_minutes_off_is_time_expired(emulator, minutes):
    body = raw_client.message_xml("x")
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES, body,
                                           moment=skewed(minutes)))
    assert (response.status_code, code_of(response)) == (408, "TimeExpired")


def test_v3_signed_headers_must_cover_every_acs_header(emulator):
    prepared = raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY)
    prepared.headers["x-acs-extra"] = "added after signing"
    response = send(prepared)
    assert (response.status_code, code_of(response)) == (400, "IncompleteSignature")


@pytest.mark.parametrize("authorization", ["ACS3-HMAC-SHA256 Credential=x", "Bearer abc", ""])
def test_a_malformed_v3_authorization_is_incomplete(emulator, authorization):
    prepared = raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY)
    prepared.headers["Authorization"] = authorization
    assert code_of(send(prepared)) == "IncompleteSignature"


def test_a_body_that_differs_from_its_hash_does_not_match(emulator):
    prepared = raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryDSRecord", {},
                                            body=b"DomainName=example.com",
                                            extra_headers={"content-type": "application/x-www-form-urlencoded"})
    assert send(prepared).status_code == 200  # form parameters are read from the body
    prepared = raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryDSRecord", {},
                                            body=b"DomainName=example.com",
                                            extra_headers={"content-type": "application/x-www-form-urlencoded"})
    prepared.body = b"DomainName=example.net"
    assert code_of(send(prepared)) == "SignatureDoesNotMatch"


def test_a_v1_request_without_a_signature_is_incomplete(emulator):
    response = requests.post(f"{emulator.url}/?Action=QueryDSRecord&Version=2018-01-29&DomainName=example.com",
                             timeout=10)
    assert (response.status_code, code_of(response)) == (400, "IncompleteSignature")


def test_the_v1_mismatch_message_quotes_the_string_to_sign_as_the_real_service_does(emulator):
    wrong = {**emulator.sts_credentials, "AccessKeySecret": "wrong"}
    message = send(raw_client.domain_request_v1(emulator.url, wrong, *QUERY)).json()["Message"]
    assert message.startswith("Specified signature does not match our calculation. server string to sign is:POST&%2F&")
    assert "SecurityToken%3DCAIS%252BEmulatorSecurityToken" in message  # callers must redact it


def test_an_unknown_action_and_a_wrong_version(emulator):
    unknown = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryDSRecordList", {}))
    assert (unknown.status_code, code_of(unknown)) == (404, "InvalidApi.NotFound")
    wrong_version = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY, version="2015-01-01"))
    assert (wrong_version.status_code, code_of(wrong_version)) == (400, "InvalidVersion")
    intl = send(raw_client.domain_request_v1(emulator.url, emulator.access_key, *QUERY, version="2017-12-18"))
    assert intl.status_code == 200


def test_domain_errors_have_the_documented_shape(emulator):
    response = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, "SaveSingleTaskForDeletingDSRecord",
                                                 {"DomainName": "example.com", "KeyTag": "x"}))
    body = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    assert response.headers["x-acs-request-id"] == body["RequestId"]
    assert (body["Code"], response.status_code) == ("InvalidParameter", 400) and "KeyTag" in body["Message"]


@pytest.mark.parametrize("params, code", [
    ({"TaskNo": "t", "PageNum": "1"}, "MissingParameter"),
    ({"TaskNo": "t", "PageNum": "0", "PageSize": "10"}, "InvalidParameter"),
    ({"TaskNo": "t", "PageNum": "1", "PageSize": "1001"}, "InvalidParameter"),
    ({"TaskNo": "t", "PageNum": "1", "PageSize": "10", "TaskStatus": "4"}, "InvalidParameter"),
    ({"TaskNo": "t", "PageNum": "1", "PageSize": "10", "Lang": "fr"}, "InvalidParameter"),
])
def test_query_task_detail_list_parameters(emulator, params, code):
    response = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryTaskDetailList", params))
    assert code_of(response) == code


# --- MNS -----------------------------------------------------------------------------------

def test_mns_authorization_and_date_headers_are_required(emulator):
    prepared = raw_client.mns_request(emulator.url, emulator.access_key, "GET", QUEUE_MESSAGES)
    del prepared.headers["Authorization"]
    assert code_of(send(prepared)) == "MissingAuthorizationHeader"
    prepared.headers["Authorization"] = "MNS no-colon-here"
    assert code_of(send(prepared)) == "InvalidAuthorizationHeader"
    prepared = raw_client.mns_request(emulator.url, emulator.access_key, "GET", QUEUE_MESSAGES)
    prepared.headers["date"] = "yesterday"
    assert code_of(send(prepared)) == "InvalidDateHeader"
    del prepared.headers["date"]
    assert code_of(send(prepared)) == "MissingDateHeader"


def test_an_mns_error_is_xml_with_a_request_id(emulator):
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", "/topics/nope/messages",
                                           raw_client.message_xml("x")))
    assert (response.status_code, code_of(response)) == (404, "TopicNotExist")
    assert response.headers["Content-Type"] == "text/xml;charset=utf-8"
    assert f"<RequestId>{response.headers['x-mns-request-id']}</RequestId>" in response.text


def test_malformed_xml(emulator):
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES,
                                           b"<Message><MessageBody>x</Message>"))
    assert (response.status_code, code_of(response)) == (400, "MalformedXML")


def test_a_content_md5_that_does_not_match_the_body(emulator):
    prepared = raw_client.mns_request(emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES,
                                      raw_client.message_xml("x"), extra_headers={"content-md5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    assert code_of(send(prepared)) == "InvalidDegist"


def test_the_rfc_1864_content_md5_is_accepted_too(emulator):
    import base64
    import hashlib
    body = raw_client.message_xml("x")
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES, body,
                                           extra_headers={"content-md5": md5}))
    assert response.status_code == 201


def test_a_wrong_mns_version_is_refused(emulator):
    prepared = raw_client.mns_request(emulator.url, emulator.access_key, "GET", QUEUE_MESSAGES,
                                      extra_headers={"x-mns-version": "2014-07-08"})
    assert code_of(send(prepared)) == "InvalidArgument"


def test_the_signed_sts_token_header_is_accepted(emulator):
    credential = {k: v for k, v in emulator.sts_credentials.items() if k != "SecurityToken"}
    prepared = raw_client.mns_request(emulator.url, credential, "POST", TOPIC_MESSAGES, raw_client.message_xml("x"),
                                      extra_headers={"x-mns-security-token": emulator.sts_credentials["SecurityToken"]})
    assert send(prepared).status_code == 201


@pytest.mark.parametrize("fields, named", [
    ({"MessageTag": "t" * 17}, "MessageTag"),
])
def test_publish_argument_limits(emulator, fields, named):
    body = raw_client.message_xml("x", **fields)
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES, body))
    assert (response.status_code, code_of(response)) == (400, "InvalidArgument") and named in response.text


@pytest.mark.parametrize("fields, named", [
    ({"DelaySeconds": "604801"}, "DelaySeconds"),
    ({"Priority": "0"}, "Priority"),
])
def test_send_argument_limits(emulator, fields, named):
    body = raw_client.message_xml("x", **fields)
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", QUEUE_MESSAGES, body))
    assert (response.status_code, code_of(response)) == (400, "InvalidArgument") and named in response.text


def test_wait_seconds_over_30_is_refused(emulator):
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "GET", QUEUE_MESSAGES + "?waitseconds=31"))
    assert code_of(response) == "InvalidArgument"


def test_batch_receive_returns_up_to_n_messages(emulator):
    for body in ("a", "b", "c"):
        send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", QUEUE_MESSAGES, raw_client.message_xml(body)))
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "GET",
                                           QUEUE_MESSAGES + "?numOfMessages=2&waitseconds=0"))
    assert response.status_code == 200 and response.text.count("<ReceiptHandle>") == 2
    assert "<Messages" in response.text


def test_a_delete_without_a_receipt_handle(emulator):
    response = send(raw_client.mns_request(emulator.url, emulator.access_key, "DELETE", QUEUE_MESSAGES))
    assert code_of(response) == "MissingReceiptHandle"


# --- the request log --------------------------------------------------------------------------

def test_the_request_log_records_calls_and_never_a_secret(emulator):
    sts = emulator.sts_credentials
    send(raw_client.domain_request_v1(emulator.url, {**sts, "AccessKeySecret": "wrong"}, *QUERY))
    send(raw_client.domain_request_v3(emulator.url, sts, *QUERY))
    send(raw_client.mns_request(emulator.url, sts, "POST", TOPIC_MESSAGES, raw_client.message_xml("x")))

    entries = requests.get(f"{emulator.url}/__emulator__/requests", timeout=5).json()

    assert [(e["service"], e["action"], e["status"], e["code"]) for e in entries] == [
        ("domain", "QueryDSRecord", 400, "SignatureDoesNotMatch"),
        ("domain", "QueryDSRecord", 200, None),
        ("mns", "PublishMessage", 201, None),
    ]
    assert {e["access_key_id"] for e in entries} == {sts["AccessKeyId"]}
    dumped = json.dumps(entries)
    for secret in (sts["AccessKeySecret"], sts["SecurityToken"], "CAIS", "Emulator"):
        assert secret not in dumped.replace(sts["AccessKeyId"], "")


def test_the_request_log_can_be_cleared(emulator):
    send(raw_client.domain_request_v3(emulator.url, emulator.access_key, *QUERY))
    assert requests.delete(f"{emulator.url}/__emulator__/requests", timeout=5).status_code == 200
    assert requests.get(f"{emulator.url}/__emulator__/requests", timeout=5).json() == []


@pytest.mark.parametrize("method, target, headers, body", [
    ("POST", "/", {}, b""),
    ("POST", "/", {"Authorization": "ACS3-HMAC-SHA256 "}, b""),
    ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"\xff\xfe=\x00"),
    ("POST", "/topics/x/messages", {"Authorization": "MNS a:b"}, b"\xff"),
    ("GET", "/queues/x/messages", {"Authorization": "MNS a:b", "Date": "Mon, 99 Jan 2024 00:00:00 GMT"}, b""),
    ("PUT", "/__emulator__/faults", {}, b"\xff"),
    ("PUT", "/__emulator__/faults", {}, b'{"rules": [5]}'),
    ("POST", "/__emulator__/domains", {}, b'{"DomainName": "a.com", "DSRecords": [{"KeyTag": "x"}]}'),
    ("DELETE", "/", {}, b""),
])
def test_odd_requests_get_a_client_error_not_a_crash(emulator, method, target, headers, body):
    response = requests.request(method, emulator.url + target, headers=headers, data=body, timeout=10)
    assert 400 <= response.status_code < 500
    assert "EmulatorBug" not in response.text
