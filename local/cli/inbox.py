"""Notifications read back from an operator's inbox: an MNS queue subscribed to the notification
topic, in any of the subscription's formats: SIMPLIFIED (the message as published), JSON or XML
(an envelope with Message and MessageTag), each also as base64.

What reading does to the queue: a message is received, which hides it from every reader for the
queue's VisibilityTimeout, and is deleted only when the caller says so (follow --consume, and only
for the followed task's messages). Every other message is left as it was: it is visible again
once that timeout passes, with its DequeueCount one higher. The CLI never deletes what is not
about its task, so a shared inbox loses nothing; its other readers see such messages late.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Optional, Tuple
from xml.etree import ElementTree

from cloud.errors import CloudError, OutcomeUnknownError, RetryableError
from cloud.mns import MnsClient
from deleter.notifications import TAGS

from .errors import Problem

MAX_WAIT_SECONDS = 30  # MNS's long-polling limit


@dataclass(frozen=True)
class Notification:
    body: dict        # as the function published it (notification.schema.json)
    tag: str          # its MessageTag (from the envelope, else the one the function gives its event)
    message_id: str   # the queue message's id: the same every time the message is received again
    receipt_handle: str

    @property
    def event(self) -> str:
        return str(self.body.get("Event", ""))


def decode(text: str) -> Optional[Tuple[dict, str]]:
    """(the notification, its MessageTag) from a queue message's body; None for anything else."""
    for candidate in (text, _unbase64(text)):
        if candidate is None:
            continue
        found = _notification(candidate)
        if found is not None:
            return found
    return None


def _notification(text: str) -> Optional[Tuple[dict, str]]:
    envelope = _json_object(text)
    if envelope is None and text.lstrip().startswith("<"):
        envelope = _xml_fields(text)
    if envelope is None:
        return None
    tag = str(envelope.get("MessageTag") or "")
    if "Event" not in envelope and isinstance(envelope.get("Message"), str):  # a JSON or XML envelope
        envelope = _json_object(envelope["Message"])
        if envelope is None:
            return None
    event = envelope.get("Event")
    if not isinstance(event, str):
        return None
    return envelope, tag or TAGS.get(event, "")


def _json_object(text: str) -> Optional[dict]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _xml_fields(text: str) -> Optional[dict]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    return {child.tag.rpartition("}")[2]: child.text or "" for child in root}


def _unbase64(text: str) -> Optional[str]:
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def mns_problem(error: CloudError, queue: str) -> Optional[Problem]:
    """A failure no retry mends (no such queue, credentials refused, nothing listening) as one
    line; None for one that passes (throttled, unavailable, an answer lost)."""
    if error.code == "ConnectionRefused":
        return Problem(str(error))
    if isinstance(error, (RetryableError, OutcomeUnknownError)):
        return None
    if error.code == "QueueNotExist":
        return Problem(f"MNS has no queue {queue} at MNS_ENDPOINT ({error.code})")
    return Problem(f"{error} (check MNS_ENDPOINT and the ALIBABA_CLOUD_* credentials, and that they may use {queue})")


class Inbox:
    def __init__(self, mns: MnsClient, queue: str, *, consume: bool = False) -> None:
        self._mns = mns
        self.queue = queue
        self.consume = consume
        self.left: set = set()  # ids of the messages read that were not the followed task's

    def receive(self, wait_seconds: int) -> Optional[Notification]:
        """The next message, waiting up to wait_seconds; one that is no notification is left
        too (None is returned for it, as for an empty queue). Raises Problem or CloudError."""
        try:
            message = self._mns.receive(self.queue, wait_seconds=min(max(wait_seconds, 0), MAX_WAIT_SECONDS))
        except CloudError as error:
            raise mns_problem(error, self.queue) or error
        if message is None:
            return None
        decoded = decode(message.body)
        if decoded is None:
            self.left.add(message.message_id)
            return None
        return Notification(decoded[0], decoded[1], message.message_id, message.receipt_handle)

    def leave(self, notification: Notification) -> None:
        """Not about the followed task: untouched, visible again after the queue's VisibilityTimeout."""
        self.left.add(notification.message_id)

    def done(self, notification: Notification) -> None:
        """About the followed task and shown: deleted with --consume, else left like the rest."""
        if not self.consume:
            return
        try:
            self._mns.delete(self.queue, notification.receipt_handle)
        except CloudError as error:  # it comes back later; the follow goes on
            raise mns_problem(error, self.queue) or error
