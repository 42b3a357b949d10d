"""Every path of the function, run from the unpacked zips alone (tests/e2e/test_build.py starts it
with `python3.10 -S -E` and only /code and /opt/python on its path: no site-packages, nothing of
this repository). It drives index.handler through each trigger against the emulator whose URL,
credentials, signed zone and Redis the test gives it in the environment, and prints one JSON line:
what each step answered, and which modules of the function it imported.

Stdlib and the function only: anything the layer left out that a path needs fails here."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request

CODE = os.environ["ZIP_CODE"]
sys.path[:0] = [CODE, os.environ["ZIP_LAYER"]]

import index  # noqa: E402  (the path first)

SECRET = os.environ["WEBHOOK_SECRET"]
DOMAIN = os.environ["ZIP_DOMAIN"]
KEY_TAGS = [int(tag) for tag in os.environ["ZIP_KEY_TAGS"].split(",")]
EMULATOR = os.environ["DOMAIN_API_ENDPOINT"]


class Function:
    timeout = 60


class Credentials:
    access_key_id = os.environ["STS_ID"]
    access_key_secret = os.environ["STS_SECRET"]
    security_token = os.environ["STS_TOKEN"]


class Context:
    account_id, region, function, credentials = "1234567890123456", "cn-hangzhou", Function(), Credentials()

    def __init__(self, name: str) -> None:
        self.request_id = f"zip-{name}-{time.time_ns()}"


def invoke(name: str, event) -> object:
    return index.handler(json.dumps(event).encode(), Context(name))


def http(method: str, path: str, body: str = "") -> dict:
    stamp = str(int(time.time()))
    signature = "v1=" + hmac.new(SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"version": "v1", "rawPath": path, "body": body, "isBase64Encoded": False,
            "headers": {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": signature},
            "requestContext": {"requestId": f"1-{time.time_ns():x}",
                               "http": {"method": method, "path": path, "sourceIp": "203.0.113.7"}}}


def queue(message_id: str, body: str, base64_body: bool = False) -> list:
    text = base64.b64encode(body.encode()).decode() if base64_body else body
    return [{"id": message_id, "type": "mns:Queue:SendMessage", "source": "MNS-zip",
             "data": {"messageId": message_id, "messageBody": text}}]


def request(key_tag: int, **extra) -> str:
    return json.dumps({"DomainName": DOMAIN, "KeyTag": key_tag, **extra})


def watch_messages() -> list:
    with urllib.request.urlopen(f"{EMULATOR}/__emulator__/state") as answer:
        state = json.load(answer)
    [watch] = [q for q in state["queues"] if q["QueueName"] == os.environ["WATCH_QUEUE"]]
    return [message["MessageBody"] for message in watch["Messages"]]


steps = {}
index.initialize(Context("init"))
posted = invoke("post", http("POST", "/", request(KEY_TAGS[0])))
steps["webhook"] = [posted["statusCode"], json.loads(posted["body"])]
task_no = steps["webhook"][1]["TaskNo"]
asked = invoke("get", http("GET", f"/tasks/{task_no}"))
steps["task query"] = [asked["statusCode"], json.loads(asked["body"])]
steps["queue"] = invoke("queue", queue("M-zip-1", request(KEY_TAGS[1]), base64_body=True))
steps["watch check"] = invoke("watch", queue("M-zip-watch", watch_messages()[0]))
steps["timer dry run"] = invoke("timer", {"triggerTime": "2026-12-04T07:49:00Z", "triggerName": "zip",
                                          "payload": request(KEY_TAGS[2], DryRun=True)})
steps["topic refusal"] = invoke("topic", {"TopicName": "t", "MessageId": "T-zip", "Message": request(KEY_TAGS[2])})
steps["direct invalid"] = invoke("direct", {"DomainName": "bad_name", "KeyTag": 70000})
# The Redis store: a new instance, as FC makes one when the settings change.
os.environ["REDIS_URL"] = os.environ["ZIP_REDIS_URL"]
index._instance = None
steps["direct on redis"] = invoke("redis", json.loads(request(KEY_TAGS[3])))

prefix = os.path.join(CODE, "")
imported = sorted(name for name, module in sys.modules.items()
                  if (getattr(module, "__file__", None) or "").startswith(prefix))
print(json.dumps({"steps": steps, "imported": imported,
                  "layer_packages": sorted({name.split(".")[0] for name, module in sys.modules.items()
                                            if (getattr(module, "__file__", None) or "").startswith(
                                                os.environ["ZIP_LAYER"])})}))
