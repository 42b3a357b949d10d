"""A small client of the Domain (registrar) API: the three RPC actions this function calls.

RPC style: POST /, every parameter in the query string, empty body. Signed with ACS3-HMAC-SHA256
(what the current SDK sends) or, as an option, the legacy RPC V1 HMAC-SHA1 signature.
"""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import requests

from . import signing
from .credentials import Credentials
from .errors import DOMAIN_CODES, OutcomeUnknownError, RetryableError, classify, redact
from .http import TimeLeft, Timeout, endpoint_url, retry_after_seconds, send, utc_now

SERVICE = "Domain"
DEFAULT_ENDPOINT = "https://domain.aliyuncs.com"
DEFAULT_VERSION = "2018-01-29"
SIGNATURE_VERSIONS = ("v3", "v1")


@dataclass(frozen=True)
class SubmittedTask:
    task_no: str
    request_id: str


@dataclass(frozen=True)
class DsRecord:
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str


@dataclass(frozen=True)
class DsRecordList:
    request_id: str
    records: Tuple[DsRecord, ...]


@dataclass(frozen=True)
class TaskDetail:
    task_no: str
    task_detail_no: str
    task_type: str
    task_status: str
    task_status_code: int
    domain_name: str
    create_time: str
    update_time: str
    fail_reason: Optional[str]
    error_msg: Optional[str]
    try_count: Optional[int]


@dataclass(frozen=True)
class TaskInfo:
    task_no: str
    task_type: str
    task_status: str
    create_time: str


@dataclass(frozen=True)
class TaskListPage:
    request_id: str
    has_next_page: bool
    tasks: Tuple[TaskInfo, ...]


@dataclass(frozen=True)
class TaskDetailPage:
    request_id: str
    page_num: int
    page_size: int
    total_items: int
    has_next_page: bool
    details: Tuple[TaskDetail, ...]


@contextmanager
def _malformed_answer_is_retryable(action: str) -> Iterator[None]:
    """A read's answer that does not have the documented shape (a field missing, of another
    type) is a failed read: typed, so the caller's retry and error handling apply."""
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise RetryableError("InvalidResponse", f"The answer does not have the documented shape ({type(error).__name__})",
                             service=SERVICE, action=action) from None


def _new_nonce() -> str:
    return uuid.uuid4().hex


class DomainApiClient:
    def __init__(
        self,
        session: requests.Session,
        credentials: Credentials,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        version: str = DEFAULT_VERSION,
        signature_version: str = "v3",
        timeout: Timeout = (3.05, 10.0),
        clock: Callable[[], datetime] = utc_now,
        nonce: Callable[[], str] = _new_nonce,
        time_left: Optional[TimeLeft] = None,
    ) -> None:
        if signature_version not in SIGNATURE_VERSIONS:
            raise ValueError(f"signature_version must be one of {SIGNATURE_VERSIONS}")
        self._session = session
        self._credentials = credentials
        self._base_url = endpoint_url(endpoint)
        self._host = urlsplit(self._base_url).netloc
        self._version = version
        self._signature_version = signature_version
        self._timeout = timeout
        self._clock = clock
        self._nonce = nonce
        self._time_left = time_left

    # --- the actions ----------------------------------------------------------------------

    def save_deleting_ds_task(
        self, domain: str, key_tag: int, lang: Optional[str] = None, user_client_ip: Optional[str] = None
    ) -> SubmittedTask:
        """Submit a deletion task. NOT idempotent: every accepted call creates a task."""
        action = "SaveSingleTaskForDeletingDSRecord"
        body = self.call(action, {"DomainName": domain, "KeyTag": key_tag, "Lang": lang,
                                  "UserClientIp": user_client_ip}, mutating=True, answers=("TaskNo",))
        task_no = body.get("TaskNo")
        if not task_no:
            # Accepted (2xx) yet no TaskNo: the task may exist, so this is not a clean failure.
            raise OutcomeUnknownError("MissingTaskNo", "The answer carried no TaskNo", service=SERVICE,
                                      action=action, request_id=body.get("RequestId"))
        return SubmittedTask(task_no=task_no, request_id=body.get("RequestId", ""))

    def query_ds_records(self, domain: str, lang: Optional[str] = None) -> DsRecordList:
        body = self.call("QueryDSRecord", {"DomainName": domain, "Lang": lang}, mutating=False,
                         answers=("DSRecordList",))
        with _malformed_answer_is_retryable("QueryDSRecord"):
            return self._ds_record_list(body)

    @staticmethod
    def _ds_record_list(body: dict) -> DsRecordList:
        records = tuple(
            DsRecord(int(item["KeyTag"]), int(item["Algorithm"]), int(item["DigestType"]), str(item["Digest"]))
            for item in body.get("DSRecordList") or ()
        )
        return DsRecordList(request_id=body.get("RequestId", ""), records=records)

    def query_task_details(
        self,
        task_no: str,
        *,
        domain: Optional[str] = None,
        task_status: Optional[int] = None,
        page_num: int = 1,
        page_size: int = 100,
        lang: Optional[str] = None,
    ) -> TaskDetailPage:
        body = self.call("QueryTaskDetailList", {
            "TaskNo": task_no, "DomainName": domain, "TaskStatus": task_status,
            "PageNum": page_num, "PageSize": page_size, "Lang": lang,
        }, mutating=False, answers=("Data",))
        with _malformed_answer_is_retryable("QueryTaskDetailList"):
            return self._task_detail_page(body, page_num, page_size)

    @staticmethod
    def _task_detail_page(body: dict, page_num: int, page_size: int) -> TaskDetailPage:
        items = (body.get("Data") or {}).get("TaskDetail") or ()
        details = tuple(
            TaskDetail(
                task_no=item.get("TaskNo", ""), task_detail_no=item.get("TaskDetailNo", ""),
                task_type=item.get("TaskType", ""), task_status=item.get("TaskStatus", ""),
                task_status_code=int(item.get("TaskStatusCode", -1)), domain_name=item.get("DomainName", ""),
                create_time=item.get("CreateTime", ""), update_time=item.get("UpdateTime", ""),
                fail_reason=item.get("FailReason"), error_msg=item.get("ErrorMsg"),
                try_count=item.get("TryCount"),
            )
            for item in items
        )
        return TaskDetailPage(
            request_id=body.get("RequestId", ""), page_num=int(body.get("CurrentPageNum", page_num)),
            page_size=int(body.get("PageSize", page_size)), total_items=int(body.get("TotalItemNum", len(details))),
            has_next_page=bool(body.get("NextPage", False)), details=details,
        )

    def query_task_list(self, begin_ms: int, end_ms: int, *, page_num: int = 1, page_size: int = 100) -> TaskListPage:
        """The account's tasks created between two instants (the service may round to days)."""
        body = self.call("QueryTaskList", {"BeginCreateTime": begin_ms, "EndCreateTime": end_ms,
                                           "PageNum": page_num, "PageSize": page_size}, mutating=False,
                         answers=("Data",))
        with _malformed_answer_is_retryable("QueryTaskList"):
            return self._task_list_page(body)

    @staticmethod
    def _task_list_page(body: dict) -> TaskListPage:
        items = (body.get("Data") or {}).get("TaskInfo") or ()
        tasks = tuple(TaskInfo(item.get("TaskNo", ""), item.get("TaskType", ""), item.get("TaskStatus", ""),
                               item.get("CreateTime", "")) for item in items)
        return TaskListPage(body.get("RequestId", ""), bool(body.get("NextPage", False)), tasks)

    # --- one signed call --------------------------------------------------------------------

    def call(self, action: str, params: Mapping[str, Any], *, mutating: bool, answers: Tuple[str, ...] = ()) -> dict:
        """Sign and send one RPC call; the answer's JSON body, or a typed CloudError. answers: the
        fields the action's answer always has: a 2xx without them is not the service's answer."""
        query = {key: str(value) for key, value in params.items() if value is not None}
        if self._signature_version == "v3":
            url, headers = self._sign_v3(action, query)
        else:
            url, headers = self._sign_v1(action, query)
        response = send(self._session, "POST", url, headers=headers, body=b"", timeout=self._timeout,
                        service=SERVICE, action=action, mutating=mutating, time_left=self._time_left)
        return self._read(response, action, mutating, answers)

    def _timestamp(self) -> str:
        return signing.iso8601_utc(self._clock())

    def _sign_v3(self, action: str, query: Mapping[str, str]) -> tuple[str, dict]:
        creds = self._credentials
        headers = {
            "host": self._host,
            "x-acs-action": action,
            "x-acs-version": self._version,
            "x-acs-date": self._timestamp(),
            "x-acs-signature-nonce": self._nonce(),
            "x-acs-content-sha256": signing.EMPTY_SHA256,
            "accept": "application/json",
        }
        if creds.security_token:
            headers["x-acs-security-token"] = creds.security_token
        headers["Authorization"] = signing.acs3_authorization(
            creds.access_key_id, creds.access_key_secret, "POST", "/", query, headers, signing.EMPTY_SHA256
        )
        return f"{self._base_url}/?{signing.canonical_query(query)}", headers

    def _sign_v1(self, action: str, query: Mapping[str, str]) -> tuple[str, dict]:
        creds = self._credentials
        params = {
            **query,
            "Action": action,
            "Version": self._version,
            "Format": "JSON",
            "Timestamp": self._timestamp(),
            "SignatureNonce": self._nonce(),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "AccessKeyId": creds.access_key_id,
        }
        if creds.security_token:
            params["SecurityToken"] = creds.security_token
        params["Signature"] = signing.rpc_v1_signature(creds.access_key_secret, "POST", params)
        headers = {"host": self._host, "accept": "application/json"}
        return f"{self._base_url}/?{signing.canonical_query(params)}", headers

    def _read(self, response: requests.Response, action: str, mutating: bool, answers: Tuple[str, ...]) -> dict:
        try:
            # Bytes straight to json: Response.json() would first guess a text encoding.
            body = json.loads(response.content)
        except ValueError:  # also a body that is not UTF-8
            body = None
        status = response.status_code
        if status < 300 and isinstance(body, dict) and all(field in body for field in answers) and (
                answers or "Code" not in body):
            return body  # the action's own answer, whatever Code it also carries
        # Only the service's own JSON error (a 4xx or 5xx status) is its refusal; anything else (a
        # gateway's HTML page, a proxy's JSON, a 2xx without the action's answer) says by its
        # status alone what may have happened.
        from_service = status >= 400 and isinstance(body, dict) and bool(body.get("Code")) and "RequestId" in body
        if not from_service and status < 400:  # accepted, unreadable: says nothing of the effect
            error_class = OutcomeUnknownError if mutating else RetryableError
            raise error_class("InvalidResponse", f"HTTP {status} with a body that is not the API's JSON",
                              service=SERVICE, action=action, http_status=status,
                              request_id=response.headers.get("x-acs-request-id"))
        code = str(body["Code"]) if from_service else None
        message = str(body.get("Message", "")) if from_service else f"HTTP {status} with a body that is not the API's JSON error"
        error_class = classify(code, status, rules=DOMAIN_CODES, mutating=mutating)
        raise error_class(
            code or f"HTTP{status}",
            redact(message, self._credentials.secrets()),
            service=SERVICE,
            action=action,
            request_id=(body.get("RequestId") if from_service else None) or response.headers.get("x-acs-request-id"),
            http_status=status,
            retry_after_seconds=retry_after_seconds(response),
            answered_by_service=from_service,
        )
