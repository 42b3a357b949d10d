"""The official SDK clients, unchanged, against the emulator: what works and what is refused."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import requests
from alibabacloud_domain20180129 import models as domain_models
from alibabacloud_domain20180129.client import Client as DomainClient
from alibabacloud_tea_openapi import utils_models as openapi_models
from alibabacloud_tea_openapi.exceptions import ClientException
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message
from mns.topic import TopicMessage

from local.emulator.domain_state import BEIJING, beijing_day_start

NOTIFICATIONS_TOPIC = "ds-record-deleter-notifications"
INBOX = "ds-record-deleter-notifications-inbox"
FOLLOWUP = "ds-record-deleter-followup"
SIGNATURES = {"V3": None, "V1": "v2"}  # Config.signature_algorithm: None is ACS3-HMAC-SHA256


def domain_client(emulator, credential, signature="V3") -> DomainClient:
    config = openapi_models.Config(
        access_key_id=credential["AccessKeyId"], access_key_secret=credential["AccessKeySecret"],
        security_token=credential.get("SecurityToken"), endpoint=emulator.url.split("://", 1)[1],
        protocol="http", signature_algorithm=SIGNATURES[signature],
    )
    return DomainClient(config)


def mns_account(emulator, credential) -> Account:
    return Account(emulator.url, credential["AccessKeyId"], credential["AccessKeySecret"],
                   credential.get("SecurityToken", ""))


def delete_ds(client, domain, key_tag) -> str:
    request = domain_models.SaveSingleTaskForDeletingDSRecordRequest(domain_name=domain, key_tag=key_tag)
    return client.save_single_task_for_deleting_dsrecord(request).body.task_no


def task_detail(client, task_no):
    request = domain_models.QueryTaskDetailListRequest(task_no=task_no, page_num=1, page_size=10)
    details = client.query_task_detail_list(request).body.data.task_detail
    assert len(details) == 1
    return details[0]


def ds_records(client, domain):
    request = domain_models.QueryDSRecordRequest(domain_name=domain)
    return client.query_dsrecord(request).body.dsrecord_list


def domain_error(call) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value


def mns_error(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as caught:
        call()
    return caught.value


def credential_kinds(emulator):
    return {"sts": emulator.sts_credentials, "plain": emulator.access_key}


# --- Domain API: the happy path, with every signature style and credential kind -------------

@pytest.mark.parametrize("signature", ["V3", "V1"])
@pytest.mark.parametrize("kind", ["sts", "plain"])
def test_delete_runs_to_success_then_the_record_is_gone(emulator, signature, kind):
    client = domain_client(emulator, credential_kinds(emulator)[kind], signature)
    assert [r.key_tag for r in ds_records(client, "example.net")] == [31589]

    task_no = delete_ds(client, "example.net", 31589)
    detail = task_detail(client, task_no)

    assert (detail.task_status, detail.task_status_code) == ("EXECUTE_SUCCESS", 2)
    assert detail.domain_name == "example.net" and detail.try_count == 1
    assert detail.fail_reason == ""
    assert ds_records(client, "example.net") == []


@pytest.mark.parametrize("signature", ["V3", "V1"])
def test_deleting_a_missing_key_tag_ends_in_failure_with_a_reason(emulator, signature):
    client = domain_client(emulator, emulator.sts_credentials, signature)
    detail = task_detail(client, delete_ds(client, "example.net", 999))
    assert (detail.task_status, detail.task_status_code) == ("EXECUTE_FAILURE", 3)
    assert "999" in detail.fail_reason and detail.error_msg
    assert [r.key_tag for r in ds_records(client, "example.net")] == [31589]


def test_one_deletion_removes_every_record_under_the_key_tag(emulator):
    client = domain_client(emulator, emulator.access_key)
    assert len(ds_records(client, "example.com")) == 2  # SHA-1 and SHA-256 digests of one key
    assert task_detail(client, delete_ds(client, "example.com", 2371)).task_status == "EXECUTE_SUCCESS"
    assert ds_records(client, "example.com") == []


def test_records_come_back_with_integer_fields(emulator):
    records = ds_records(domain_client(emulator, emulator.access_key), "example.org")
    assert sorted((r.key_tag, r.algorithm, r.digest_type) for r in records) == [(12345, 13, 2), (54321, 13, 2)]
    assert all(len(r.digest) == 64 for r in records)


def test_each_accepted_deletion_is_a_new_task(emulator):
    client = domain_client(emulator, emulator.access_key)
    first, second = delete_ds(client, "example.org", 12345), delete_ds(client, "example.org", 12345)
    assert first != second
    assert task_detail(client, first).task_status == "EXECUTE_SUCCESS"
    assert task_detail(client, second).task_status == "EXECUTE_FAILURE"  # nothing left to delete


def test_a_task_waits_then_executes_then_ends(emulator):
    requests.put(f"{emulator.url}/__emulator__/settings", timeout=5,
                 json={"task_delays": {"waiting_seconds": 0.5, "executing_seconds": 0.5}}).raise_for_status()
    client = domain_client(emulator, emulator.sts_credentials)
    task_no = delete_ds(client, "example.org", 54321)
    seen = []
    deadline = time.monotonic() + 10
    while not seen or seen[-1] not in ("EXECUTE_SUCCESS", "EXECUTE_FAILURE"):
        assert time.monotonic() < deadline
        status = task_detail(client, task_no).task_status
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.05)
    assert seen == ["WAITING_EXECUTE", "EXECUTING", "EXECUTE_SUCCESS"]


def test_a_listing_lag_hides_a_new_task_from_both_listings_until_it_passes(emulator):
    """The emulator's stand-in for a read replica behind the service's answer (PUT settings
    listing_lag_seconds): the TaskNo is answered, the listings do not show it yet."""
    answer = requests.put(f"{emulator.url}/__emulator__/settings", timeout=5, json={"listing_lag_seconds": 0.6})
    answer.raise_for_status()
    assert answer.json()["listing_lag_seconds"] == 0.6
    client = domain_client(emulator, emulator.sts_credentials)
    task_no = delete_ds(client, "example.org", 54321)
    request = domain_models.QueryTaskDetailListRequest(task_no=task_no, page_num=1, page_size=10)
    assert client.query_task_detail_list(request).body.data.task_detail == []
    assert task_no not in [t.task_no for t in task_list(client).data.task_info]
    time.sleep(0.7)
    assert task_detail(client, task_no).task_no == task_no
    assert task_no in [t.task_no for t in task_list(client).data.task_info]
    refused = requests.put(f"{emulator.url}/__emulator__/settings", timeout=5, json={"listing_lag_seconds": -1})
    assert refused.status_code == 400 and "listing_lag_seconds" in refused.text


def task_list(client, page_num=1, page_size=100, begin_ms=None, end_ms=None):
    request = domain_models.QueryTaskListRequest(page_num=page_num, page_size=page_size,
                                                 begin_create_time=begin_ms, end_create_time=end_ms)
    return client.query_task_list(request).body


def test_task_list_is_newest_first_and_pages(emulator):
    client = domain_client(emulator, emulator.access_key, "V1")
    task_nos = [delete_ds(client, "example.org", tag) for tag in (12345, 54321, 1)]
    body = task_list(client, page_size=2)
    assert [info.task_no for info in body.data.task_info] == task_nos[::-1][:2]
    assert (body.total_item_num, body.total_page_num, body.next_page, body.pre_page) == (3, 2, True, False)
    assert body.data.task_info[0].task_type == "DELETE_DS_RECORD"
    last = task_list(client, page_num=2, page_size=2)
    assert ([info.task_no for info in last.data.task_info], last.next_page, last.pre_page) == (
        task_nos[:1], False, True)


def test_task_list_items_are_documented_task_infos(emulator):
    client = domain_client(emulator, emulator.sts_credentials)
    succeeded, failed = delete_ds(client, "example.net", 31589), delete_ds(client, "example.net", 999)
    assert (task_detail(client, succeeded).task_status, task_detail(client, failed).task_status) == (
        "EXECUTE_SUCCESS", "EXECUTE_FAILURE")
    infos = {info.task_no: info for info in task_list(client).data.task_info}
    for task_no in (succeeded, failed):  # the list's status is task-level: finished is COMPLETE
        info = infos[task_no]
        assert (info.task_status, info.task_status_code, info.task_num) == ("COMPLETE", 3, 1)
        assert (info.task_cancel_status, info.task_cancel_status_code) == ("INIT", 0)
        assert info.task_type_description == "Delete DS record" and info.clientip == "127.0.0.1"
        created = datetime.strptime(info.create_time, "%b %d,%Y %H:%M:%S")  # Dec 26,2017 11:00:54
        assert abs(created - datetime.now(BEIJING).replace(tzinfo=None)) < timedelta(minutes=1)


def test_a_waiting_task_is_listed_as_waiting(emulator):
    emulator.set_task_delays(60, 60)
    client = domain_client(emulator, emulator.access_key)
    delete_ds(client, "example.org", 12345)
    [info] = task_list(client).data.task_info
    assert (info.task_status, info.task_status_code) == ("WAITING_EXECUTE", 1)


def test_task_list_time_bounds_count_whole_beijing_days(emulator):
    client = domain_client(emulator, emulator.access_key)
    task_no = delete_ds(client, "example.org", 12345)
    [task] = emulator.snapshot()["tasks"]
    day_start = beijing_day_start(task["CreateTimeMs"])
    day_end = day_start + 24 * 3600 * 1000 - 1

    def listed(begin_ms=None, end_ms=None):
        return [info.task_no for info in task_list(client, begin_ms=begin_ms, end_ms=end_ms).data.task_info]

    # A begin later the same day, an end earlier the same day: the task is listed all the same.
    assert listed(begin_ms=day_end) == listed(end_ms=day_start) == listed(day_end, day_start) == [task_no]
    assert listed(begin_ms=day_end + 1) == listed(end_ms=day_start - 1) == []


# --- Domain API: refusals ---------------------------------------------------------------

@pytest.mark.parametrize("signature", ["V3", "V1"])
def test_a_wrong_secret_is_signature_does_not_match(emulator, signature):
    wrong = {**emulator.sts_credentials, "AccessKeySecret": "not-the-secret"}
    error = domain_error(lambda: ds_records(domain_client(emulator, wrong, signature), "example.com"))
    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)
    assert "server string to sign is:" in error.message


@pytest.mark.parametrize("signature", ["V3", "V1"])
def test_an_unknown_access_key_is_not_found(emulator, signature):
    stranger = {"AccessKeyId": "LTAI5tNobodyKnowsMe", "AccessKeySecret": "whatever"}
    error = domain_error(lambda: ds_records(domain_client(emulator, stranger, signature), "example.com"))
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)


@pytest.mark.parametrize("signature", ["V3", "V1"])
def test_an_expired_sts_triple_is_refused(emulator, signature):
    expired = next(c for c in emulator.credentials if c["AccessKeyId"] == "STS.NEmulatorExpiredKey01")
    error = domain_error(lambda: ds_records(domain_client(emulator, expired, signature), "example.com"))
    assert error.code == "InvalidSecurityToken.Expired"


@pytest.mark.parametrize("signature", ["V3", "V1"])
def test_a_wrong_token_is_refused(emulator, signature):
    wrong = {**emulator.sts_credentials, "SecurityToken": "CAIS+SomebodyElsesToken=="}
    error = domain_error(lambda: ds_records(domain_client(emulator, wrong, signature), "example.com"))
    assert error.code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_an_sts_key_without_its_token_is_refused(emulator):
    without = {k: v for k, v in emulator.sts_credentials.items() if k != "SecurityToken"}
    error = domain_error(lambda: ds_records(domain_client(emulator, without), "example.com"))
    assert error.code == "MissingSecurityToken"


def test_a_missing_key_tag_is_missing_parameter(emulator):
    client = domain_client(emulator, emulator.access_key)
    request = domain_models.SaveSingleTaskForDeletingDSRecordRequest(domain_name="example.com")
    error = domain_error(lambda: client.save_single_task_for_deleting_dsrecord(request))
    assert (error.code, error.status_code) == ("MissingParameter", 400)
    assert '"KeyTag"' in error.message


@pytest.mark.parametrize("domain, key_tag, named", [
    ("example.com", 70000, "KeyTag"),
    ("example.com", -1, "KeyTag"),
    ("not a domain", 2371, "DomainName"),
    ("localhost", 2371, "DomainName"),
    ("-bad-.com", 2371, "DomainName"),
])
def test_invalid_parameters_are_named(emulator, domain, key_tag, named):
    client = domain_client(emulator, emulator.access_key)
    error = domain_error(lambda: delete_ds(client, domain, key_tag))
    assert (error.code, error.status_code) == ("InvalidParameter", 400)
    assert named in error.message


def test_nothing_is_created_by_refused_calls(emulator):
    client = domain_client(emulator, emulator.access_key)
    domain_error(lambda: delete_ds(client, "example.com", 70000))
    domain_error(lambda: delete_ds(client, "unknown-domain.com", 1))
    assert requests.get(f"{emulator.url}/__emulator__/state", timeout=5).json()["tasks"] == []


def test_a_domain_outside_the_account_is_refused(emulator):
    error = domain_error(lambda: delete_ds(domain_client(emulator, emulator.access_key), "elsewhere.com", 1))
    assert error.code == "DomainNotExist"


# --- MNS ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sts", "plain"])
def test_a_published_message_reaches_the_subscribed_queue(emulator, kind):
    account = mns_account(emulator, credential_kinds(emulator)[kind])
    published = account.get_topic(NOTIFICATIONS_TOPIC).publish_message(
        TopicMessage('{"task": "e893148f", "note": "<&>"}', "deleted"))
    inbox = account.get_queue(INBOX)
    inbox.set_encoding(False)  # a SIMPLIFIED subscription delivers the raw body

    received = inbox.receive_message(1)

    assert received.message_body == '{"task": "e893148f", "note": "<&>"}'
    assert received.message_body_md5 == published.message_body_md5
    assert received.dequeue_count == 1
    inbox.delete_message(received.receipt_handle)
    assert mns_error(lambda: inbox.receive_message(0)).type == "MessageNotExist"


def test_a_received_message_stays_invisible_until_deleted(emulator):
    queue = mns_account(emulator, emulator.access_key).get_queue(FOLLOWUP)
    queue.send_message(Message("once"))
    first = queue.receive_message(0)
    assert mns_error(lambda: queue.receive_message(0)).type == "MessageNotExist"
    queue.delete_message(first.receipt_handle)
    assert mns_error(lambda: queue.delete_message(first.receipt_handle)).type == "ReceiptHandleError"


def test_a_made_up_receipt_handle_is_refused(emulator):
    queue = mns_account(emulator, emulator.access_key).get_queue(FOLLOWUP)
    assert mns_error(lambda: queue.delete_message("1-0123456789abcdef")).type == "ReceiptHandleError"


def test_a_wrong_mns_secret_is_signature_does_not_match(emulator):
    wrong = {**emulator.access_key, "AccessKeySecret": "not-the-secret"}
    topic = mns_account(emulator, wrong).get_topic(NOTIFICATIONS_TOPIC)
    assert mns_error(lambda: topic.publish_message(TopicMessage("x"))).type == "SignatureDoesNotMatch"


def test_an_unknown_mns_key_is_invalid_access_key_id(emulator):
    stranger = {"AccessKeyId": "LTAI5tNobodyKnowsMe", "AccessKeySecret": "whatever"}
    topic = mns_account(emulator, stranger).get_topic(NOTIFICATIONS_TOPIC)
    assert mns_error(lambda: topic.publish_message(TopicMessage("x"))).type == "InvalidAccessKeyId"


@pytest.mark.parametrize("change", [
    {"SecurityToken": "CAIS+SomebodyElsesToken=="},  # wrong
    {"SecurityToken": ""},  # missing
])
def test_a_bad_mns_token_is_access_denied(emulator, change):
    topic = mns_account(emulator, {**emulator.sts_credentials, **change}).get_topic(NOTIFICATIONS_TOPIC)
    assert mns_error(lambda: topic.publish_message(TopicMessage("x"))).type == "AccessDenied"


def test_an_expired_mns_token_is_access_denied(emulator):
    expired = next(c for c in emulator.credentials if c["AccessKeyId"] == "STS.NEmulatorExpiredKey01")
    topic = mns_account(emulator, expired).get_topic(NOTIFICATIONS_TOPIC)
    error = mns_error(lambda: topic.publish_message(TopicMessage("x")))
    assert error.type == "AccessDenied" and "expired" in error.message


def test_unknown_topic_and_queue(emulator):
    account = mns_account(emulator, emulator.access_key)
    assert mns_error(lambda: account.get_topic("no-such-topic").publish_message(TopicMessage("x"))).type == "TopicNotExist"
    assert mns_error(lambda: account.get_queue("no-such-queue").send_message(Message("x"))).type == "QueueNotExist"


def test_a_message_over_64_kib_is_refused_and_one_at_the_limit_is_not(emulator):
    topic = mns_account(emulator, emulator.access_key).get_topic(NOTIFICATIONS_TOPIC)
    error = mns_error(lambda: topic.publish_message(TopicMessage("x" * 65537)))
    assert error.type == "InvalidArgument" and "65536" in error.message
    assert topic.publish_message(TopicMessage("x" * 65536)).message_id

