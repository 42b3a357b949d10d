"""Fault injection: rules that make chosen calls slow, refused, ambiguous or cut off.

Configuration: {"seed": 42, "rules": [{"service": "domain"|"mns"|"*", "action": NAME or a
glob such as "*" or "Query*", "fault": F, "rate": 0..1, "times": max firings, "after": N (the
first N calls the rule matches go through untouched), "latency_ms": N,
"retry_after_ms": N, "code": throttling code, "status": gateway_page status,
"process_after_ms": N (gateway_page: the service still performs the call N ms after the page),
"error_msg": task_failure's ErrorMsg}]}. Rules are tried in order for each authenticated call:
every latency rule that fires adds its delay, and the first error rule that fires wins. Then,
if the call will be processed, the first outcome rule that fires (task_failure, task_stuck:
only on the actions that create a task) plans how the created task ends. A seeded random
generator (under a lock) decides, so a run can be replayed.
"""
from __future__ import annotations

import random
from fnmatch import fnmatchcase
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional

from .deferred import DeferredCalls
from .domain_params import TASK_ACTIONS
from .domain_state import FAILS, NEVER_ENDS, TaskPlan
from .errors import ApiError
from .http_types import DROPPED, Reply

# gateway_page: the front gateway answers with its own HTML page (status from `status`, 503 by
# default) before the service sees the call, or, with process_after_ms, while the backend goes
# on to perform the call that much later (a gateway timing out in front of a slow backend).
# garbled_after: the call is processed, and the 200 answer arrives cut short, unreadable.
# forbidden: the role lacks the action (a RAM policy changed under a running function).
NOT_PROCESSED = ("throttling", "unavailable", "internal_error", "drop_before", "gateway_page", "forbidden")
PROCESSED_THEN_FAILED = ("internal_error_after", "drop_after", "garbled_after")
GATEWAY_STATUSES = (429, 502, 503, 504)
ERROR_FAULTS = NOT_PROCESSED + PROCESSED_THEN_FAILED
LATENCY_FAULTS = ("latency", "latency_after")
# The call succeeds; the task it creates fails (with error_msg) or never leaves EXECUTING.
OUTCOME_FAULTS = {"task_failure": FAILS, "task_stuck": NEVER_ENDS}
SERVICES = ("domain", "mns", "*")
DEFAULT_LATENCY_MS = 1000
# Throttling answers: code -> (status, message). The Domain API's default is Throttling.User;
# MNS's is 429 TooManyRequests (its current throttling policy page), QpsLimitExceeded (400)
# being the older documented code.
THROTTLING = {
    "Throttling": (400, "Request was denied due to flow control."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling.Api": (400, "Request was denied due to api flow control."),
    "TooManyRequests": (429, "The request is denied by cluster flow limiter for too many requests."),
    "QpsLimitExceeded": (400, "The qps limit of the queue is exceeded."),
}
DEFAULT_THROTTLING_CODE = {"domain": "Throttling.User", "mns": "TooManyRequests"}
FAILURE_MESSAGES = {  # (service, code) -> message
    ("domain", "ServiceUnavailable"): "The request has failed due to a temporary failure of the server.",
    ("domain", "InternalError"): "The request processing has failed due to some unknown error, exception or failure.",
    ("mns", "ServiceUnavailable"): "Service is unavailable, please try again later.",
    ("mns", "InternalError"): "Interal error.",  # sic, as the MNS error table spells it
}


@dataclass
class FaultRule:
    service: str
    action: str
    fault: str
    rate: float = 1.0
    times: Optional[int] = None
    latency_ms: int = 0
    retry_after_ms: Optional[int] = None
    code: Optional[str] = None  # throttling only: which throttling Code to answer
    status: Optional[int] = None  # gateway_page only: the page's HTTP status
    error_msg: Optional[str] = None  # task_failure only: the failed task's ErrorMsg
    process_after_ms: Optional[int] = None  # gateway_page only: the call is still performed, this much later
    fired: int = 0
    after: int = 0  # the first `after` calls the rule matches go through untouched
    matched: int = 0

    @classmethod
    def from_dict(cls, entry: Dict[str, Any]) -> "FaultRule":
        unknown = set(entry) - {f for f in cls.__dataclass_fields__ if f not in ("fired", "matched")}
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        rule = cls(
            service=str(entry.get("service", "*")), action=str(entry.get("action", "*")),
            fault=str(entry.get("fault", "")), rate=float(entry.get("rate", 1.0)),
            times=None if entry.get("times") is None else int(entry["times"]),
            latency_ms=int(entry.get("latency_ms", DEFAULT_LATENCY_MS if entry.get("fault") in LATENCY_FAULTS else 0)),
            retry_after_ms=None if entry.get("retry_after_ms") is None else int(entry["retry_after_ms"]),
            code=entry.get("code"),
            status=None if entry.get("status") is None else int(entry["status"]),
            error_msg=None if entry.get("error_msg") is None else str(entry["error_msg"]),
            process_after_ms=None if entry.get("process_after_ms") is None else int(entry["process_after_ms"]),
            after=int(entry.get("after", 0)),
        )
        if rule.service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES}, not {rule.service!r}")
        faults = ERROR_FAULTS + LATENCY_FAULTS + tuple(OUTCOME_FAULTS)
        if rule.fault not in faults:
            raise ValueError(f"fault must be one of {faults}, not {rule.fault!r}")
        if rule.is_outcome and (rule.service == "mns" or not any(fnmatchcase(a, rule.action) for a in TASK_ACTIONS)):
            raise ValueError(f"{rule.fault} is for the actions that create a task: {TASK_ACTIONS}")
        if rule.error_msg is not None and rule.fault != "task_failure":
            raise ValueError("error_msg is only for task_failure rules")
        if rule.process_after_ms is not None and (rule.fault != "gateway_page" or rule.process_after_ms < 0):
            raise ValueError("process_after_ms is only for gateway_page rules, and not negative")
        if not 0.0 <= rule.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, not {rule.rate}")
        if (rule.times is not None and rule.times < 0) or rule.latency_ms < 0 or rule.after < 0:
            raise ValueError("times, after and latency_ms must not be negative")
        if rule.code is not None and (rule.fault != "throttling" or rule.code not in THROTTLING):
            raise ValueError(f"code is only for throttling rules, one of {sorted(THROTTLING)}")
        if rule.status is not None and (rule.fault != "gateway_page" or rule.status not in GATEWAY_STATUSES):
            raise ValueError(f"status is only for gateway_page rules, one of {GATEWAY_STATUSES}")
        return rule

    def applies_to(self, service: str, action: str) -> bool:
        return (self.service in ("*", service) and fnmatchcase(action, self.action)
                and (self.times is None or self.fired < self.times))

    @property
    def is_latency(self) -> bool:
        return self.fault in LATENCY_FAULTS

    @property
    def is_outcome(self) -> bool:
        return self.fault in OUTCOME_FAULTS

    @property
    def processes_later(self) -> bool:
        return self.fault == "gateway_page" and self.process_after_ms is not None


@dataclass
class FaultDecision:
    error: Optional[FaultRule] = None
    latency_before_ms: int = 0
    latency_after_ms: int = 0
    outcome: Optional[FaultRule] = None  # plans the end of the task the call creates
    fired: List[str] = field(default_factory=list)  # fault names, in the order they fired

    @property
    def processes_the_call(self) -> bool:
        error = self.error
        return error is None or error.fault in PROCESSED_THEN_FAILED or error.processes_later

    def task_plan(self) -> Optional[TaskPlan]:
        """The planned end of a task the call creates, when an outcome rule fired."""
        if self.outcome is None:
            return None
        return TaskPlan(OUTCOME_FAULTS[self.outcome.fault], self.outcome.error_msg, "fault")


STRING_OPTIONS = ("code", "error_msg")


def parse_fault_spec(spec: str) -> Dict[str, Any]:
    """'service:action:fault:rate[:key=value...]', e.g. domain:*:latency:0.5:latency_ms=300."""
    parts = spec.split(":")
    if len(parts) < 4:
        raise ValueError(f"fault spec {spec!r} is not service:action:fault:rate[:key=value...]")
    service, action, fault, rate = parts[:4]
    entry: Dict[str, Any] = {"service": service, "action": action, "fault": fault, "rate": float(rate)}
    for extra in parts[4:]:
        key, sep, value = extra.partition("=")
        if not sep:
            raise ValueError(f"fault spec option {extra!r} is not key=value")
        entry[key] = value if key in STRING_OPTIONS else int(value)
    FaultRule.from_dict(entry)  # fail now, with the spec in hand
    return entry


class FaultInjector:
    def __init__(self, config: Optional[Dict[str, Any]] = None) -> None:
        self._lock = threading.Lock()
        self.deferred = DeferredCalls()  # survives configure(): rules change, calls under way do not
        self.configure(config)

    def configure(self, config: Optional[Dict[str, Any]]) -> None:
        """Replace every rule (None or {} clears them)."""
        config = config or {}
        rules = [FaultRule.from_dict(entry) for entry in config.get("rules", [])]
        seed = config.get("seed")
        with self._lock:
            self._rules, self._seed, self._random = rules, seed, random.Random(seed)

    def clear(self) -> None:
        self.configure(None)

    def describe(self) -> Dict[str, Any]:
        with self._lock:
            return {"seed": self._seed, "rules": [asdict(rule) for rule in self._rules]}

    def decide(self, service: str, action: str) -> FaultDecision:
        decision = FaultDecision()
        with self._lock:
            for rule in self._rules:
                if rule.is_outcome or not rule.applies_to(service, action) or (decision.error and not rule.is_latency):
                    continue
                if self._fires(rule, decision):
                    if rule.fault == "latency":
                        decision.latency_before_ms += rule.latency_ms
                    elif rule.fault == "latency_after":
                        decision.latency_after_ms += rule.latency_ms
                    else:
                        decision.error = rule
            # Only a task that will be created gets a planned end (and only then does a rule fire).
            if service != "domain" or action not in TASK_ACTIONS or not decision.processes_the_call:
                return decision
            for rule in self._rules:
                if rule.is_outcome and rule.applies_to(service, action) and self._fires(rule, decision):
                    decision.outcome = rule
                    break
        return decision

    def _fires(self, rule: FaultRule, decision: FaultDecision) -> bool:
        rule.matched += 1
        if rule.matched <= rule.after:
            return False
        if self._random.random() >= rule.rate:
            return False
        rule.fired += 1
        decision.fired.append(rule.fault)
        return True


    def run(self, decision: FaultDecision, process: Callable[[], Reply],
            fault_reply: Callable[[FaultRule], Reply]) -> Reply:
        """Process the call as the decision says: delayed, refused, cut off, failed after the
        fact, or answered by the gateway and performed later."""
        time.sleep(decision.latency_before_ms / 1000)
        error = decision.error
        if error is not None and error.fault == "drop_before":
            return DROPPED
        if error is not None and error.fault == "gateway_page":
            if error.processes_later:
                self.deferred.defer(error.process_after_ms / 1000, process)
            return gateway_page(error.status or 503)
        if error is not None and error.fault in NOT_PROCESSED:
            return fault_reply(error)
        reply = process()
        if error is not None and error.fault == "internal_error_after":
            reply = fault_reply(error)
        elif error is not None and error.fault == "drop_after":
            reply = DROPPED
        elif error is not None and error.fault == "garbled_after":
            reply = Reply(200, reply.body[: len(reply.body) // 2], dict(reply.headers), code="Garbled")
        time.sleep(decision.latency_after_ms / 1000)
        return reply


def gateway_page(status: int) -> Reply:
    """What a load balancer in front of a service answers on its own: HTML, no service Code."""
    page = f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>"
    return Reply(status, page.encode(), {"content-type": "text/html"}, code=f"Gateway{status}")


def fault_error(rule: FaultRule, service: str) -> ApiError:
    """The error an error rule answers with, in the service's own codes."""
    if rule.fault == "throttling":
        code = rule.code or DEFAULT_THROTTLING_CODE[service]
        status, message = THROTTLING[code]
        headers = {}
        if rule.retry_after_ms is not None and service == "domain":  # an ACS header; MNS has none
            headers["x-acs-retry-after"] = str(rule.retry_after_ms)
        return ApiError(status, code, message, headers)
    if rule.fault == "forbidden":
        if service == "domain":
            return ApiError(403, "Forbidden.RAM",
                            "User not authorized to operate on the specified resource, or this API doesn't support RAM.")
        return ApiError(403, "AccessDenied", "The access is denied by the RAM policy.")
    status, code = (503, "ServiceUnavailable") if rule.fault == "unavailable" else (500, "InternalError")
    return ApiError(status, code, FAILURE_MESSAGES[(service, code)])
