"""Fault injection seen at the HTTP level, run-time control through the admin API, and many
clients at once."""
from __future__ import annotations

import random
import threading
import time

import pytest
import requests

from local.emulator import Emulator, raw_client

DELETE = ("SaveSingleTaskForDeletingDSRecord", {"DomainName": "example.org", "KeyTag": "12345"})
INBOX = "ds-record-deleter-notifications-inbox"
TOPIC_MESSAGES = "/topics/ds-record-deleter-notifications/messages"


def admin(emulator, method, path, body=None):
    response = requests.request(method, f"{emulator.url}/__emulator__/{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def set_rules(emulator, *rules, seed=None):
    return admin(emulator, "PUT", "faults", {"seed": seed, "rules": list(rules)})


def send(prepared):
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


def delete_ds(emulator, credential=None):
    return send(raw_client.domain_request_v3(emulator.url, credential or emulator.access_key, *DELETE))


def publish(emulator, body="hello"):
    return send(raw_client.mns_request(emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES,
                                       raw_client.message_xml(body)))


def task_count(emulator):
    return len(admin(emulator, "GET", "state")["tasks"])


def inbox_messages(emulator):
    queues = admin(emulator, "GET", "state")["queues"]
    return next(q["Messages"] for q in queues if q["QueueName"] == INBOX)


def last_logged(emulator):
    return admin(emulator, "GET", "requests")[-1]


# --- each fault kind ---------------------------------------------------------------------

def test_domain_throttling_carries_retry_after_and_creates_nothing(emulator):
    set_rules(emulator, {"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord",
                         "fault": "throttling", "rate": 1, "retry_after_ms": 1500})
    response = delete_ds(emulator)
    assert (response.status_code, response.json()["Code"]) == (400, "Throttling.User")
    assert response.headers["x-acs-retry-after"] == "1500"
    assert task_count(emulator) == 0
    assert (last_logged(emulator)["fault"], last_logged(emulator)["code"]) == ("throttling", "Throttling.User")


def test_domain_throttling_without_retry_after_has_no_header(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "throttling", "rate": 1})
    assert "x-acs-retry-after" not in delete_ds(emulator).headers


@pytest.mark.parametrize("code, status", [(None, 429), ("QpsLimitExceeded", 400)])
def test_mns_throttling(emulator, code, status):
    set_rules(emulator, {"service": "mns", "action": "PublishMessage", "fault": "throttling", "rate": 1, "code": code})
    response = publish(emulator)
    assert response.status_code == status
    assert f"<Code>{code or 'TooManyRequests'}</Code>" in response.text
    assert inbox_messages(emulator) == []


@pytest.mark.parametrize("fault, status, code", [
    ("unavailable", 503, "ServiceUnavailable"),
    ("internal_error", 500, "InternalError"),
])
def test_refusals_before_processing_create_nothing(emulator, fault, status, code):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": fault, "rate": 1})
    response = delete_ds(emulator)
    assert (response.status_code, response.json()["Code"]) == (status, code)
    assert task_count(emulator) == 0


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_gateway_page_answers_before_the_service_sees_the_call(emulator, status):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "gateway_page", "rate": 1, "status": status})
    response = delete_ds(emulator)
    assert (response.status_code, response.headers["content-type"]) == (status, "text/html")
    assert f"<h1>{status}</h1>" in response.text and task_count(emulator) == 0


def created_tasks(emulator):
    return admin(emulator, "GET", "state")["tasks"]


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_page_can_come_while_the_backend_still_performs_the_call(emulator, status):
    set_rules(emulator, {"service": "domain", "action": "SaveSingleTaskForDeletingDSRecord", "fault": "gateway_page",
                         "rate": 1, "status": status, "process_after_ms": 400})
    started = time.monotonic()
    response = delete_ds(emulator)
    answered_ms = int(time.time() * 1000)
    assert (response.status_code, response.headers["content-type"]) == (status, "text/html")
    assert time.monotonic() - started < 0.3
    assert created_tasks(emulator) == []  # reconciling at once finds nothing
    assert admin(emulator, "GET", "stats")["deferred"] == 1
    while not created_tasks(emulator):  # waiting a settle time finds the task
        assert time.monotonic() - started < 5
        time.sleep(0.02)
    [task] = created_tasks(emulator)
    assert task["DomainName"] == "example.org" and task["CreateTimeMs"] >= answered_ms + 300
    assert (last_logged(emulator)["status"], last_logged(emulator)["fault"]) == (status, "gateway_page")


def test_waiting_for_quiet_includes_deferred_calls(emulator):
    set_rules(emulator, {"service": "mns", "action": "PublishMessage", "fault": "gateway_page", "rate": 1,
                         "status": 502, "process_after_ms": 300})
    assert publish(emulator, "late").status_code == 502
    assert inbox_messages(emulator) == []
    emulator.wait_idle()
    assert [m["MessageBody"] for m in inbox_messages(emulator)] == ["late"]
    assert emulator.stats()["deferred"] == 0


def test_a_reset_cancels_deferred_calls(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "gateway_page", "rate": 1,
                         "process_after_ms": 300})
    assert delete_ds(emulator).status_code == 503
    admin(emulator, "POST", "reset")
    time.sleep(0.5)
    assert created_tasks(emulator) == [] and admin(emulator, "GET", "stats")["deferred"] == 0


def test_a_stopped_emulator_performs_no_deferred_call():
    rule = {"service": "domain", "action": "*", "fault": "gateway_page", "rate": 1, "process_after_ms": 200}
    with Emulator(faults={"rules": [rule]}) as stopping:
        assert delete_ds(stopping).status_code == 503
    time.sleep(0.4)
    assert stopping.snapshot()["tasks"] == [] and stopping.stats()["deferred"] == 0


def test_a_garbled_answer_comes_after_the_work_was_done(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "garbled_after", "rate": 1})
    response = delete_ds(emulator)
    assert response.status_code == 200 and task_count(emulator) == 1
    with pytest.raises(ValueError):
        response.json()


def test_internal_error_after_processing_did_create_the_task(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "internal_error_after", "rate": 1})
    response = delete_ds(emulator)
    assert (response.status_code, response.json()["Code"]) == (500, "InternalError")
    assert task_count(emulator) == 1  # the ambiguous case: refused, yet done


def test_internal_error_after_a_publish_still_delivered_it(emulator):
    set_rules(emulator, {"service": "mns", "action": "PublishMessage", "fault": "internal_error_after", "rate": 1})
    assert publish(emulator, "delivered anyway").status_code == 500
    assert [m["MessageBody"] for m in inbox_messages(emulator)] == ["delivered anyway"]


@pytest.mark.parametrize("fault, tasks_created", [("drop_before", 0), ("drop_after", 1)])
def test_a_dropped_connection_raises_and_tells_processing_apart(emulator, fault, tasks_created):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": fault, "rate": 1, "times": 1})
    with pytest.raises(requests.ConnectionError):
        delete_ds(emulator)
    assert task_count(emulator) == tasks_created
    logged = last_logged(emulator)
    assert (logged["status"], logged["fault"]) == (None, fault)
    assert delete_ds(emulator).status_code == 200  # times=1: the next call goes through


def test_latency_before_processing(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "latency", "rate": 1, "latency_ms": 300})
    started = time.monotonic()
    assert delete_ds(emulator).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert last_logged(emulator)["fault"] == "latency"


def test_latency_after_processing_has_already_done_the_work(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "latency_after", "rate": 1, "latency_ms": 400})
    finished = []
    caller = threading.Thread(target=lambda: finished.append(delete_ds(emulator).status_code))
    started = time.monotonic()
    caller.start()
    while task_count(emulator) == 0:  # the task exists while the answer is still held back
        assert time.monotonic() - started < 5
        time.sleep(0.02)
    assert finished == []
    caller.join(10)
    assert finished == [200] and time.monotonic() - started >= 0.4


def test_latency_stacks_with_an_error_and_the_first_error_wins(emulator):
    set_rules(
        emulator,
        {"service": "*", "action": "*", "fault": "latency", "rate": 1, "latency_ms": 100},
        {"service": "domain", "action": "*", "fault": "unavailable", "rate": 1},
        {"service": "domain", "action": "*", "fault": "latency", "rate": 1, "latency_ms": 100},
        {"service": "domain", "action": "*", "fault": "throttling", "rate": 1},
    )
    started = time.monotonic()
    response = delete_ds(emulator)
    assert response.json()["Code"] == "ServiceUnavailable"
    assert time.monotonic() - started >= 0.2
    assert [rule["fired"] for rule in admin(emulator, "GET", "faults")["rules"]] == [1, 1, 1, 0]


# --- how rules fire ------------------------------------------------------------------------

def test_times_limits_the_firings(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "throttling", "rate": 1, "times": 2})
    assert [delete_ds(emulator).status_code for _ in range(4)] == [400, 400, 200, 200]
    assert admin(emulator, "GET", "faults")["rules"][0]["fired"] == 2


def test_a_seeded_rate_fires_exactly_where_the_seeded_generator_says(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "throttling", "rate": 0.3}, seed=42)
    draws = random.Random(42)
    expected = [400 if draws.random() < 0.3 else 200 for _ in range(40)]
    assert [delete_ds(emulator).status_code for _ in range(40)] == expected
    assert 0 < expected.count(400) < 40


def test_a_rule_matches_only_its_service_and_action(emulator):
    set_rules(emulator, {"service": "domain", "action": "QueryDSRecord", "fault": "unavailable", "rate": 1})
    assert delete_ds(emulator).status_code == 200
    assert publish(emulator).status_code == 201
    query = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryDSRecord",
                                              {"DomainName": "example.org"}))
    assert query.status_code == 503


def test_a_rule_action_may_be_a_glob(emulator):
    set_rules(emulator, {"service": "domain", "action": "Query*", "fault": "unavailable", "rate": 1})
    assert delete_ds(emulator).status_code == 200
    query = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryDSRecord",
                                              {"DomainName": "example.org"}))
    assert query.status_code == 503


def test_faults_apply_only_after_authentication(emulator):
    set_rules(emulator, {"service": "*", "action": "*", "fault": "throttling", "rate": 1})
    wrong = {**emulator.access_key, "AccessKeySecret": "wrong"}
    assert delete_ds(emulator, wrong).json()["Code"] == "SignatureDoesNotMatch"
    assert admin(emulator, "GET", "faults")["rules"][0]["fired"] == 0


def test_receive_can_fail_after_taking_the_message(emulator):
    publish(emulator, "taken")
    set_rules(emulator, {"service": "mns", "action": "ReceiveMessage", "fault": "drop_after", "rate": 1})
    with pytest.raises(requests.ConnectionError):
        send(raw_client.mns_request(emulator.url, emulator.access_key, "GET", f"/queues/{INBOX}/messages?waitseconds=0"))
    [message] = inbox_messages(emulator)
    assert (message["State"], message["DequeueCount"]) == ("inflight", 1)


# --- run-time control ----------------------------------------------------------------------

def test_rules_are_replaced_shown_and_cleared_at_run_time(emulator):
    assert admin(emulator, "GET", "faults")["rules"] == []
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "unavailable", "rate": 1})
    assert delete_ds(emulator).status_code == 503
    shown = admin(emulator, "GET", "faults")
    assert (shown["rules"][0]["fault"], shown["rules"][0]["fired"]) == ("unavailable", 1)
    admin(emulator, "DELETE", "faults")
    assert delete_ds(emulator).status_code == 200


def test_a_bad_rule_is_refused_and_the_old_rules_stay(emulator):
    set_rules(emulator, {"service": "domain", "action": "*", "fault": "unavailable", "rate": 1})
    for bad in ({"fault": "explode"}, {"fault": "throttling", "rate": 2}, {"fault": "latency", "colour": "red"},
                {"fault": "gateway_page", "status": 418}, {"fault": "unavailable", "status": 503},
                {"fault": "unavailable", "process_after_ms": 5}, {"fault": "gateway_page", "process_after_ms": -5},
                {"fault": "task_failure", "action": "QueryDSRecord"}):
        response = requests.put(f"{emulator.url}/__emulator__/faults", json={"rules": [bad]}, timeout=5)
        assert response.status_code == 400
    assert len(admin(emulator, "GET", "faults")["rules"]) == 1


def test_reset_clears_faults_requests_and_state(emulator):
    set_rules(emulator, {"service": "mns", "action": "*", "fault": "latency", "rate": 1, "latency_ms": 1})
    assert delete_ds(emulator).status_code == 200
    admin(emulator, "POST", "reset")
    assert admin(emulator, "GET", "faults")["rules"] == []
    assert admin(emulator, "GET", "requests") == []
    assert task_count(emulator) == 0


def test_domains_can_be_added_at_run_time(emulator):
    admin(emulator, "POST", "domains", {"DomainName": "added.example", "DSRecords": [
        {"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]})
    response = send(raw_client.domain_request_v3(emulator.url, emulator.access_key, "QueryDSRecord",
                                                 {"DomainName": "added.example"}))
    assert response.json()["DSRecordList"] == [{"KeyTag": 7, "Algorithm": 13, "DigestType": 2, "Digest": "AB" * 32}]


def test_unknown_admin_paths_are_404(emulator):
    response = requests.get(f"{emulator.url}/__emulator__/nothing-here", timeout=5)
    assert response.status_code == 404 and "error" in response.json()


def test_the_credentials_endpoint_lists_what_is_accepted(emulator):
    shown = admin(emulator, "GET", "credentials")
    assert (shown["account_id"], shown["region"]) == ("1234567890123456", "cn-hangzhou")
    assert emulator.sts_credentials in shown["credentials"] and emulator.access_key in shown["credentials"]


# --- many clients at once -------------------------------------------------------------------

def test_concurrent_deletions_and_publishes_are_all_counted(emulator):
    threads, calls = 16, 25
    statuses, task_nos = [], []
    lock = threading.Lock()

    def client(index):
        with requests.Session() as session:
            for call in range(calls):
                deletion = session.send(raw_client.domain_request_v3(emulator.url, emulator.sts_credentials, *DELETE),
                                        timeout=30)
                published = session.send(raw_client.mns_request(
                    emulator.url, emulator.access_key, "POST", TOPIC_MESSAGES,
                    raw_client.message_xml(f"{index}-{call}")), timeout=30)
                with lock:
                    statuses.extend([deletion.status_code, published.status_code])
                    task_nos.append(deletion.json().get("TaskNo"))

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    total = threads * calls
    assert sorted(set(statuses)) == [200, 201] and len(statuses) == 2 * total
    assert len(set(task_nos)) == total and task_count(emulator) == total
    bodies = [m["MessageBody"] for m in inbox_messages(emulator)]
    assert sorted(bodies) == sorted(f"{i}-{c}" for i in range(threads) for c in range(calls))
    state = admin(emulator, "GET", "state")
    outcomes = [t["TaskStatus"] for t in state["tasks"]]
    assert outcomes.count("EXECUTE_SUCCESS") == 1 and outcomes.count("EXECUTE_FAILURE") == total - 1


def test_concurrent_long_polls_each_get_distinct_messages(emulator):
    receivers, messages = 8, 40
    received, lock = [], threading.Lock()

    def receive():
        with requests.Session() as session:
            while True:
                answer = session.send(raw_client.mns_request(
                    emulator.url, emulator.access_key, "GET", f"/queues/{INBOX}/messages?waitseconds=2"), timeout=30)
                if answer.status_code == 404:
                    return
                body = answer.text.split("<MessageBody>", 1)[1].split("</MessageBody>", 1)[0]
                handle = answer.text.split("<ReceiptHandle>", 1)[1].split("</ReceiptHandle>", 1)[0]
                deleted = session.send(raw_client.mns_request(
                    emulator.url, emulator.access_key, "DELETE", f"/queues/{INBOX}/messages?ReceiptHandle={handle}"),
                    timeout=30)
                with lock:
                    received.append((body, deleted.status_code))

    workers = [threading.Thread(target=receive) for _ in range(receivers)]
    for worker in workers:  # waiting before anything is published: long polls must wake up
        worker.start()
    for index in range(messages):
        assert publish(emulator, f"m{index}").status_code == 201
    for worker in workers:
        worker.join(60)

    assert sorted(body for body, _ in received) == sorted(f"m{i}" for i in range(messages))
    assert {status for _, status in received} == {204}
    assert inbox_messages(emulator) == []


def test_the_mns_sdk_resends_silently_after_a_dropped_connection(emulator):
    """Worth knowing: aliyun-mns-sdk retries once on a closed connection, so a publish whose
    answer was lost is delivered twice, and the caller never hears of it."""
    from mns.account import Account
    from mns.topic import TopicMessage

    set_rules(emulator, {"service": "mns", "action": "PublishMessage", "fault": "drop_after", "rate": 1, "times": 1})
    account = Account(emulator.url, emulator.access_key["AccessKeyId"], emulator.access_key["AccessKeySecret"])
    assert account.get_topic("ds-record-deleter-notifications").publish_message(TopicMessage("twice")).message_id
    assert [m["MessageBody"] for m in inbox_messages(emulator)] == ["twice", "twice"]
