"""The function, invoked as FC would, against the emulator over HTTP."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, List

import jsonschema
import pytest

import index
from deleter.log import logger
from local.runtime import FcCredentials, LocalCloud, invoke

EVENTS = Path(__file__).resolve().parents[1] / "events"
SCHEMA = json.loads((Path(index.__file__).parent / "deleter" / "notification.schema.json").read_text())
NOTIFY_TOPIC = "ds-record-deleter-notifications"
SETTINGS_TO_CLEAR = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
    "DOMAIN_API_VERSION", "DOMAIN_API_SIGNATURE", "DEFAULT_LANG", "MAX_CONCURRENCY", "LOG_LEVEL",
    "CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "WEBHOOK_SECRET", "ALLOWED_DOMAINS", "MAX_BATCH",
    "IDEMPOTENCY_TTL_SECONDS", "REDIS_URL", "MAX_REQUESTS_PER_SECOND", "DEADLINE_MARGIN_SECONDS",
    "RECONCILE_SETTLE_SECONDS", "WATCH_QUEUE", "WATCH_MAX_SECONDS", "WATCH_FIRST_DELAY_SECONDS",
    "PRECHECK", "DRY_RUN", "DNS_RESOLVER", "DNS_PORT",
)


class FunctionHarness:
    """One FC instance of the function, its cloud being the emulator."""

    def __init__(self, emulator) -> None:
        self.emulator = emulator
        sts = emulator.sts_credentials
        self.cloud = LocalCloud(emulator.account_id, emulator.region,
                                FcCredentials(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"]))

    def invoke(self, event: Any, timeout_seconds: int = None) -> Any:
        """One invocation; timeout_seconds is the function's timeout (FC's default is 60)."""
        raw = event if isinstance(event, bytes) else json.dumps(event).encode("utf-8")
        return invoke(raw, self.cloud, timeout_seconds)

    def invoke_sample(self, name: str) -> Any:
        return invoke((EVENTS / name).read_bytes(), self.cloud)

    def tasks(self, domain: str = None) -> List[dict]:
        tasks = self.emulator.snapshot()["tasks"]
        return [task for task in tasks if domain is None or task["DomainName"] == domain]

    def ds_key_tags(self, domain: str) -> List[int]:
        for entry in self.emulator.snapshot()["domains"]:
            if entry["DomainName"] == domain:
                return [record["KeyTag"] for record in entry["DSRecords"]]
        raise AssertionError(f"{domain} is not in the emulator")

    def notifications(self) -> List[dict]:
        """Every message published to the notification topic, each checked against the schema."""
        topic = next(t for t in self.emulator.snapshot()["topics"] if t["TopicName"] == NOTIFY_TOPIC)
        messages = []
        for published in topic["Published"]:
            body = json.loads(published["MessageBody"])
            jsonschema.validate(body, SCHEMA)
            messages.append({**body, "_tag": published["MessageTag"]})
        return messages

    def domain_api_calls(self, action: str = None) -> List[dict]:
        return [entry for entry in self.cloud_calls()
                if entry["service"] == "domain" and (action is None or entry["action"] == action)]

    def cloud_calls(self) -> List[dict]:
        """The emulator's request log, once calls still in flight (a client gave up on them, the
        emulator logs them when it answers) have ended."""
        self.emulator.wait_idle()
        return self.emulator.request_log()


@pytest.fixture
def function(emulator, monkeypatch) -> FunctionHarness:
    """A fresh instance of the function (settings are read once per instance) on the emulator."""
    monkeypatch.setenv("NOTIFY_TOPIC", NOTIFY_TOPIC)
    monkeypatch.setenv("DOMAIN_API_ENDPOINT", emulator.url)
    monkeypatch.setenv("MNS_ENDPOINT", emulator.url)
    for name in SETTINGS_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    # Quick retries keep failure tests short; the policy itself is tested on its own.
    monkeypatch.setenv("RETRY_BASE_DELAY_SECONDS", "0.005")
    monkeypatch.setenv("RETRY_MAX_DELAY_SECONDS", "0.02")
    # The least margin: tests that give the function a 1 to 3 s timeout still leave it time to work.
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "0.5")
    # No DNS answers here: the safety check is off unless a test turns it on with local name
    # servers (tests/integration/test_guard*.py); the pre-check stays on, as deployed.
    monkeypatch.setenv("SAFETY_CHECK", "off")
    monkeypatch.setattr(index, "_instance", None)
    return FunctionHarness(emulator)


@pytest.fixture
def json_logs():
    """What the function's logger writes (its JSON lines), captured from its own handler."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield buffer
    logger.registered_handler.setStream(previous)
