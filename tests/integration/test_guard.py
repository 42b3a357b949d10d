"""Never off the air: the pre-check, the DNSSEC safety check and the dry run, through the real
handler against the emulator over HTTP, with real signed authoritative servers on 127.0.53.x.

Each test serves the zones it needs (local/dns), seeds the emulator with the registry's DS rows
for them, and points the function at the servers (DNS_RESOLVER, DNS_PORT) with SAFETY_CHECK on;
the `function` fixture alone runs with the check off (no DNS there), the pre-check on.
"""
from __future__ import annotations

import json
import time
import uuid

import pytest

import index
from local.dns import LocalDnsServers, SignedZone, stale_ds
from triggers.common import RedeliveryRequired

from .conftest import EVENTS

HTTP_EVENT = json.loads((EVENTS / "http_post.json").read_text())
SAVE = "SaveSingleTaskForDeletingDSRecord"
NS1, NS2 = "ns1.dns.test (127.0.53.1)", "ns2.dns.test (127.0.53.2)"


def http(function, body) -> tuple:
    """(status, headers, body) of one webhook request (its own HTTP request id)."""
    event = json.loads(json.dumps(HTTP_EVENT))
    event["body"] = json.dumps(body)
    event["requestContext"]["requestId"] = f"1-{uuid.uuid4().hex[:8]}-guard"
    answer = function.invoke(event)
    return answer["statusCode"], answer["headers"], json.loads(answer["body"])


def queue(*bodies, ids=None) -> list:
    """An EventBridge batch of queue messages (their ids fixed by `ids`, or new)."""
    ids = ids or [uuid.uuid4().hex.upper() for _ in bodies]
    return [{"id": f"event-{message_id}", "type": "mns:Queue:SendMessage",
             "data": {"messageId": message_id, "messageBody": json.dumps(body)}}
            for message_id, body in zip(ids, bodies)]


def rows(*records) -> list:
    return [{"KeyTag": r.key_tag, "Algorithm": r.algorithm, "DigestType": r.digest_type, "Digest": r.digest}
            for r in records]


def events(function) -> list:
    return [(n["Event"], n["_tag"]) for n in function.notifications()]


def dns_queries(servers: LocalDnsServers) -> int:
    return sum(len(server.queries) for server in servers.servers.values())


@pytest.fixture
def serve(function, emulator, monkeypatch):
    """serve(zone, ..., registry={domain: [rows]}) -> LocalDnsServers: the zones served, their DS
    rows at the registry (the emulator), the function pointed at the servers with the check on."""
    started = []

    def start(*zones, registry=None) -> LocalDnsServers:
        servers = LocalDnsServers.start(list(zones))
        started.append(servers)
        for zone in zones:
            listed = (registry or {}).get(zone.domain) or zone.ds_seed()
            emulator.put_domain({"DomainName": zone.domain, "DSRecords": listed})
        for name, value in servers.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SAFETY_CHECK", "on")
        monkeypatch.setattr(index, "_instance", None)  # a new instance reads the settings
        return servers

    yield start
    for servers in started:
        servers.stop()


def rollover(name: str = "rollover.example") -> SignedZone:
    """Two KSKs, both published and signing: deleting either DS is the rollover's last step."""
    return SignedZone.generate(name, (13, 13))


def prepublished(name: str = "prepublished.example") -> SignedZone:
    """The active KSK signs; the next one is published but does not sign yet."""
    zone = SignedZone.generate(name, (13,))
    zone.add_key(13, signs_dnskey=False, signs_zone=False)
    return zone


# --- a safe deletion ---------------------------------------------------------------------------

def test_a_safe_deletion_is_submitted_and_says_the_check_passed(function, serve):
    zone = rollover()
    old, new = zone.keys
    servers = serve(zone)
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": old.key_tag})
    assert status == 202, body
    assert body["SafetyCheck"] == "passed" and "Forced" not in body and "Verdict" not in body
    assert body["DSRecords"] == rows(*zone.ds_rows(keys=[old]))
    [task] = function.tasks(zone.domain)
    assert task["TaskNo"] == body["TaskNo"] and function.ds_key_tags(zone.domain) == [new.key_tag]
    assert dns_queries(servers) > 0  # the check asked the name servers
    calls = [call["action"] for call in function.domain_api_calls()]
    assert calls == ["QueryDSRecord", SAVE]


def test_a_safe_deletion_from_the_queue_says_so_in_its_notification(function, serve):
    zone = rollover("queued.example")
    serve(zone)
    [result] = function.invoke(queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag}))["Results"]
    assert (result["Status"], result["SafetyCheck"]) == ("SUBMITTED", "passed")
    [notification] = function.notifications()
    assert notification["Event"] == "DSRecordDeletionSubmitted" and notification["TaskNo"] == result["TaskNo"]
    assert notification["SafetyCheck"] == "passed" and "Forced" not in notification
    assert notification["DSRecords"] == rows(*zone.ds_rows(keys=[zone.keys[0]]))


def test_every_ds_row_under_the_key_tag_is_reported(function, serve):
    zone = SignedZone.generate("two-digests.example", (13, 15))
    both = zone.ds_rows((1, 2), keys=[zone.keys[0]])  # SHA-1 and SHA-256 rows of one key
    serve(zone, registry={zone.domain: rows(*both, *zone.ds_rows(keys=[zone.keys[1]]))})
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    assert status == 202 and body["DSRecords"] == rows(*both)
    assert function.ds_key_tags(zone.domain) == [zone.keys[1].key_tag]  # both rows went


# --- refusals ------------------------------------------------------------------------------------

def test_a_deletion_that_breaks_dnssec_is_refused_over_http_with_the_servers_and_rows(function, serve):
    zone = prepublished()
    active, waiting = zone.keys
    serve(zone)
    status, headers, body = http(function, {"DomainName": zone.domain, "KeyTag": active.key_tag})
    assert status == 409 and body["Code"] == "DeletionWouldBreakDNSSEC"
    assert "Retry-After" not in headers  # final: asking again unchanged gets the same answer
    assert NS1 in body["Message"] and NS2 in body["Message"]
    [remaining] = body["Verdict"]["Remaining"]
    why = f"the DNSKEY with key tag {waiting.key_tag} does not sign the DNSKEY RRset (no RRSIG made by it)"
    assert remaining["KeyTag"] == waiting.key_tag and remaining["Fails"] == [f"{NS1}: {why}", f"{NS2}: {why}"]
    assert (body["SafetyCheck"], body["DSRecords"]) == ("refused", rows(*zone.ds_rows(keys=[active])))
    assert function.domain_api_calls(SAVE) == [] and function.tasks(zone.domain) == []
    assert function.notifications() == []  # the caller has the answer
    assert sorted(function.ds_key_tags(zone.domain)) == sorted([active.key_tag, waiting.key_tag])


def test_a_refusal_from_the_queue_is_published_once_and_its_redelivery_asks_nobody(function, serve):
    zone = prepublished("queued-refusal.example")
    servers = serve(zone)
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    [result] = function.invoke(event)["Results"]
    assert (result["Status"], result["Code"], result["Failure"]) == ("FAILED", "DeletionWouldBreakDNSSEC", "PERMANENT")
    [refused] = function.notifications()
    assert (refused["Event"], refused["_tag"], refused["Code"]) == (
        "DSRecordDeletionRefused", "DSDelRefused", "DeletionWouldBreakDNSSEC")
    assert refused["Source"] == {"Trigger": "mns_queue", "Id": event[0]["data"]["messageId"]}
    assert refused["Verdict"]["Remaining"][0]["KeyTag"] == zone.keys[1].key_tag and NS1 in refused["Message"]
    asked, calls = dns_queries(servers), len(function.cloud_calls())

    [again] = function.invoke(event)["Results"]  # EventBridge delivers the batch again
    assert (again["Code"], again["Replayed"]) == ("DeletionWouldBreakDNSSEC", True)
    assert len(function.notifications()) == 1 and function.domain_api_calls(SAVE) == []
    assert dns_queries(servers) == asked and len(function.cloud_calls()) == calls


def test_deleting_the_last_ds_needs_allow_insecure(function, serve):
    zone = SignedZone.generate("last.example", (15,))
    [key] = zone.keys
    serve(zone)
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": key.key_tag})
    assert status == 409 and body["Code"] == "DeletionWouldDisableDNSSEC"
    assert '"AllowInsecure": true' in body["Message"] and function.domain_api_calls(SAVE) == []
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": key.key_tag, "AllowInsecure": "true"})
    assert (status, body["Code"]) == (400, "InvalidParameter")  # a string is no switch
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": key.key_tag, "AllowInsecure": True})
    assert status == 202 and body["SafetyCheck"] == "passed" and function.ds_key_tags(zone.domain) == []
    assert len(function.domain_api_calls(SAVE)) == 1


def test_removing_a_stale_ds_is_allowed(function, serve):
    zone = SignedZone.generate("stale.example", (13,))
    stale = stale_ds(zone.domain)
    serve(zone, registry={zone.domain: rows(*zone.ds_rows(), stale)})
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": stale.key_tag})
    assert (status, body["SafetyCheck"]) == (202, "passed")
    assert function.ds_key_tags(zone.domain) == [zone.keys[0].key_tag]


def test_force_overrides_a_refusal_with_a_warning_and_says_what_it_overrode(function, serve, json_logs):
    zone = prepublished("forced.example")
    serve(zone)
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "Force": True})
    [result] = function.invoke(event)["Results"]
    assert (result["Status"], result["SafetyCheck"], result["Forced"]) == ("SUBMITTED", "forced", True)
    [notification] = function.notifications()
    assert notification["Event"] == "DSRecordDeletionSubmitted" and notification["Forced"] is True
    assert notification["OverriddenVerdict"]["Code"] == "DeletionWouldBreakDNSSEC"
    assert notification["Verdict"]["Code"] == "DeletionForced"
    [task] = function.tasks(zone.domain)
    assert task["TaskNo"] == result["TaskNo"]
    [warning] = [json.loads(line) for line in json_logs.getvalue().splitlines()
                 if "Deletion forced despite the DNSSEC safety check" in line]
    assert warning["level"] == "WARNING" and warning["overridden"] == "DeletionWouldBreakDNSSEC"
    assert warning["domain"] == zone.domain and "SERVFAIL" in warning["reason"]


def test_a_force_request_over_http_answers_202_forced(function, serve):
    zone = SignedZone.generate("forced-http.example", (13,))
    serve(zone)
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "Force": True})
    assert (status, body["SafetyCheck"], body["Forced"]) == (202, "forced", True)
    assert body["OverriddenVerdict"]["Code"] == "DeletionWouldDisableDNSSEC"


def test_asked_again_with_force_after_a_refusal_is_checked_again_not_replayed(function, serve):
    """A direct invocation has no delivery id: its refusal is kept under what it asks, so that a
    redelivery publishes nothing twice. The same request with Force is another request."""
    zone = prepublished("direct-refusal.example")
    serve(zone)
    request = {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag}
    [refused] = function.invoke(request)["Results"]
    [again] = function.invoke(request)["Results"]
    assert refused["Code"] == again["Code"] == "DeletionWouldBreakDNSSEC" and again["Replayed"] is True
    [forced] = function.invoke({**request, "Force": True})["Results"]
    assert (forced["Status"], forced["Forced"]) == ("SUBMITTED", True) and "Replayed" not in forced
    assert [event for event, _ in events(function)] == ["DSRecordDeletionRefused", "DSRecordDeletionSubmitted"]


def test_a_force_request_for_a_record_with_a_pending_task_joins_it(function, serve, emulator):
    zone = prepublished("pending.example")
    serve(zone)
    emulator.set_task_delays(60, 60)  # the first task stays pending
    request = {"DomainName": zone.domain, "KeyTag": zone.keys[1].key_tag}  # the waiting key's DS: safe
    status, _, first = http(function, request)
    assert status == 202 and first["SafetyCheck"] == "passed"
    status, _, joined = http(function, {**request, "Force": True, "IdempotencyKey": "forced-again"})
    assert (status, joined["TaskNo"], joined["Joined"]) == (202, first["TaskNo"], True)
    assert "SafetyCheck" not in joined  # the request that made the task was checked
    assert len(function.domain_api_calls(SAVE)) == 1


# --- when the check cannot decide ------------------------------------------------------------------

def test_an_unanswering_server_is_a_503_never_a_pass(function, serve):
    zone = rollover("silent.example")
    servers = serve(zone)
    servers["127.0.53.2"].mode = "servfail"
    status, headers, body = http(function, {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    assert (status, body["Code"], body["SafetyCheck"]) == (503, "SafetyCheckUnavailable", "unavailable")
    assert headers["Retry-After"] == "1" and "ns2.dns.test (127.0.53.2): it answered SERVFAIL" in body["Message"]
    assert function.domain_api_calls(SAVE) == [] and function.notifications() == []


def test_an_unavailable_check_fails_a_queue_invocation_for_its_redelivery(function, serve):
    zone = rollover("redelivered.example")
    servers = serve(zone)
    servers["127.0.53.1"].stop()  # a name server gone: connection refused
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    with pytest.raises(RedeliveryRequired, match="SafetyCheckUnavailable"):
        function.invoke(event)
    assert function.domain_api_calls(SAVE) == [] and function.notifications() == []
    servers.servers["127.0.53.1"] = servers["127.0.53.1"].start()  # back on the same address and port
    [result] = function.invoke(event)["Results"]  # the redelivery checks again, and sends
    assert (result["Status"], result["SafetyCheck"]) == ("SUBMITTED", "passed")
    assert len(function.domain_api_calls(SAVE)) == 1 and [e for e, _ in events(function)] == [
        "DSRecordDeletionSubmitted"]


def test_per_query_timeouts_come_out_of_the_invocations_deadline(function, serve):
    zone = rollover("slow.example")
    servers = serve(zone)
    for server in servers.servers.values():
        server.mode = "silent"
    event = json.loads(json.dumps(HTTP_EVENT))
    event["body"] = json.dumps({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    started = time.monotonic()
    answer = function.invoke(event, timeout_seconds=2)  # 1.5 s to work (the tests' margin is 0.5 s)
    elapsed = time.monotonic() - started
    assert answer["statusCode"] == 503 and json.loads(answer["body"])["Code"] == "SafetyCheckUnavailable"
    assert elapsed < 2.0, elapsed  # a query's own 3 s would not have fit


# --- dry runs --------------------------------------------------------------------------------------

def test_a_dry_run_answers_the_verdict_and_makes_nothing(function, serve):
    zone = prepublished("dry.example")
    active, waiting = zone.keys
    serve(zone)
    status, _, refused = http(function, {"DomainName": zone.domain, "KeyTag": active.key_tag, "DryRun": True})
    assert status == 200 and (refused["DryRun"], refused["WouldSubmit"]) == (True, False)
    assert refused["Code"] == "DeletionWouldBreakDNSSEC" and refused["Verdict"]["Remaining"][0]["Fails"]
    status, _, safe = http(function, {"DomainName": zone.domain, "KeyTag": waiting.key_tag, "DryRun": True})
    assert (status, safe["WouldSubmit"], safe["Code"], safe["SafetyCheck"]) == (200, True, "DeletionSafe", "passed")
    assert safe["Verdict"]["Code"] == "DeletionSafe" and "TaskNo" not in safe
    assert function.domain_api_calls(SAVE) == [] and function.tasks(zone.domain) == []
    assert function.notifications() == []
    # No record was claimed: the same deletion asked for real is checked and made.
    status, _, real = http(function, {"DomainName": zone.domain, "KeyTag": waiting.key_tag})
    assert status == 202 and "Replayed" not in real and len(function.tasks(zone.domain)) == 1


def test_a_dry_run_from_the_queue_publishes_nothing_and_its_result_carries_the_answer(function, serve):
    zone = SignedZone.generate("dry-queue.example", (13,))
    serve(zone)
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "DryRun": True},
                  {"DomainName": zone.domain, "KeyTag": 1, "DryRun": True})
    disabled, absent = function.invoke(event)["Results"]
    assert (disabled["Status"], disabled["Code"], disabled["WouldSubmit"]) == (
        "DRY_RUN", "DeletionWouldDisableDNSSEC", False)
    assert (absent["Status"], absent["Code"], absent["WouldSubmit"]) == ("DRY_RUN", "DSRecordAlreadyAbsent", False)
    assert function.notifications() == [] and function.domain_api_calls(SAVE) == []
    assert all("Notified" not in result for result in (disabled, absent))


def test_dry_run_for_the_function_makes_every_request_a_dry_run(function, serve, monkeypatch):
    zone = rollover("dry-function.example")
    serve(zone)
    monkeypatch.setenv("DRY_RUN", "true")
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "DryRun": False})
    assert (status, body["DryRun"], body["WouldSubmit"], body["Code"]) == (200, True, True, "DeletionSafe")
    [result] = function.invoke(queue({"DomainName": zone.domain, "KeyTag": zone.keys[1].key_tag}))["Results"]
    assert (result["Status"], result["WouldSubmit"]) == ("DRY_RUN", True)
    assert function.domain_api_calls(SAVE) == [] and function.notifications() == []
    assert len(function.ds_key_tags(zone.domain)) == 2


# --- the pre-check ---------------------------------------------------------------------------------

def test_a_key_tag_the_registry_does_not_list_makes_no_task(function):
    status, _, body = http(function, {"DomainName": "example.org", "KeyTag": 1})
    assert (status, body["Code"], body["ListedKeyTags"]) == (200, "DSRecordAlreadyAbsent", [12345, 54321])
    assert "no deletion task was made" in body["Message"]
    assert [call["action"] for call in function.domain_api_calls()] == ["QueryDSRecord"]
    assert function.notifications() == []


def test_an_absent_key_tag_from_the_queue_is_published_once_per_delivery(function):
    event = queue({"DomainName": "example.org", "KeyTag": 1})
    [result] = function.invoke(event)["Results"]
    assert (result["Status"], result["Code"], result["Notified"]) == ("ALREADY_ABSENT", "DSRecordAlreadyAbsent", True)
    [absent] = function.notifications()
    assert (absent["Event"], absent["_tag"], absent["ListedKeyTags"]) == (
        "DSRecordAlreadyAbsent", "DSAlreadyAbsent", [12345, 54321])
    [again] = function.invoke(event)["Results"]
    assert (again["Status"], again["Replayed"]) == ("ALREADY_ABSENT", True)
    assert len(function.notifications()) == 1 and len(function.domain_api_calls("QueryDSRecord")) == 1


def test_a_record_whose_task_succeeded_is_answered_with_that_task_not_as_absent(function):
    """The KeyTag is gone because of our own task: a later request for it (another key, another
    trigger) is answered with that task, Joined, not DSRecordAlreadyAbsent."""
    status, _, first = http(function, {"DomainName": "example.net", "KeyTag": 31589})
    assert status == 202 and 31589 not in function.ds_key_tags("example.net")  # the task succeeded
    [joined] = function.invoke(queue({"DomainName": "example.net", "KeyTag": 31589}))["Results"]
    assert (joined["Status"], joined["TaskNo"], joined["Joined"], joined["TaskStatus"]) == (
        "SUBMITTED", first["TaskNo"], True, "EXECUTE_SUCCESS")
    assert [event for event, _ in events(function)] == ["DSRecordDeletionSubmitted", "DSRecordDeletionSubmitted"]
    assert len(function.domain_api_calls(SAVE)) == 1


def test_without_the_pre_check_and_the_safety_check_nothing_is_read_first(function, monkeypatch):
    monkeypatch.setenv("PRECHECK", "off")
    status, _, body = http(function, {"DomainName": "example.net", "KeyTag": 31589})
    assert (status, body["SafetyCheck"]) == (202, "skipped") and "DSRecords" not in body
    assert [call["action"] for call in function.domain_api_calls()] == [SAVE]


# --- SAFETY_CHECK=off, and bad switches -----------------------------------------------------------

def test_with_the_check_off_every_answer_says_it_was_skipped(function, serve, monkeypatch):
    zone = prepublished("unchecked.example")
    servers = serve(zone)
    monkeypatch.setenv("SAFETY_CHECK", "off")  # the servers run, and are not asked
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    assert (status, body["SafetyCheck"]) == (202, "skipped")
    [result] = function.invoke(queue({"DomainName": zone.domain, "KeyTag": zone.keys[1].key_tag}))["Results"]
    assert (result["Status"], result["SafetyCheck"]) == ("SUBMITTED", "skipped")
    notifications = function.notifications()
    assert [n["TaskNo"] for n in notifications] == [body["TaskNo"], result["TaskNo"]]
    assert all(n["SafetyCheck"] == "skipped" and "Forced" not in n for n in notifications)
    status, _, dry = http(function, {"DomainName": "example.net", "KeyTag": 31589, "DryRun": True})
    assert (status, dry["Code"], dry["SafetyCheck"], dry["WouldSubmit"]) == (200, "SafetyCheckSkipped", "skipped", True)
    assert dns_queries(servers) == 0


@pytest.mark.parametrize("field", ["DryRun", "Force", "AllowInsecure"])
@pytest.mark.parametrize("value", ["true", 1, 0, "", [True]])
def test_a_switch_that_is_not_a_json_boolean_is_refused_naming_the_field(function, field, value):
    status, _, body = http(function, {"DomainName": "example.net", "KeyTag": 31589, field: value})
    assert (status, body["Code"]) == (400, "InvalidParameter")
    assert body["Message"] == f"{field} must be true or false (a JSON boolean, not a string or a number)"
    assert function.cloud_calls() == []


def test_a_bad_switch_from_the_queue_is_published_as_rejected_with_the_field(function):
    [result] = function.invoke(queue({"DomainName": "example.net", "KeyTag": 31589, "Force": "yes"}))["Results"]
    assert (result["Status"], result["Code"]) == ("REJECTED", "InvalidParameter")
    [rejected] = function.notifications()
    assert (rejected["Event"], rejected["Field"]) == ("DSRecordDeletionRejected", "Force")
    assert function.domain_api_calls() == []


# --- what the checks found survives a lost answer, and a refusal is never lost ------------------

def test_a_forced_task_found_by_reconciliation_still_says_forced(function, serve, emulator, monkeypatch):
    """The forced send's answer is lost; the redelivery adopts the task without checking again,
    and its notification still says what the send overrode."""
    monkeypatch.setenv("RECONCILE_SETTLE_SECONDS", "0")
    zone = prepublished("forced-lost.example")
    servers = serve(zone)
    emulator.set_task_delays(60, 60)
    emulator.set_faults({"rules": [{"service": "domain", "action": SAVE, "fault": "drop_after", "rate": 1,
                                    "times": 1},
                                   {"service": "domain", "action": "QueryDSRecord", "fault": "forbidden", "rate": 1,
                                    "times": 1, "after": 1}]})  # the reconciliation is refused: left open
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "Force": True})
    with pytest.raises(RedeliveryRequired):
        function.invoke(event)
    [task] = function.tasks(zone.domain)
    asked = dns_queries(servers)
    [result] = function.invoke(event)["Results"]
    assert (result["TaskNo"], result["Adopted"], result["Forced"]) == (task["TaskNo"], True, True)
    [notification] = function.notifications()
    assert (notification["Adopted"], notification["Forced"], notification["SafetyCheck"]) == (True, True, "forced")
    assert notification["OverriddenVerdict"]["Code"] == "DeletionWouldBreakDNSSEC"
    assert dns_queries(servers) == asked and len(function.domain_api_calls(SAVE)) == 1


def test_a_refusal_that_could_not_be_published_is_published_by_the_redelivery(function, serve, emulator):
    zone = prepublished("unpublished-refusal.example")
    serve(zone)
    emulator.set_faults({"rules": [{"service": "mns", "action": "PublishMessage", "fault": "unavailable",
                                    "rate": 1}]})
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag})
    with pytest.raises(RedeliveryRequired):
        function.invoke(event)
    assert function.notifications() == []
    emulator.set_faults(None)
    [result] = function.invoke(event)["Results"]
    assert (result["Code"], result["Notified"]) == ("DeletionWouldBreakDNSSEC", True)
    assert [event for event, _ in events(function)] == ["DSRecordDeletionRefused"]
    [again] = function.invoke(event)["Results"]
    assert again["Replayed"] is True and len(function.notifications()) == 1
    assert function.domain_api_calls(SAVE) == []


def test_a_forced_task_whose_notification_failed_is_published_forced_by_the_redelivery(function, serve, emulator):
    zone = SignedZone.generate("forced-unpublished.example", (13,))
    serve(zone)
    emulator.set_faults({"rules": [{"service": "mns", "action": "PublishMessage", "fault": "unavailable",
                                    "rate": 1}]})
    event = queue({"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "Force": True})
    with pytest.raises(RedeliveryRequired):
        function.invoke(event)
    emulator.set_faults(None)
    [result] = function.invoke(event)["Results"]
    assert (result["Notified"], result["Forced"]) == (True, True)
    [notification] = function.notifications()
    assert (notification["Forced"], notification["OverriddenVerdict"]["Code"]) == (True, "DeletionWouldDisableDNSSEC")
    assert len(function.domain_api_calls(SAVE)) == 1


def test_a_replayed_answer_says_what_the_check_found(function, serve):
    zone = rollover("replayed.example")
    serve(zone)
    request = {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "IdempotencyKey": "rotation-7"}
    first, again = http(function, request), http(function, request)
    assert again[1]["X-Idempotent-Replay"] == "true" and again[2]["TaskNo"] == first[2]["TaskNo"]
    assert (again[2]["SafetyCheck"], again[2]["DSRecords"]) == ("passed", first[2]["DSRecords"])


def test_force_also_overrides_a_check_that_cannot_decide_but_never_the_pre_check(function, serve):
    """A domain whose name servers are gone (a lame delegation after a provider move) can only
    lose its stale DS by Force; a KeyTag the registry does not list is never sent, forced or not."""
    zone = rollover("lame.example")
    servers = serve(zone)
    for server in servers.servers.values():
        server.mode = "refuse"
    status, _, body = http(function, {"DomainName": zone.domain, "KeyTag": zone.keys[0].key_tag, "Force": True})
    assert (status, body["Forced"], body["OverriddenVerdict"]["Code"]) == (202, True, "SafetyCheckUnavailable")
    [notification] = function.notifications()
    assert notification["OverriddenVerdict"]["Code"] == "SafetyCheckUnavailable"
    status, _, absent = http(function, {"DomainName": zone.domain, "KeyTag": 1, "Force": True})
    assert (status, absent["Code"]) == (200, "DSRecordAlreadyAbsent")
    assert len(function.domain_api_calls(SAVE)) == 1
