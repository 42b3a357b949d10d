"""Our Domain API and MNS clients against the emulator: the round trip, and every error class
produced by a real injected fault (or a real closed port) and classified correctly."""
from __future__ import annotations

import socket
from urllib.parse import quote
from datetime import datetime, timedelta, timezone

import pytest

from cloud.credentials import Credentials
from cloud.domain_api import DomainApiClient
from cloud.errors import DeferredError, OutcomeUnknownError, PermanentError, RetryableError
from cloud.http import new_session
from cloud.mns import MnsClient

INBOX = "ds-record-deleter-notifications-inbox"
TOPIC = "ds-record-deleter-notifications"


@pytest.fixture(scope="module")
def session():
    return new_session(4)


def sts(emulator) -> Credentials:
    c = emulator.sts_credentials
    return Credentials(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])


def plain(emulator) -> Credentials:
    c = emulator.access_key
    return Credentials(c["AccessKeyId"], c["AccessKeySecret"])


def domain_client(emulator, session, **options) -> DomainApiClient:
    options.setdefault("credentials", sts(emulator))
    return DomainApiClient(session, endpoint=emulator.url, **options)


def mns_client(emulator, session, **options) -> MnsClient:
    options.setdefault("credentials", sts(emulator))
    return MnsClient(session, endpoint=emulator.url, **options)


def fault(emulator, service, action, kind, **extra):
    emulator.set_faults({"rules": [{"service": service, "action": action, "fault": kind, "rate": 1, **extra}]})


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
@pytest.mark.parametrize("credentials", [sts, plain], ids=["sts", "access-key"])
def test_domain_round_trip(emulator, session, signature_version, credentials):
    client = domain_client(emulator, session, signature_version=signature_version, credentials=credentials(emulator))
    assert {r.key_tag for r in client.query_ds_records("example.org").records} == {12345, 54321}

    task = client.save_deleting_ds_task("example.org", 12345, lang="en", user_client_ip="10.0.0.1")
    [detail] = client.query_task_details(task.task_no, page_size=10).details
    assert (detail.task_no, detail.domain_name, detail.task_status, detail.task_status_code) == (
        task.task_no, "example.org", "EXECUTE_SUCCESS", 2)
    assert [r.key_tag for r in client.query_ds_records("example.org").records] == [54321]

    missing = client.save_deleting_ds_task("example.org", 999)
    [failed] = client.query_task_details(missing.task_no).details
    assert failed.task_status == "EXECUTE_FAILURE" and failed.fail_reason


def test_domain_task_progress_is_followed_to_its_end(emulator, session):
    emulator.set_task_delays(0.2, 0.2)
    client = domain_client(emulator, session)
    task = client.save_deleting_ds_task("example.net", 31589)
    seen = []
    while not seen or seen[-1] not in ("EXECUTE_SUCCESS", "EXECUTE_FAILURE"):
        status = client.query_task_details(task.task_no).details[0].task_status
        if not seen or seen[-1] != status:
            seen.append(status)
    assert seen[0] in ("WAITING_EXECUTE", "EXECUTING") and seen[-1] == "EXECUTE_SUCCESS"


def test_international_site_version_is_accepted(emulator, session):
    client = domain_client(emulator, session, version="2017-12-18")
    assert client.query_ds_records("example.net").records[0].key_tag == 31589


def test_mns_publish_reaches_the_subscribed_queue_and_is_read_back(emulator, session):
    client = mns_client(emulator, session)
    sent = client.publish(TOPIC, '{"TaskNo": "t-1", "note": "<&> é"}', tag="DSDelSubmitted")
    assert sent.message_id
    message = client.receive(INBOX, wait_seconds=1)
    assert message.body == '{"TaskNo": "t-1", "note": "<&> é"}' and message.dequeue_count == 1
    [topic] = [t for t in emulator.snapshot()["topics"] if t["TopicName"] == TOPIC]
    assert [(m["MessageId"], m["MessageTag"]) for m in topic["Published"]] == [(sent.message_id, "DSDelSubmitted")]
    client.delete(INBOX, message.receipt_handle)
    assert client.receive(INBOX, wait_seconds=0) is None


def test_mns_body_md5_matches_the_sent_body(emulator, session):
    from cloud.mns import body_md5
    sent = mns_client(emulator, session).publish(TOPIC, "hello")
    assert sent.body_md5 == body_md5("hello")


def test_mns_send_with_delay_is_not_visible_before_the_delay(emulator, session):
    client = mns_client(emulator, session)
    client.send("ds-record-deleter-followup", "later", delay_seconds=60)
    assert client.receive("ds-record-deleter-followup", wait_seconds=0) is None
    [queue] = [q for q in emulator.snapshot()["queues"] if q["QueueName"] == "ds-record-deleter-followup"]
    assert [(m["MessageBody"], m["State"]) for m in queue["Messages"]] == [("later", "delayed")]
    client.send("ds-record-deleter-followup", "now")
    assert client.receive("ds-record-deleter-followup").body == "now"


def test_mns_refuses_oversized_bodies_before_sending(emulator, session):
    with pytest.raises(ValueError, match="at most 65536 bytes"):
        mns_client(emulator, session).publish(TOPIC, "x" * (64 * 1024 + 1))
    assert emulator.request_log() == []


# --- the Domain API's error classes ---------------------------------------------------------

def test_throttling_is_retryable_and_carries_retry_after(emulator, session):
    fault(emulator, "domain", "SaveSingleTaskForDeletingDSRecord", "throttling", retry_after_ms=250)
    with pytest.raises(RetryableError) as caught:
        domain_client(emulator, session).save_deleting_ds_task("example.net", 31589)
    error = caught.value
    assert (error.code, error.http_status, error.retry_after_seconds) == ("Throttling.User", 400, 0.25)
    assert error.request_id and error.action == "SaveSingleTaskForDeletingDSRecord"
    assert emulator.snapshot()["tasks"] == []


def test_service_unavailable_is_retryable(emulator, session):
    fault(emulator, "domain", "*", "unavailable")
    with pytest.raises(RetryableError) as caught:
        domain_client(emulator, session).save_deleting_ds_task("example.net", 31589)
    assert (caught.value.code, caught.value.http_status) == ("ServiceUnavailable", 503)


def test_internal_error_after_the_task_was_created_is_an_unknown_outcome(emulator, session):
    fault(emulator, "domain", "SaveSingleTaskForDeletingDSRecord", "internal_error_after")
    with pytest.raises(OutcomeUnknownError) as caught:
        domain_client(emulator, session).save_deleting_ds_task("example.net", 31589)
    assert caught.value.code == "InternalError"
    assert len(emulator.snapshot()["tasks"]) == 1  # the ambiguity is real: the task exists


def test_internal_error_on_a_read_is_just_retryable(emulator, session):
    fault(emulator, "domain", "QueryDSRecord", "internal_error")
    with pytest.raises(RetryableError):
        domain_client(emulator, session).query_ds_records("example.net")


def test_timeout_after_sending_is_unknown_for_a_deletion_and_retryable_for_a_read(emulator, session):
    fault(emulator, "domain", "*", "latency_after", latency_ms=1500)
    client = domain_client(emulator, session, timeout=(1.0, 0.3))
    with pytest.raises(OutcomeUnknownError) as caught:
        client.save_deleting_ds_task("example.net", 31589)
    assert caught.value.code == "ReadTimeout"
    with pytest.raises(RetryableError):
        client.query_ds_records("example.net")


@pytest.mark.parametrize("kind", ["drop_before", "drop_after"])
def test_a_dropped_connection_after_sending_is_an_unknown_outcome(emulator, session, kind):
    fault(emulator, "domain", "SaveSingleTaskForDeletingDSRecord", kind)
    with pytest.raises(OutcomeUnknownError) as caught:
        domain_client(emulator, session).save_deleting_ds_task("example.net", 31589)
    assert caught.value.code == "ConnectionLost"
    assert len(emulator.snapshot()["tasks"]) == (1 if kind == "drop_after" else 0)


@pytest.mark.parametrize("status, expected", [
    (429, RetryableError), (503, RetryableError),  # the gateway refused before the service saw it
    (502, OutcomeUnknownError), (504, OutcomeUnknownError),  # a gateway cannot say what happened behind it
])
def test_a_gateway_page_is_classified_by_its_status(emulator, session, status, expected):
    fault(emulator, "domain", "*", "gateway_page", status=status)
    client = domain_client(emulator, session)
    with pytest.raises(expected) as caught:
        client.save_deleting_ds_task("example.net", 31589)
    assert (type(caught.value), caught.value.code, caught.value.http_status) == (expected, f"HTTP{status}", status)
    assert emulator.snapshot()["tasks"] == []
    with pytest.raises(RetryableError):  # a read is safe to repeat whatever happened
        client.query_ds_records("example.net")


def test_an_unreadable_answer_after_the_task_was_created_is_an_unknown_outcome(emulator, session):
    fault(emulator, "domain", "*", "garbled_after")
    client = domain_client(emulator, session)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.save_deleting_ds_task("example.net", 31589)
    assert caught.value.code == "InvalidResponse" and len(emulator.snapshot()["tasks"]) == 1
    with pytest.raises(RetryableError, match="InvalidResponse"):
        client.query_ds_records("example.net")


@pytest.mark.parametrize("answer", [
    {"DSRecordList": [{"KeyTag": "not a number", "Algorithm": 13, "DigestType": 2, "Digest": "AB"}]},
    {"DSRecordList": [{"Algorithm": 13}]},
    {"DSRecordList": ["a string"]},
    {"DSRecordList": 7},
])
def test_a_read_answer_of_another_shape_is_a_typed_retryable_error(emulator, session, answer):
    # The emulator always answers in the documented shape; a service that changed its shape is
    # what this stands in for, so only the answer is replaced.
    class ChangedService(DomainApiClient):
        def call(self, action, params, *, mutating, answers=()):
            return {"RequestId": "r-1", **answer}

    with pytest.raises(RetryableError) as caught:
        ChangedService(session, endpoint=emulator.url, credentials=sts(emulator)).query_ds_records("example.net")
    assert (caught.value.code, caught.value.action) == ("InvalidResponse", "QueryDSRecord")


def test_a_refused_connection_is_retryable(session):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = DomainApiClient(session, Credentials("id", "secret"), endpoint=f"http://127.0.0.1:{port}")
    with pytest.raises(RetryableError) as caught:
        client.save_deleting_ds_task("example.net", 31589)
    assert caught.value.code == "ConnectionRefused"
    # It says where: the service, the call and the endpoint that refused.
    assert str(caught.value).startswith(f"Domain SaveSingleTaskForDeletingDSRecord failed: ConnectionRefused: "
                                        f"127.0.0.1:{port} refused the connection")


@pytest.mark.parametrize("signature_version", ["v3", "v1"])
def test_a_wrong_secret_is_deferred_and_the_token_is_not_echoed(emulator, session, signature_version):
    good = sts(emulator)
    wrong = Credentials(good.access_key_id, "not-the-secret", good.security_token)
    client = domain_client(emulator, session, credentials=wrong, signature_version=signature_version)
    with pytest.raises(DeferredError) as caught:  # nothing was processed: never a final refusal
        client.save_deleting_ds_task("example.net", 31589)
    error = caught.value
    assert error.code == "SignatureDoesNotMatch"
    assert "server string to sign is" in error.message
    for secret in ("not-the-secret", good.security_token, "CAIS%2BEmulator", "CAIS%252BEmulator"):
        assert secret not in str(error) and secret not in error.message


def test_a_v1_call_logs_no_token_even_with_the_root_logger_at_debug(emulator, session):
    import logging
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        domain_client(emulator, session, signature_version="v1").query_ds_records("example.net")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    token = emulator.sts_credentials["SecurityToken"]
    assert all(token not in record.getMessage() and quote(token, safe="") not in record.getMessage()
               for record in records)


def test_proxy_variables_are_never_read(emulator, session, monkeypatch):
    # FC reaches its services directly: a proxy in the environment (here a closed port) is ignored.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:1")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert domain_client(emulator, session).query_ds_records("example.net").records[0].key_tag == 31589


def test_bad_parameters_are_permanent(emulator, session):
    with pytest.raises(PermanentError) as caught:
        domain_client(emulator, session).save_deleting_ds_task("example.net", 70000)
    assert caught.value.code == "InvalidParameter" and "KeyTag" in caught.value.message


def test_a_skewed_clock_is_deferred(emulator, session):
    late = lambda: datetime.now(timezone.utc) - timedelta(minutes=20)
    with pytest.raises(DeferredError) as caught:
        domain_client(emulator, session, clock=late).query_ds_records("example.net")
    assert caught.value.code == "InvalidTimeStamp.Expired"


def test_a_reused_nonce_is_retryable_with_a_fresh_one(emulator, session):
    client = domain_client(emulator, session, nonce=lambda: "the-same-nonce-every-time")
    client.query_ds_records("example.net")
    with pytest.raises(RetryableError) as caught:
        client.query_ds_records("example.net")
    assert caught.value.code == "SignatureNonceUsed"


def test_unknown_and_expired_credentials_are_deferred(emulator, session):
    with pytest.raises(DeferredError) as caught:
        domain_client(emulator, session, credentials=Credentials("LTAI-nobody", "x")).query_ds_records("example.net")
    assert caught.value.code == "InvalidAccessKeyId.NotFound"
    expired = next(c for c in emulator.credentials if c["AccessKeyId"] == "STS.NEmulatorExpiredKey01")
    creds = Credentials(expired["AccessKeyId"], expired["AccessKeySecret"], expired["SecurityToken"])
    with pytest.raises(DeferredError) as caught:
        domain_client(emulator, session, credentials=creds).query_ds_records("example.net")
    assert caught.value.code == "InvalidSecurityToken.Expired"


# --- MNS error classes -------------------------------------------------------------------

@pytest.mark.parametrize("code", [None, "QpsLimitExceeded"])
def test_mns_throttling_is_retryable(emulator, session, code):
    fault(emulator, "mns", "PublishMessage", "throttling", **({"code": code} if code else {}))
    with pytest.raises(RetryableError) as caught:
        mns_client(emulator, session).publish(TOPIC, "x")
    assert caught.value.code == (code or "TooManyRequests")


def test_mns_unavailable_is_retryable_and_internal_error_after_is_unknown(emulator, session):
    client = mns_client(emulator, session)
    fault(emulator, "mns", "PublishMessage", "unavailable")
    with pytest.raises(RetryableError):
        client.publish(TOPIC, "x")
    fault(emulator, "mns", "PublishMessage", "internal_error_after")
    with pytest.raises(OutcomeUnknownError):
        client.publish(TOPIC, "x")
    assert client.receive(INBOX).body == "x"  # it was published after all


def test_mns_unreadable_answers(emulator, session):
    client = mns_client(emulator, session)
    fault(emulator, "mns", "PublishMessage", "garbled_after")
    with pytest.raises(OutcomeUnknownError) as caught:
        client.publish(TOPIC, "hello")
    assert caught.value.code == "InvalidResponse"
    [topic] = [t for t in emulator.snapshot()["topics"] if t["TopicName"] == TOPIC]
    assert len(topic["Published"]) == 1  # it was published: only the answer was lost
    fault(emulator, "mns", "PublishMessage", "gateway_page", status=503)
    with pytest.raises(RetryableError) as refused:
        client.publish(TOPIC, "hello")
    assert (refused.value.code, refused.value.http_status) == ("HTTP503", 503)


def test_mns_missing_topic_wrong_secret_and_old_clock_are_deferred(emulator, session):
    with pytest.raises(DeferredError) as caught:  # a setting to fix: the TaskNo waits for it
        mns_client(emulator, session).publish("no-such-topic", "x")
    assert caught.value.code == "TopicNotExist"
    good = sts(emulator)
    with pytest.raises(DeferredError) as caught:
        mns_client(emulator, session, credentials=Credentials(good.access_key_id, "wrong", good.security_token)
                   ).publish(TOPIC, "x")
    assert caught.value.code == "SignatureDoesNotMatch"
    old = lambda: datetime.now(timezone.utc) - timedelta(minutes=20)
    with pytest.raises(DeferredError) as caught:
        mns_client(emulator, session, clock=old).publish(TOPIC, "x")
    assert caught.value.code == "TimeExpired"
