"""MNS topics and queues over XML: PublishMessage, SendMessage, ReceiveMessage (long polling,
also the batch form) and DeleteMessage.

Order of checks: Authorization -> Date -> clock -> access key -> token -> signature ->
x-mns-version -> Content-MD5 -> request shape -> faults -> processing.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import unquote

from cloud import signing

from .auth import authenticate_mns, claimed_mns_access_key_id
from .credentials import CredentialStore
from .domain_params import INTEGER
from .errors import ApiError
from .faults import FaultInjector, fault_error
from .http_types import CallRecord, HttpRequest, Reply
from .mns_state import body_md5
from .mns_xml import CONTENT_TYPE, parse_fields, render_xml, render_xml_list
from .state import EmulatorState

API_VERSION = "2015-06-06"
ROUTE = re.compile(r"^/(topics|queues)/([^/]+)/messages$")
ACTIONS = {
    ("POST", "topics"): "PublishMessage", ("POST", "queues"): "SendMessage",
    ("GET", "queues"): "ReceiveMessage", ("DELETE", "queues"): "DeleteMessage",
}
MAX_TAG_LENGTH = 16
MAX_DELAY_SECONDS = 604800
MAX_WAIT_SECONDS = 30
MAX_BATCH = 16


def invalid_argument(name: str, low: int, high: int, unit: str = "") -> ApiError:
    return ApiError(400, "InvalidArgument", f"The value of {name} should between {low} and {high}{unit}.")


def integer_argument(value: Optional[str], name: str, low: int, high: int, default: int, unit: str = "") -> int:
    if value is None or value == "":
        return default
    if not INTEGER.match(value) or not low <= int(value) <= high:
        raise invalid_argument(name, low, high, unit)
    return int(value)


def check_content_md5(request: HttpRequest) -> None:
    """The SDKs send base64 of the hex digest; RFC 1864 says base64 of the raw digest: take both."""
    given = request.headers.get("content-md5")
    if given is None:
        return
    accepted = {signing.mns_content_md5(request.body),
                base64.b64encode(hashlib.md5(request.body).digest()).decode("ascii")}
    if given.strip() not in accepted:
        raise ApiError(400, "InvalidDegist", "The Content-MD5 you specified is invalid.")


def check_size(body: str, limit: int) -> None:
    if not body:
        raise ApiError(400, "InvalidArgument", "The MessageBody element is required and must not be empty.")
    if len(body.encode("utf-8")) > limit:
        raise invalid_argument("MessageBody length", 1, limit, " bytes")


@dataclass
class MnsCall:
    action: str
    kind: str  # "topics" or "queues"
    name: str
    args: Dict[str, Any]


class MnsService:
    def __init__(self, state: EmulatorState, credentials: CredentialStore, faults: FaultInjector) -> None:
        self.state = state
        self.credentials = credentials
        self.faults = faults
        self.host_id = f"http://{state.mns.account_id}.mns.{state.mns.region}.aliyuncs.com"

    def _reply(self, status: int, body: bytes, request_id: str, code: Optional[str] = None) -> Reply:
        headers = {"Content-Type": CONTENT_TYPE, "x-mns-request-id": request_id}
        return Reply(status, body, headers, code)

    def _error(self, error: ApiError, request_id: str) -> Reply:
        body = render_xml("Error", {"Code": error.code, "Message": error.message, "RequestId": request_id,
                                    "HostId": self.host_id})
        reply = self._reply(error.status, body, request_id, error.code)
        reply.headers.update(error.headers)
        return reply

    def handle(self, request: HttpRequest, record: CallRecord) -> Reply:
        request_id = uuid.uuid4().hex[:24].upper()
        record.access_key_id = claimed_mns_access_key_id(request)
        match = ROUTE.match(request.path)
        record.action = ACTIONS.get((request.method, match.group(1))) if match else None
        try:
            authenticate_mns(request, self.credentials, self.state.clock())
            if request.headers.get("x-mns-version") != API_VERSION:
                raise ApiError(400, "InvalidArgument", f"The x-mns-version header must be {API_VERSION}.")
            check_content_md5(request)
            call = self._parse(request, record.action, match)
        except ApiError as error:
            return self._error(error, request_id)
        record.action = call.action
        decision = self.faults.decide("mns", call.action)
        record.faults = decision.fired

        def process() -> Reply:
            try:
                status, body = self._act(call)
            except ApiError as error:
                return self._error(error, request_id)
            return self._reply(status, body, request_id)

        return self.faults.run(decision, process, lambda rule: self._error(fault_error(rule, "mns"), request_id))

    def _parse(self, request: HttpRequest, action: Optional[str], match: Optional[re.Match]) -> MnsCall:
        if action is None:
            raise ApiError(400, "InvalidRequestURL", "Http request URL format invalid (or not emulated).")
        kind, name = match.group(1), unquote(match.group(2))
        query = request.query
        if action == "DeleteMessage":
            if not query.get("ReceiptHandle"):
                raise ApiError(400, "MissingReceiptHandle", "ReceiptHandle is required.")
            return MnsCall(action, kind, name, {"receipt_handle": query["ReceiptHandle"]})
        if action == "ReceiveMessage":
            batch = query.get("numOfMessages")
            return MnsCall("BatchReceiveMessage" if batch is not None else action, kind, name, {
                "wait": integer_argument(query.get("waitseconds"), "waitseconds", 0, MAX_WAIT_SECONDS, -1, " seconds"),
                "count": integer_argument(batch, "numOfMessages", 1, MAX_BATCH, 1),
                "batch": batch is not None,
            })
        fields = parse_fields(request.body, "Message")
        args: Dict[str, Any] = {"body": fields.get("MessageBody", "")}
        if action == "PublishMessage":
            args["tag"] = fields.get("MessageTag", "")
            if len(args["tag"]) > MAX_TAG_LENGTH:
                raise invalid_argument("MessageTag length", 1, MAX_TAG_LENGTH, " characters")
        else:
            args["delay"] = integer_argument(fields.get("DelaySeconds"), "DelaySeconds", 0, MAX_DELAY_SECONDS, -1,
                                             " seconds")
            args["priority"] = integer_argument(fields.get("Priority"), "Priority", 1, 16, 8)
        return MnsCall(action, kind, name, args)

    def _act(self, call: MnsCall) -> tuple:
        if call.action in ("ReceiveMessage", "BatchReceiveMessage"):
            return self._receive(call)
        with self.state.lock:
            mns = self.state.mns
            if call.action == "DeleteMessage":
                mns.delete(call.name, call.args["receipt_handle"])
                return 204, b""
            if call.action == "PublishMessage":
                check_size(call.args["body"], mns.topic(call.name).maximum_message_size)
                message_id = mns.publish(call.name, call.args["body"], call.args["tag"])
            else:
                check_size(call.args["body"], mns.queue(call.name).maximum_message_size)
                delay = None if call.args["delay"] < 0 else call.args["delay"]
                message_id = mns.send(call.name, call.args["body"], delay, call.args["priority"]).message_id
            self.state.lock.notify_all()
        return 201, render_xml("Message", {"MessageId": message_id, "MessageBodyMD5": body_md5(call.args["body"])})

    def _receive(self, call: MnsCall) -> tuple:
        """Long polling: wait on the state's Condition (lock released) until a message is visible."""
        with self.state.lock:
            mns = self.state.mns
            wait = call.args["wait"] if call.args["wait"] >= 0 else mns.queue(call.name).polling_wait_seconds
            deadline = time.monotonic() + wait
            while True:
                mns = self.state.mns  # a reset while waiting replaces the store
                received = mns.receive(call.name, call.args["count"])
                if received:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ApiError(404, "MessageNotExist", "Message not exist.")
                soonest = mns.seconds_until_visible(call.name)
                self.state.lock.wait(remaining if soonest is None else min(remaining, soonest + 0.001))
            views = [message.received_view() for message in received]
        if call.args["batch"]:
            return 200, render_xml_list("Messages", "Message", views)
        return 200, render_xml("Message", views[0])

