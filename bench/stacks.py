"""The two stacks the benchmarks compare, each doing the same work per request.

- OurStack: the function itself, through index.handler: a direct-invocation batch, or one signed
  webhook (the HTTP trigger's event).
- SdkStack: the official SDK clients (alibabacloud-domain20180129 on alibabacloud-tea-openapi,
  aliyun-mns-sdk) making the same calls from the same number of threads, one set of clients per
  thread (the MNS client holds one connection: it cannot be shared). Its webhook checks the same
  HMAC signature and parses the same body.

A request is SaveSingleTaskForDeletingDSRecord then PublishMessage, plus what the runner says the
function adds on the measured path: QueryDSRecord first (BENCH_PRECHECK), the DNSSEC safety check
(BENCH_SAFETY_CHECK: every name server's DNSKEY RRset fetched over TCP and its signatures verified
with dnspython and cryptography, the DS rows left after the deletion matched against it), and
SendMessage to the watch queue (BENCH_WATCH_QUEUE). Both read the emulator's address and credentials from the environment.
"""
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

WEBHOOK_SECRET = os.environ["WEBHOOK_SECRET"]  # the runner's, set for both stacks


def emulator_stats() -> dict:
    with urllib.request.urlopen(os.environ["MNS_ENDPOINT"] + "/__emulator__/stats", timeout=10) as answer:
        return json.load(answer)


def webhook_event(domain: str, key_tag: int, now: float = None) -> dict:
    """An FC 3.0 HTTP trigger event carrying one request, signed as triggers/webhook.py checks."""
    body = json.dumps({"DomainName": domain, "KeyTag": key_tag})
    timestamp = str(int(time.time() if now is None else now))
    signature = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body.encode(), hashlib.sha256)
    request_id = str(uuid.uuid4())
    return {
        "version": "v1", "rawPath": "/", "body": body, "isBase64Encoded": False, "queryParameters": {},
        "headers": {"Content-Type": "application/json", "X-Webhook-Timestamp": timestamp,
                    "X-Webhook-Signature": "v1=" + signature.hexdigest()},
        "requestContext": {"accountId": "1234567890123456", "domainName": "bench.fcapp.run", "requestId": request_id,
                           "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                                    "sourceIp": "192.0.2.1", "userAgent": "bench"}},
    }


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

    def webhook(self, event: dict) -> dict:
        answer = self._index.handler(json.dumps(event).encode(), Context())
        if answer["statusCode"] != 202:
            raise RuntimeError(f"the webhook answered {answer['statusCode']}: {answer['body'][:300]}")
        return answer

    def in_flight_peak(self) -> dict:
        return emulator_stats()["in_flight_peak"]


class SdkStack:
    def __init__(self) -> None:
        self._local = threading.local()
        self._executor = None
        self._safety_check = bool(os.environ.get("BENCH_SAFETY_CHECK"))
        self._precheck = self._safety_check or bool(os.environ.get("BENCH_PRECHECK"))
        self._watch_queue = os.environ.get("BENCH_WATCH_QUEUE")

    def _clients(self):
        if not hasattr(self._local, "domain"):
            from alibabacloud_domain20180129.client import Client
            from alibabacloud_tea_openapi.models import Config
            from mns.account import Account
            endpoint = os.environ["DOMAIN_API_ENDPOINT"]
            account = Account(os.environ["MNS_ENDPOINT"], os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                              os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"])
            self._local.domain = Client(Config(
                access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                security_token=os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"],
                endpoint=endpoint.split("://", 1)[1], protocol="http"))
            self._local.topic = account.get_topic(os.environ["NOTIFY_TOPIC"])
            self._local.queue = account.get_queue(self._watch_queue) if self._watch_queue else None
        return self._local.domain, self._local.topic, self._local.queue

    def _one(self, request) -> dict:
        from alibabacloud_domain20180129 import models
        from mns.topic import TopicMessage
        domain_client, topic, queue = self._clients()
        domain, key_tag = request
        if self._precheck:
            listed = domain_client.query_dsrecord(models.QueryDSRecordRequest(domain_name=domain))
            rows = [row.to_map() for row in listed.body.dsrecord_list]
            left = [row for row in rows if int(row["KeyTag"]) != key_tag]
            if len(left) == len(rows) or (self._safety_check and not dnssec_holds(domain, left)):
                raise RuntimeError(f"the checks refused {domain} {key_tag}")
        answer = domain_client.save_single_task_for_deleting_dsrecord(
            models.SaveSingleTaskForDeletingDSRecordRequest(domain_name=domain, key_tag=key_tag))
        body = json.dumps({"Event": "DSRecordDeletionSubmitted", "TaskNo": answer.body.task_no,
                           "RequestId": answer.body.request_id, "DomainName": domain, "KeyTag": key_tag})
        topic.publish_message(TopicMessage(body, "DSDelSubmitted"))
        if queue is not None:
            from mns.queue import Message
            queue.send_message(Message(json.dumps({"TaskNo": answer.body.task_no, "DomainName": domain}), 60))
        return {"TaskNo": answer.body.task_no, "RequestId": answer.body.request_id, "DomainName": domain,
                "KeyTag": key_tag}

    def run(self, requests, concurrency: int) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(concurrency)
        for future in [self._executor.submit(self._one, request) for request in requests]:
            future.result()

    def webhook(self, event: dict) -> dict:
        """What a function on the SDK stack does for the same HTTP event: the signature checked
        (fresh, constant-time), the JSON body read, the request made, a 202 answered."""
        headers = {name.lower(): value for name, value in event["headers"].items()}
        timestamp, given = headers["x-webhook-timestamp"], headers["x-webhook-signature"]
        body = event["body"].encode()
        expected = "v1=" + hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        if abs(time.time() - int(timestamp)) > 300 or not hmac.compare_digest(expected.encode(), given.encode()):
            return {"statusCode": 401, "body": "{}"}
        request = json.loads(body)
        result = self._one((request["DomainName"], request["KeyTag"]))
        return {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": json.dumps(result)}

    def in_flight_peak(self) -> dict:
        return emulator_stats()["in_flight_peak"]


def dnssec_holds(domain: str, rows: list) -> bool:
    """The SDK stack's safety check, written on dnspython as a user of the SDKs would: the
    delegation's name servers from DNS_RESOLVER, each address's DNSKEY RRset over TCP with its
    RRSIGs verified, and a remaining DS row matching a key that signs the RRset."""
    import dns.dnssec
    import dns.flags
    import dns.message
    import dns.name
    import dns.nameserver
    import dns.query
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver

    host, port = os.environ["DNS_RESOLVER"].rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, int(port))]
    resolver.cache = None
    owner = dns.name.from_text(domain)
    addresses = [rdata.address for ns in resolver.resolve(domain, "NS", search=False)
                 for rdata in resolver.resolve(ns.target, "A", search=False)]
    for address in addresses:
        query = dns.message.make_query(owner, dns.rdatatype.DNSKEY, want_dnssec=True)
        query.flags &= ~dns.flags.RD
        response = dns.query.tcp(query, address, timeout=3, port=int(os.environ["DNS_PORT"]))
        keys = response.find_rrset(response.answer, owner, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        sigs = response.find_rrset(response.answer, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                                   dns.rdatatype.DNSKEY)
        dns.dnssec.validate(keys, sigs, {owner: keys})
        digests = {(int(row["KeyTag"]), str(row["Digest"]).upper()) for row in rows}
        if not any((dns.dnssec.key_id(key), dns.dnssec.make_ds(owner, key, "SHA256").digest.hex().upper()) in digests
                   for key in keys):
            return False
    return bool(addresses)
