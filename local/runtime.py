"""Running the function without FC: an FC-like context, the embedded emulator as the default
cloud, and `make invoke` (one in-process invocation, its answer as JSON on stdout).

    python -m local.runtime EVENT_FILE

With DOMAIN_API_ENDPOINT and MNS_ENDPOINT set, the function talks to them (the real cloud with
real credentials from ALIBABA_CLOUD_*, or any emulator); unset, an emulator is started in this
process and its STS credentials are put on the context, as FC does on python3.10.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Optional

from local.emulator import Emulator
from local.emulator.seed import load_seed

DEFAULT_NOTIFY_TOPIC = "ds-record-deleter-notifications"
DEFAULT_WATCH_QUEUE = "ds-record-deleter-watch"  # in the default seed
FUNCTION_TIMEOUT_SECONDS = 60


class LocalSetupError(Exception):
    """The local run cannot start as asked; the message says what to do."""


@dataclass(frozen=True)
class FcCredentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class FcFunction:
    name: str = "ds-record-deleter"
    handler: str = "index.handler"
    memory: int = 256
    timeout: int = FUNCTION_TIMEOUT_SECONDS


@dataclass(frozen=True)
class FcContext:
    """The attributes of FC's python3.10 context that the function reads."""
    request_id: str
    account_id: str
    region: str
    credentials: Optional[FcCredentials]
    function: FcFunction = FcFunction()


def new_context(account_id: str, region: str, credentials: Optional[FcCredentials]) -> FcContext:
    return FcContext(request_id=str(uuid.uuid4()), account_id=account_id, region=region, credentials=credentials)


@dataclass
class LocalCloud:
    """Where the function's calls go: the embedded emulator, or endpoints given by the caller."""
    account_id: str
    region: str
    credentials: Optional[FcCredentials]
    emulator: Optional[Emulator] = None
    initialized: bool = False  # FC calls the initializer once per instance

    def context(self, timeout_seconds: Optional[int] = None) -> FcContext:
        """A new invocation's context; timeout_seconds is the function's (FC's default is 60)."""
        context = new_context(self.account_id, self.region, self.credentials)
        return context if timeout_seconds is None else replace(context, function=FcFunction(timeout=timeout_seconds))

    def stop(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()


def seed_with_topic(topic: str, seed: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The seed (default: local/emulator/seed.json), plus NOTIFY_TOPIC and a queue subscribed to it
    (`<topic>-inbox`) when the seed has none: the function can publish, and `make run` can print
    what it publishes."""
    seed = load_seed(seed)
    if not topic:  # the function says what is wrong with that setting
        return seed
    if not any(entry["TopicName"] == topic for entry in seed["topics"]):
        seed["topics"].append({"TopicName": topic})
    if not any(entry["TopicName"] == topic for entry in seed["subscriptions"]):
        inbox = f"{topic}-inbox"
        seed["queues"].append({"QueueName": inbox, "VisibilityTimeout": 30})
        seed["subscriptions"].append({
            "TopicName": topic, "SubscriptionName": inbox, "NotifyContentFormat": "SIMPLIFIED",
            "Endpoint": f"acs:mns:{seed['region']}:{seed['account_id']}:queues/{inbox}"})
    return seed


def seed_with_queue(seed: Dict[str, Any], queue: str, visibility_timeout: int = 30) -> Dict[str, Any]:
    """The seed, with that queue when it has none of that name (an empty name: unchanged)."""
    if queue and not any(entry["QueueName"] == queue for entry in seed["queues"]):
        seed["queues"].append({"QueueName": queue, "VisibilityTimeout": visibility_timeout})
    return seed


def start_local_cloud(environ: Dict[str, str], emulator_port: int = 0,
                      seed: Optional[Dict[str, Any]] = None) -> LocalCloud:
    """Point the function's settings at the embedded emulator unless endpoints were given.
    Fills `environ` (normally os.environ) with what the function reads. `seed`: the emulator's
    world (default: local/emulator/seed.json, whose domains no name server serves, so the DNSSEC
    safety check is off unless SAFETY_CHECK says otherwise; `make run` brings signed zones and a
    seed that matches them, local/demo.py)."""
    environ.setdefault("NOTIFY_TOPIC", DEFAULT_NOTIFY_TOPIC)
    given = [name for name in ("DOMAIN_API_ENDPOINT", "MNS_ENDPOINT") if environ.get(name)]
    if len(given) == 1:  # half a cloud: the other half would silently be an in-process emulator
        missing = ({"DOMAIN_API_ENDPOINT", "MNS_ENDPOINT"} - set(given)).pop()
        raise LocalSetupError(f"{given[0]} is set but {missing} is not: set both (the cloud, or the export lines "
                              "`make emulator` prints), or neither (an emulator in this process)")
    if given:
        # Credentials from ALIBABA_CLOUD_* (python3.12-style): the context carries none.
        return LocalCloud(environ.get("FC_ACCOUNT_ID", "0"), environ.get("FC_REGION", "cn-hangzhou"), None)
    if seed is None:
        environ.setdefault("SAFETY_CHECK", "off")
    seed = seed_with_queue(seed_with_topic(environ["NOTIFY_TOPIC"], seed), environ.get("WATCH_QUEUE", "").strip())
    emulator = Emulator(port=emulator_port, seed=seed)
    emulator.start()
    environ["DOMAIN_API_ENDPOINT"] = environ["MNS_ENDPOINT"] = emulator.url
    sts = emulator.sts_credentials
    credentials = FcCredentials(sts["AccessKeyId"], sts["AccessKeySecret"], sts["SecurityToken"])
    return LocalCloud(emulator.account_id, emulator.region, credentials, emulator)


def invoke(event: bytes, cloud: LocalCloud, timeout_seconds: Optional[int] = None) -> Any:
    """One invocation the way FC makes it: the initializer on the instance's first, then the
    handler with bytes."""
    import index  # imported late: the settings must see the environment prepared above

    context = cloud.context(timeout_seconds)
    if not cloud.initialized:
        index.initialize(context)
        cloud.initialized = True
    return index.handler(event, context)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description="Invoke the function once, in process, with an FC-like context.")
    parser.add_argument("event", help="a JSON event file (samples for every trigger: tests/events/)")
    args = parser.parse_args(argv)
    try:
        with open(args.event, "rb") as file:
            event = file.read()
        cloud = start_local_cloud(os.environ)  # type: ignore[arg-type]
    except OSError as error:
        print(f"make invoke: cannot read the event file {args.event}: {error.strerror}", file=sys.stderr)
        return 2
    except LocalSetupError as error:
        print(f"make invoke: {error}", file=sys.stderr)
        return 2
    try:
        started = time.monotonic()
        try:
            answer = invoke(event, cloud)
        except Exception as error:  # the function failed the invocation, as FC would report it
            print(json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}, indent=2))
            return 1
        finally:
            print_published(cloud, os.environ["NOTIFY_TOPIC"], os.environ.get("MNS_ENDPOINT", ""))
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        print(f"invocation took {time.monotonic() - started:.3f} s", file=sys.stderr)
        return 0
    finally:
        cloud.stop()


def print_published(cloud: LocalCloud, topic: str, mns_endpoint: str = "") -> None:
    """What the invocation published, on stderr (stdout is the answer's): each notification with
    its MessageTag, as a subscription filter sees it. With endpoints given (the cloud, or `make
    emulator`), where they went."""
    if cloud.emulator is None:
        print(f"[notifications] published to topic {topic} at {mns_endpoint}: read them from a queue subscribed "
              "to it (make emulator: its state page)", file=sys.stderr)
        return
    for entry in cloud.emulator.snapshot()["topics"]:
        if entry["TopicName"] == topic:
            for message in entry["Published"]:
                print(f"[notification {message['MessageTag']}] {message['MessageBody']}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
