"""What became of one request."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .deletion_request import DeletionRequest
from .source import Source

SUBMITTED = "SUBMITTED"  # the task exists: TaskNo known
REJECTED = "REJECTED"    # invalid request: nothing was sent to the cloud
FAILED = "FAILED"        # the cloud refused, or could not be reached

# Why a FAILED request failed, which decides what may be done with it next.
RETRYABLE = "RETRYABLE"  # not processed: send again later
UNKNOWN = "UNKNOWN"      # may have been processed: reconcile before sending again
PERMANENT = "PERMANENT"  # refused for good

# Ends the checks before a deletion give (deleter/guard.py); a refusal of theirs is FAILED, PERMANENT.
ALREADY_ABSENT = "ALREADY_ABSENT"  # the registry lists no DS record with the KeyTag: nothing to delete
DRY_RUN = "DRY_RUN"                # only checked: what would happen, nothing sent or published


@dataclass(frozen=True)
class Outcome:
    status: str
    source: Source
    request: Optional[DeletionRequest] = None
    task_no: Optional[str] = None
    api_request_id: Optional[str] = None
    code: Optional[str] = None
    message: Optional[str] = None
    failure: Optional[str] = None  # FAILED only: RETRYABLE, UNKNOWN or PERMANENT
    # Whether the notification for this outcome reached the topic (None: none was due).
    notified: Optional[bool] = None
    # Answered from the idempotency record of an earlier delivery: no call was made.
    replayed: bool = False
    # The TaskNo was found by reconciliation after an answer was lost, not returned by the call.
    adopted: bool = False
    # The TaskNo is another request's task for the same DS record, still pending (or succeeded).
    joined: bool = False
    # The task's status as the service reported it when it was adopted or joined ("": a new task).
    task_status: str = ""
    # Whether the task's first check is scheduled (follow_up.py; None: watching is off, or no task).
    watched: Optional[bool] = None
    # What the checks before the deletion found (deleter.guard.Clearance), when they ran.
    guard: Optional[Any] = None

    @property
    def settled(self) -> bool:
        """Nothing more can be done for it: a redelivery would change nothing. A TaskNo or a
        rejection not yet published is not settled: a redelivery publishes it; nor is a TaskNo
        published whose first check is not scheduled: a redelivery schedules it."""
        if self.status == FAILED and self.failure != PERMANENT:
            return False
        return self.notified is not False and self.watched is not False
