"""The fault campaign: hundreds of distinct requests through the handler while the emulator
throttles, fails, answers InternalError after creating tasks, drops answers, adds latency and
fails MNS publishes; failed batches are redelivered whole, as an MNS queue trigger would.

It prints its figures and asserts: every request ends with exactly one task, every TaskNo was
published (with the right request), no duplicate tasks. Once with the in-memory store and one
instance, once with Redis and two instances consuming the same queue.
"""
from __future__ import annotations

import collections
import json
import os
import random
import threading
import time
from typing import Callable, List

import pytest

import index
from deleter.settings import Settings
from triggers.common import RedeliveryRequired
from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)
from wiring import FunctionInstance

DOMAINS = 200
KEY_TAGS = (11, 22, 33)  # three DS records per domain: requests for one domain race each other
BATCH = 10
SAVE = "SaveSingleTaskForDeletingDSRecord"
# Rules are tried in order and the first error that fires wins, so the rates below are chosen for
# what reaches the calls: about 27% of the submissions throttled or unavailable, 7% InternalError
# after the task was made (the ambiguous case), 12% of the publishes failed.
FAULTS = {"seed": 20261129, "rules": [
    {"service": "domain", "action": SAVE, "fault": "throttling", "rate": 0.17, "retry_after_ms": 5},
    {"service": "domain", "action": SAVE, "fault": "unavailable", "rate": 0.12},
    {"service": "domain", "action": SAVE, "fault": "internal_error_after", "rate": 0.10},
    {"service": "domain", "action": SAVE, "fault": "internal_error", "rate": 0.02},
    {"service": "domain", "action": SAVE, "fault": "drop_after", "rate": 0.02},
    {"service": "domain", "action": "*", "fault": "latency", "rate": 0.2, "latency_ms": 20},
    # Now and then a call outlasts what is left of the invocation: the batch is redelivered.
    {"service": "domain", "action": "*", "fault": "latency", "rate": 0.01, "latency_ms": 700},
    {"service": "domain", "action": "Query*", "fault": "throttling", "rate": 0.10},
    {"service": "mns", "action": "PublishMessage", "fault": "unavailable", "rate": 0.07},
    {"service": "mns", "action": "PublishMessage", "fault": "internal_error_after", "rate": 0.07},
]}
CAMPAIGN_SETTINGS = {
    "MAX_CONCURRENCY": "8", "RETRY_BASE_DELAY_SECONDS": "0.005", "RETRY_MAX_DELAY_SECONDS": "0.05",
    "MAX_REQUESTS_PER_SECOND": "0", "DEADLINE_MARGIN_SECONDS": "1", "READ_TIMEOUT_SECONDS": "0.5",
    "LOG_LEVEL": "WARNING", "RECONCILE_SETTLE_SECONDS": "1.5",
}
FUNCTION_TIMEOUT_SECONDS = 3
MAX_DELIVERIES = 3000


def seed(emulator) -> List[dict]:
    requests = []
    for number in range(DOMAINS):
        domain = f"campaign-{number:03d}.example"
        emulator.put_domain({"DomainName": domain, "DSRecords": [
            {"KeyTag": tag, "Algorithm": 13, "DigestType": 2, "Digest": f"{number:04d}{tag:02d}".ljust(64, "A")}
            for tag in KEY_TAGS]})
        requests += [{"DomainName": domain, "KeyTag": tag} for tag in KEY_TAGS]
    return requests


def queue_batches(requests: List[dict]) -> List[list]:
    """CloudEvents as EventBridge delivers an MNS queue, BATCH messages per invocation."""
    shuffled = random.Random(7).sample(requests, len(requests))
    events = [{"id": f"event-{i}", "source": "MNS-requests", "specversion": "1.0", "type": "mns:Queue:SendMessage",
               "data": {"messageId": f"MSG{i:05d}", "messageBody": json.dumps(request)}}
              for i, request in enumerate(shuffled)]
    return [events[i:i + BATCH] for i in range(0, len(events), BATCH)]


def run_queue(batches: List[list], consumers: List[Callable[[bytes], object]], twice_every: int = 0) -> dict:
    """Deliver every batch until the handler accepts it; a failed invocation puts its batch back.
    With twice_every, every such batch is also queued right behind itself: two consumers take the
    same messages at the same moment, as an at-least-once queue may hand them out."""
    pending = collections.deque()
    for number, batch in enumerate(batches):
        pending.append(batch)
        if twice_every and number % twice_every == 0:
            pending.append(batch)
    lock = threading.Lock()
    figures = collections.Counter()

    def consume(invoke):
        while True:
            with lock:
                if not pending or figures["invocations"] >= MAX_DELIVERIES:
                    return
                batch = pending.popleft()
                figures["invocations"] += 1
            try:
                invoke(json.dumps(batch).encode())
            except RedeliveryRequired:
                with lock:
                    figures["redeliveries"] += 1
                    pending.append(batch)

    threads = [threading.Thread(target=consume, args=(consumer,)) for consumer in consumers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures["undelivered"] = len(pending)
    return figures


def check_and_report(name: str, emulator, requests: List[dict], figures: dict, started: float, capsys) -> None:
    snapshot = emulator.snapshot()
    tasks = [t for t in snapshot["tasks"] if t["TaskType"] == "DELETE_DS_RECORD"]
    per_request = collections.Counter((t["DomainName"], t["KeyTag"]) for t in tasks)
    published = [json.loads(m["MessageBody"]) for topic in snapshot["topics"]
                 if topic["TopicName"] == "ds-record-deleter-notifications" for m in topic["Published"]]
    submitted = [n for n in published if n["Event"] == "DSRecordDeletionSubmitted"]
    task_of = {t["TaskNo"]: (t["DomainName"], t["KeyTag"]) for t in tasks}
    faults = collections.Counter()
    for entry in emulator.request_log():
        for fault in entry["faults"]:
            faults[f"{entry['action']}:{fault}"] += 1
    calls = len(emulator.request_log())
    with capsys.disabled():  # the figures show in every run, not only when the test fails
        print(f"\n--- fault campaign ({name}) ---\n"
              f"requests {len(requests)}, batches {len(queue_batches(requests))}, "
              f"invocations {figures['invocations']}, redeliveries {figures['redeliveries']}, "
              f"cloud calls {calls}, {time.monotonic() - started:.1f} s\n"
              "faults fired: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())) + "\n"
              f"tasks {len(tasks)}, TaskNos published {len({n['TaskNo'] for n in submitted})} "
              f"(adopted after a lost answer {sum(1 for n in submitted if n.get('Adopted'))}, "
              f"notifications published twice {len(submitted) - len({n['TaskNo'] for n in submitted})}), "
              f"other events {len(published) - len(submitted)}")

    assert figures["undelivered"] == 0, "some batches were never accepted"
    assert figures["redeliveries"] > 0, "the campaign should have made the queue redeliver"
    calls_of = collections.Counter(entry["action"] for entry in emulator.request_log())
    assert faults[f"{SAVE}:throttling"] + faults[f"{SAVE}:unavailable"] >= 0.20 * calls_of[SAVE]
    assert faults[f"{SAVE}:internal_error_after"] >= 0.05 * calls_of[SAVE]
    assert faults[f"{SAVE}:latency"] > 0 and faults[f"{SAVE}:drop_after"] > 0
    publish_failures = faults["PublishMessage:unavailable"] + faults["PublishMessage:internal_error_after"]
    assert publish_failures >= 0.10 * calls_of["PublishMessage"]
    duplicated = {key: [(t["TaskNo"], t["CreateTime"], t["TaskStatus"]) for t in tasks
                        if (t["DomainName"], t["KeyTag"]) == key]
                  for key, count in per_request.items() if count != 1}
    assert duplicated == {}                                                         # no duplicates
    assert set(per_request) == {(r["DomainName"], r["KeyTag"]) for r in requests}  # every request has its task
    assert {n["TaskNo"] for n in submitted} == set(task_of)                         # every TaskNo published
    assert all(task_of[n["TaskNo"]] == (n["DomainName"], n["KeyTag"]) for n in submitted)  # ...with its request


def context_with(function_harness, timeout: int = FUNCTION_TIMEOUT_SECONDS):
    return function_harness.cloud.context(timeout)


@pytest.fixture
def campaign(function, emulator, monkeypatch):
    for name, value in CAMPAIGN_SETTINGS.items():
        monkeypatch.setenv(name, value)
    requests = seed(emulator)
    emulator.set_faults(FAULTS)
    return requests


def test_fault_campaign_in_memory_store_one_instance(function, emulator, campaign, capsys):
    started = time.monotonic()
    instance = FunctionInstance(Settings.from_environ(os.environ))
    figures = run_queue(queue_batches(campaign),
                        [lambda event: index.handle(event, context_with(function), lambda: instance)])
    check_and_report("in-memory store, one instance", emulator, campaign, figures, started, capsys)


def test_fault_campaign_redis_store_two_instances(function, emulator, campaign, redis_url, capsys):
    """Two FC instances consume the same queue at once and share the Redis store: a redelivered
    batch may land on either, and requests for one domain race each other across instances."""
    from cloud.redis import RedisClient
    from cloud.redis_store import RedisIdempotencyStore

    started = time.monotonic()
    prefix = f"campaign-{time.time_ns()}:"
    settings = Settings.from_environ(os.environ)
    instances = [FunctionInstance(settings, RedisIdempotencyStore(RedisClient(redis_url), prefix=prefix))
                 for _ in range(2)]
    consumers = [lambda event, instance=instance: index.handle(event, context_with(function), lambda: instance)
                 for instance in instances]
    # Tasks take a while to execute, so a KeyTag is still listed while its task is pending.
    emulator.set_task_delays(0.3, 0.3)
    figures = run_queue(queue_batches(campaign), consumers, twice_every=5)
    check_and_report("Redis store, two instances, pending tasks, doubled deliveries", emulator, campaign, figures,
                     started, capsys)
