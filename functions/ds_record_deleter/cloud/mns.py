"""A small MNS (Simple Message Queue) client: publish to a topic, send to a queue, and the
receive/delete pair that local tools and tests use to read a queue back."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional, Tuple
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import requests

from . import signing
from .credentials import Credentials
from .errors import MNS_CODES, OutcomeUnknownError, RetryableError, classify, redact
from .http import TimeLeft, Timeout, endpoint_url, send, utc_now

SERVICE = "MNS"
API_VERSION = "2015-06-06"
NAMESPACE = "http://mns.aliyuncs.com/doc/v1/"
CONTENT_TYPE = "text/xml;charset=UTF-8"
MAX_MESSAGE_BYTES = 64 * 1024
MAX_DELAY_SECONDS = 604800



@dataclass(frozen=True)
class SentMessage:
    message_id: str
    body_md5: str


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    dequeue_count: int


def default_endpoint(account_id: str, region: str) -> str:
    return f"https://{account_id}.mns.{region}.aliyuncs.com"


def body_md5(body: str) -> str:
    """MNS reports MessageBodyMD5 as upper-case hex."""
    return hashlib.md5(body.encode("utf-8")).hexdigest().upper()


def message_xml(body: str, **fields: Optional[object]) -> bytes:
    """<Message> as the MNS SDKs send it: MessageBody first, then the fields that are set."""
    extra = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items() if value is not None)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Message xmlns="{NAMESPACE}">'
        f"<MessageBody>{escape(body)}</MessageBody>{extra}</Message>"
    ).encode("utf-8")


def _fields(xml: bytes) -> dict:
    """Child elements of the root as {name: text}, namespace stripped."""
    root = ElementTree.fromstring(xml)
    return {child.tag.rpartition("}")[2]: child.text or "" for child in root}


class MnsClient:
    def __init__(
        self,
        session: requests.Session,
        credentials: Credentials,
        endpoint: str,
        *,
        timeout: Timeout = (3.05, 10.0),
        clock: Callable[[], datetime] = utc_now,
        time_left: Optional[TimeLeft] = None,
    ) -> None:
        self._session = session
        self._credentials = credentials
        self._base_url = endpoint_url(endpoint)
        self._host = urlsplit(self._base_url).netloc
        self._timeout = timeout
        self._clock = clock
        self._time_left = time_left

    def publish(self, topic: str, body: str, tag: Optional[str] = None) -> SentMessage:
        """PublishMessage. The topic fans the message out to its subscriptions."""
        self._check_size(body)
        if tag is not None and not 1 <= len(tag) <= 16:
            raise ValueError("a MessageTag has 1 to 16 characters")
        fields = self._call("POST", f"/topics/{quote(topic, safe='')}/messages", "PublishMessage",
                            message_xml(body, MessageTag=tag), mutating=True, answers=("MessageId",))
        return SentMessage(fields.get("MessageId", ""), fields.get("MessageBodyMD5", ""))

    def send(self, queue: str, body: str, delay_seconds: Optional[int] = None) -> SentMessage:
        """SendMessage, visible after delay_seconds (0..604800) when given."""
        self._check_size(body)
        if delay_seconds is not None and not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"DelaySeconds must be 0..{MAX_DELAY_SECONDS}")
        fields = self._call("POST", f"/queues/{quote(queue, safe='')}/messages", "SendMessage",
                            message_xml(body, DelaySeconds=delay_seconds), mutating=True, answers=("MessageId",))
        return SentMessage(fields.get("MessageId", ""), fields.get("MessageBodyMD5", ""))

    def receive(self, queue: str, wait_seconds: int = 0) -> Optional[ReceivedMessage]:
        """ReceiveMessage with long polling; None when the queue has nothing to give."""
        path = f"/queues/{quote(queue, safe='')}/messages?waitseconds={int(wait_seconds)}"
        fields = self._call("GET", path, "ReceiveMessage", b"", mutating=False,
                            read_timeout=self._timeout[1] + wait_seconds, empty_code="MessageNotExist",
                            answers=("MessageId", "ReceiptHandle"))
        if fields is None:
            return None
        return ReceivedMessage(fields["MessageId"], fields["ReceiptHandle"], fields.get("MessageBody", ""),
                               int(fields.get("DequeueCount", "1")))

    def delete(self, queue: str, receipt_handle: str) -> None:
        path = f"/queues/{quote(queue, safe='')}/messages?ReceiptHandle={quote(receipt_handle, safe='')}"
        self._call("DELETE", path, "DeleteMessage", b"", mutating=True)

    @staticmethod
    def _check_size(body: str) -> None:
        if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise ValueError(f"an MNS message body is at most {MAX_MESSAGE_BYTES} bytes")

    def _call(
        self,
        method: str,
        resource: str,
        action: str,
        body: bytes,
        *,
        mutating: bool,
        read_timeout: Optional[float] = None,
        empty_code: Optional[str] = None,
        answers: Tuple[str, ...] = (),
    ) -> Optional[dict]:
        creds = self._credentials
        headers = {
            "host": self._host,
            "date": signing.http_date(self._clock()),
            "x-mns-version": API_VERSION,
        }
        content_md5 = content_type = ""
        if body:
            content_md5 = headers["content-md5"] = signing.mns_content_md5(body)
            content_type = headers["content-type"] = CONTENT_TYPE
        string_to_sign = signing.mns_string_to_sign(method, content_md5, content_type, headers["date"],
                                                    headers, resource)
        headers["authorization"] = signing.mns_authorization(creds.access_key_id, creds.access_key_secret,
                                                             string_to_sign)
        if creds.security_token:
            # Unsigned, as the official SDK sends it.
            headers["security-token"] = creds.security_token
        timeout = (self._timeout[0], read_timeout or self._timeout[1])
        response = send(self._session, method, self._base_url + resource, headers=headers, body=body,
                        timeout=timeout, service=SERVICE, action=action, mutating=mutating,
                        time_left=self._time_left)
        if response.status_code < 300:
            return self._accepted(response, action, mutating, answers)
        return self._raise(response, action, mutating, empty_code)

    @staticmethod
    def _accepted(response: requests.Response, action: str, mutating: bool, answers: Tuple[str, ...]) -> dict:
        """The answer's fields, which must name what the action answers (a MessageId): a 2xx that
        is not MNS's answer (unreadable, empty, a proxy's XHTML page) says nothing of whether a
        publish or send happened, and taking it for done would lose the notification."""
        try:
            fields = _fields(response.content) if response.content else {}
        except ElementTree.ParseError:
            fields = None
        if fields is not None and all(fields.get(name) for name in answers):
            return fields
        error_class = OutcomeUnknownError if mutating else RetryableError
        raise error_class("InvalidResponse", f"HTTP {response.status_code} with a body that is not MNS's answer",
                          service=SERVICE, action=action, http_status=response.status_code,
                          request_id=response.headers.get("x-mns-request-id"))

    def _raise(self, response: requests.Response, action: str, mutating: bool, empty_code: Optional[str]) -> None:
        try:
            error = _fields(response.content)
        except ElementTree.ParseError:
            error = {}
        code = error.get("Code") or None  # none: not MNS's own <Error> (a gateway's page)
        if code is not None and code == empty_code:
            return None
        error_class = classify(code, response.status_code, rules=MNS_CODES, mutating=mutating)
        raise error_class(
            code or f"HTTP{response.status_code}",
            redact(error.get("Message", ""), self._credentials.secrets()),
            service=SERVICE,
            action=action,
            request_id=error.get("RequestId") or response.headers.get("x-mns-request-id"),
            http_status=response.status_code,
            answered_by_service=code is not None,
        )
