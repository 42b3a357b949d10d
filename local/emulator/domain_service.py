"""The Domain API (RPC style, JSON answers): authenticate, check, inject faults, then act.

Order of checks: signature form -> access key -> token -> timestamp -> signature -> nonce ->
action/version -> parameters -> faults -> processing.
"""
from __future__ import annotations

import json
import math
import uuid
from typing import Any, Dict, List, Optional

from . import domain_params
from .auth import NonceCache, authenticate_domain, claimed_domain_identity, request_params
from .credentials import CredentialStore
from .domain_state import ADD_TASK, DELETE_TASK, DSRecord, TaskPlan
from .errors import ApiError
from .faults import FaultInjector, fault_error
from .http_types import CallRecord, HttpRequest, Reply
from .state import EmulatorState

CONTENT_TYPE = "application/json;charset=utf-8"
DEFAULT_HOST_ID = "domain.aliyuncs.com"


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


def json_reply(status: int, body: Dict[str, Any], request_id: str, code: Optional[str] = None,
               extra_headers: Optional[Dict[str, str]] = None) -> Reply:
    headers = {"Content-Type": CONTENT_TYPE, "x-acs-request-id": request_id, **(extra_headers or {})}
    return Reply(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers, code)


def error_reply(error: ApiError, request_id: str, host: str) -> Reply:
    body = {
        "RequestId": request_id, "HostId": host or DEFAULT_HOST_ID, "Code": error.code, "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Domain&requestId={request_id}",
    }
    return json_reply(error.status, body, request_id, error.code, error.headers)


def page(items: List[Dict[str, Any]], page_num: int, page_size: int, list_name: str) -> Dict[str, Any]:
    """One page of items as the paged Query* actions answer: paging fields plus Data.<list_name>."""
    total_pages = math.ceil(len(items) / page_size)
    start = (page_num - 1) * page_size
    return {
        "CurrentPageNum": page_num, "PageSize": page_size, "TotalPageNum": total_pages,
        "TotalItemNum": len(items), "PrePage": page_num > 1, "NextPage": page_num < total_pages,
        "Data": {list_name: items[start:start + page_size]},
    }


class DomainService:
    def __init__(self, state: EmulatorState, credentials: CredentialStore, nonces: NonceCache,
                 faults: FaultInjector) -> None:
        self.state = state
        self.credentials = credentials
        self.nonces = nonces
        self.faults = faults

    def handle(self, request: HttpRequest, record: CallRecord) -> Reply:
        request_id = new_request_id()
        host = request.headers.get("host", "")
        given = request_params(request)
        record.access_key_id, record.action = claimed_domain_identity(request, given)
        try:
            call = authenticate_domain(request, self.credentials, self.nonces, self.state.clock(), given)
            domain_params.check_action(call.action, call.version)
            params = domain_params.validate(call.action, call.params)
        except ApiError as error:
            return error_reply(error, request_id, host)
        decision = self.faults.decide("domain", call.action)
        record.faults = decision.fired

        def process() -> Reply:
            try:
                body = self._act(call.action, params, request.client_ip, decision.task_plan())
            except ApiError as error:
                return error_reply(error, request_id, host)
            return json_reply(200, {"RequestId": request_id, **body}, request_id)

        return self.faults.run(
            decision, process, lambda rule: error_reply(fault_error(rule, "domain"), request_id, host)
        )

    def _act(self, action: str, params: Dict[str, Any], client_ip: str,
             plan: Optional[TaskPlan]) -> Dict[str, Any]:
        """plan: how a task created here ends, when a fault rule says (else the domain says)."""
        with self.state.lock:
            store = self.state.domains
            store.advance()
            if action == "SaveSingleTaskForDeletingDSRecord":
                task = store.submit(DELETE_TASK, params["DomainName"], params["KeyTag"],
                                    params.get("UserClientIp", client_ip), params["Lang"], plan=plan)
                return {"TaskNo": task.task_no}
            if action == "SaveSingleTaskForAddingDSRecord":
                record = DSRecord(params["KeyTag"], params["Algorithm"], params["DigestType"], params["Digest"])
                task = store.submit(ADD_TASK, params["DomainName"], params["KeyTag"],
                                    params.get("UserClientIp", client_ip), params["Lang"], record, plan)
                return {"TaskNo": task.task_no}
            if action == "QueryDSRecord":
                return {"DSRecordList": [r.as_dict() for r in store.domain(params["DomainName"]).records]}
            if action == "QueryTaskDetailList":
                tasks = store.task_details(params["TaskNo"], params.get("DomainName"), params.get("TaskStatus"),
                                           params.get("InstanceId"))
                return page([task.detail() for task in tasks], params["PageNum"], params["PageSize"], "TaskDetail")
            tasks = store.tasks_created_between(params.get("BeginCreateTime"), params.get("EndCreateTime"))
            return page([task.info() for task in tasks], params["PageNum"], params["PageSize"], "TaskInfo")
