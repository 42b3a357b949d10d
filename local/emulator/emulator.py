"""Emulator: the whole stand-in cloud in one object, served from a daemon thread."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from .admin import Admin
from .auth import NonceCache
from .credentials import CredentialStore
from .domain_service import DomainService
from .faults import FaultInjector
from .mns_service import MnsService
from .request_log import RequestLog
from .seed import SeedSource, load_seed
from .server import EmulatorHTTPServer, Router
from .state import EmulatorState


class Emulator:
    """Domain API and MNS on one local port.

    seed: None (the default seed.json), a path, or a dict. faults: a fault configuration dict.
    task_delays: (waiting_seconds, executing_seconds) of every task; (0, 0) finishes a task on
    the next read.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: SeedSource = None,
                 faults: Optional[Dict[str, Any]] = None, task_delays: Optional[Tuple[float, float]] = None,
                 verbose: bool = False) -> None:
        self.host = host
        self.port = port
        self._seed = load_seed(seed)
        self.state = EmulatorState(self._seed, task_delays)
        self.credential_store = CredentialStore(self._seed["credentials"])
        self.nonces = NonceCache()
        self.faults = FaultInjector(faults)
        self.requests = RequestLog()
        self.admin = Admin(self.state, self.credential_store, self.nonces, self.faults, self.requests,
                           {"account_id": self.account_id, "region": self.region})
        self._router = Router(
            DomainService(self.state, self.credential_store, self.nonces, self.faults),
            MnsService(self.state, self.credential_store, self.faults), self.admin, self.requests, verbose,
        )
        self._server: Optional[EmulatorHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> "Emulator":
        if self._server is None:
            self._server = EmulatorHTTPServer((self.host, self.port), self._router)
            self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self.faults.deferred.cancel()  # a stopped cloud performs nothing more
        if self._server is not None:
            self._server.shutdown()  # returns once serve_forever has: the thread is ending
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    # --- who may call --------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        return self._seed["account_id"]

    @property
    def region(self) -> str:
        return self._seed["region"]

    @property
    def credentials(self) -> List[Dict[str, str]]:
        return [credential.as_dict() for credential in self.credential_store.all()]

    @property
    def access_key(self) -> Dict[str, str]:
        """The first plain AccessKey pair."""
        return next(c.as_dict() for c in self.credential_store.all() if not c.is_sts)

    @property
    def sts_credentials(self) -> Dict[str, str]:
        """The first STS triple that has not expired."""
        return next(c.as_dict() for c in self.credential_store.all() if c.is_sts and not c.is_expired(time.time()))

    # --- run-time control, as the admin API offers it -------------------------------------

    def reset(self) -> None:
        self.admin.reset()

    def snapshot(self) -> Dict[str, Any]:
        return self.state.snapshot()

    def request_log(self) -> List[Dict[str, Any]]:
        return self.requests.entries()

    def stats(self) -> Dict[str, Any]:
        """Calls in flight per service now, the most at once since the last reset, and how many
        calls a gateway page deferred are still to be performed."""
        return self.admin.stats()

    def wait_idle(self, give_up_seconds: float = 10) -> None:
        """Until no call is being served (a client that gave up on a call does not wait for it;
        the emulator logs the call when it answers) and no deferred call is still to come."""
        give_up = time.monotonic() + give_up_seconds
        while time.monotonic() < give_up:
            stats = self.stats()
            if not any(stats["in_flight"].values()) and not stats["deferred"]:
                return
            time.sleep(0.02)

    def set_faults(self, config: Optional[Dict[str, Any]]) -> None:
        self.faults.configure(config)

    def set_task_delays(self, waiting_seconds: float, executing_seconds: float) -> None:
        self.state.set_task_delays(waiting_seconds, executing_seconds)

    def set_listing_lag(self, seconds: float) -> None:
        self.state.set_listing_lag(seconds)

    def put_domain(self, entry: Dict[str, Any]) -> Dict[str, Any]:
        return self.admin.put_domain(entry)

    def create_tasks(self, domain_name: str, key_tag: int, count: int, begin_ms: Optional[int] = None,
                     end_ms: Optional[int] = None, *, task_type: str = "DELETE_DS_RECORD", outcome: str = "success",
                     error_msg: Optional[str] = None) -> List[str]:
        """count tasks of an existing domain, created from begin_ms to end_ms (epoch ms, spread
        evenly; default now), ending as outcome says without changing DS records: as if
        someone else had made them. Their TaskNos, oldest first. The admin call POST tasks."""
        entry: Dict[str, Any] = {"DomainName": domain_name, "KeyTag": key_tag, "Count": count,
                                 "TaskType": task_type, "TaskOutcome": outcome}
        optional = {"BeginCreateTime": begin_ms, "EndCreateTime": end_ms, "ErrorMsg": error_msg}
        entry.update({name: value for name, value in optional.items() if value is not None})
        return self.admin.create_tasks(entry)["TaskNos"]
