"""The emulator's own control API under /__emulator__/ (JSON, no authentication).

GET state | GET, DELETE requests | GET stats (calls in flight, the peak, calls deferred) |
GET, PUT, DELETE faults | POST reset | POST or PUT domains (one entry as in seed.json,
TaskOutcome and ErrorMsg included: it replaces the domain) | POST tasks (many tasks of one
domain at once: see DomainStore.create_tasks) | GET, PUT settings | GET credentials.
No real Alibaba Cloud API lives under this path.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, Tuple

from .auth import NonceCache
from .credentials import CredentialStore
from .domain_params import domain_name
from .errors import ApiError
from .faults import FaultInjector
from .http_types import HttpRequest, Reply
from .request_log import RequestLog
from .state import EmulatorState

PREFIX = "/__emulator__/"


def json_reply(status: int, body: Any) -> Reply:
    return Reply(status, json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"),
                 {"Content-Type": "application/json;charset=utf-8"})


class Admin:
    """Run-time control of one emulator; the HTTP routes and the Python API share it."""

    def __init__(self, state: EmulatorState, credentials: CredentialStore, nonces: NonceCache,
                 faults: FaultInjector, requests: RequestLog, account: Dict[str, str]) -> None:
        self.state = state
        self.credentials = credentials
        self.nonces = nonces
        self.faults = faults
        self.requests = requests
        self.account = account
        self._routes: Dict[Tuple[str, str], Callable[[Any], Any]] = {
            ("GET", "state"): lambda _: self.state.snapshot(),
            ("GET", "requests"): lambda _: self.requests.entries(),
            ("DELETE", "requests"): lambda _: self.requests.clear(),
            ("GET", "stats"): lambda _: self.stats(),
            ("GET", "faults"): lambda _: self.faults.describe(),
            ("PUT", "faults"): self.set_faults,
            ("DELETE", "faults"): lambda _: self.faults.clear(),
            ("POST", "reset"): lambda _: self.reset(),
            ("POST", "domains"): self.put_domain,
            ("PUT", "domains"): self.put_domain,
            ("POST", "tasks"): self.create_tasks,
            ("GET", "settings"): lambda _: self.settings(),
            ("PUT", "settings"): self.change_settings,
            ("GET", "credentials"): lambda _: self.credentials_view(),
        }

    def reset(self) -> None:
        """Back to the seed; forget requests, faults, nonces and calls deferred by a gateway page."""
        self.faults.deferred.cancel()  # first: none of them may land in the fresh state
        self.state.reset()
        self.requests.clear()
        self.faults.clear()
        self.nonces.clear()

    def stats(self) -> Dict[str, Any]:
        """Calls in flight per service and the most at once; calls a gateway page deferred."""
        return {**self.requests.stats(), "deferred": self.faults.deferred.pending()}

    def set_faults(self, config: Any) -> Dict[str, Any]:
        if not isinstance(config, dict):
            raise ValueError("the fault configuration must be a JSON object")
        self.faults.configure(config)
        return self.faults.describe()

    def put_domain(self, entry: Any) -> Dict[str, Any]:
        if not isinstance(entry, dict) or "DomainName" not in entry:
            raise ValueError('a domain needs at least {"DomainName": ...}')
        try:
            domain_name("DomainName", str(entry["DomainName"]))
        except ApiError as error:
            raise ValueError(error.message)
        return self.state.put_domain(entry)

    def create_tasks(self, entry: Any) -> Dict[str, Any]:
        try:
            task_nos = self.state.create_tasks(entry)
        except ApiError as error:  # DomainNotExist
            raise ValueError(error.message)
        return {"Count": len(task_nos), "TaskNos": task_nos}

    def settings(self) -> Dict[str, Any]:
        with self.state.lock:
            waiting, executing = self.state.domains.task_delays
            lag_ms = self.state.domains.listing_lag_ms
        return {"task_delays": {"waiting_seconds": waiting, "executing_seconds": executing},
                "listing_lag_seconds": lag_ms / 1000}

    def change_settings(self, body: Any) -> Dict[str, Any]:
        usage = ('settings take {"task_delays": {"waiting_seconds": N, "executing_seconds": N}} and/or '
                 '{"listing_lag_seconds": N}')
        if not isinstance(body, dict) or not body or set(body) - {"task_delays", "listing_lag_seconds"}:
            raise ValueError(usage)
        delays = body.get("task_delays")
        if "task_delays" in body and not isinstance(delays, dict):
            raise ValueError(usage)
        if "listing_lag_seconds" in body:
            self.state.set_listing_lag(body["listing_lag_seconds"])
        if delays is not None:
            current = self.settings()["task_delays"]
            self.state.set_task_delays(delays.get("waiting_seconds", current["waiting_seconds"]),
                                       delays.get("executing_seconds", current["executing_seconds"]))
        return self.settings()

    def credentials_view(self) -> Dict[str, Any]:
        return {**self.account, "credentials": [c.as_dict() for c in self.credentials.all()]}

    def handle(self, request: HttpRequest) -> Reply:
        route = self._routes.get((request.method, request.path[len(PREFIX):].strip("/")))
        if route is None:
            return json_reply(404, {"error": f"no admin route {request.method} {request.path}"})
        try:
            body = json.loads(request.body) if request.body else None
            result = route(body)
        except (ValueError, KeyError, TypeError) as error:  # json.JSONDecodeError is a ValueError
            return json_reply(400, {"error": str(error)})
        return json_reply(200, {"ok": True} if result is None else result)
