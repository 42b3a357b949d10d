"""The two stacks the benchmarks compare, each processing a batch of (domain, key tag) requests
the same way: submit SaveSingleTaskForDeletingDSRecord, then publish a notification to MNS.

- OurStack: the function itself, invoked through index.handler with a direct-invocation batch.
- SdkStack: the official SDK clients (alibabacloud-domain20180129 on alibabacloud-tea-openapi,
  aliyun-mns-sdk) making the same two calls per request from the same number of threads, with
  one set of clients per thread (the MNS client holds one connection: it cannot be shared).

Both read the emulator's address and credentials from the environment the runner sets.
"""
import json
import os
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor


def emulator_stats() -> dict:
    with urllib.request.urlopen(os.environ["MNS_ENDPOINT"] + "/__emulator__/stats", timeout=10) as answer:
        return json.load(answer)


class Context:
    """The parts of FC's python3.10 context the function reads."""

    class Credentials:
        access_key_id = os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"]
        access_key_secret = os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
        security_token = os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"]

    class Function:
        timeout = 300

    credentials = Credentials()
    function = Function()
    account_id = "1234567890123456"
    region = "cn-hangzhou"

    def __init__(self) -> None:
        self.request_id = str(uuid.uuid4())


class OurStack:
    def __init__(self) -> None:
        import index
        self._index = index
        index.initialize(Context())

    def run(self, requests, concurrency: int) -> None:
        if concurrency != int(os.environ.get("MAX_CONCURRENCY", "8")):
            raise ValueError("the function's concurrency is its MAX_CONCURRENCY setting; the probe sets it")
        event = json.dumps([{"DomainName": domain, "KeyTag": key_tag} for domain, key_tag in requests]).encode()
        answer = self._index.handler(event, Context())
        failed = [r for r in answer["Results"] if r["Status"] != "SUBMITTED"]
        if failed:
            raise RuntimeError(f"{len(failed)} requests failed: {failed[:2]}")

    def in_flight_peak(self) -> dict:
        return emulator_stats()["in_flight_peak"]


class SdkStack:
    def __init__(self) -> None:
        self._local = threading.local()
        self._executor = None

    def _clients(self):
        if not hasattr(self._local, "domain"):
            from alibabacloud_domain20180129.client import Client
            from alibabacloud_tea_openapi.models import Config
            from mns.account import Account
            endpoint = os.environ["DOMAIN_API_ENDPOINT"]
            self._local.domain = Client(Config(
                access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                security_token=os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"],
                endpoint=endpoint.split("://", 1)[1], protocol="http"))
            self._local.topic = Account(os.environ["MNS_ENDPOINT"], os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                                        os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                                        os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"]).get_topic(os.environ["NOTIFY_TOPIC"])
        return self._local.domain, self._local.topic

    def _one(self, request) -> None:
        from alibabacloud_domain20180129 import models
        from mns.topic import TopicMessage
        domain_client, topic = self._clients()
        domain, key_tag = request
        answer = domain_client.save_single_task_for_deleting_dsrecord(
            models.SaveSingleTaskForDeletingDSRecordRequest(domain_name=domain, key_tag=key_tag))
        body = json.dumps({"Event": "DSRecordDeletionSubmitted", "TaskNo": answer.body.task_no,
                           "RequestId": answer.body.request_id, "DomainName": domain, "KeyTag": key_tag})
        topic.publish_message(TopicMessage(body, "DSDelSubmitted"))

    def run(self, requests, concurrency: int) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(concurrency)
        for future in [self._executor.submit(self._one, request) for request in requests]:
            future.result()

    def in_flight_peak(self) -> dict:
        return emulator_stats()["in_flight_peak"]
