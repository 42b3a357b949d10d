"""The use case: validate one request -> submit the deletion task -> publish the notification."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from cloud.errors import CloudError, OutcomeUnknownError, RetryableError

from . import notifications
from .deletion_request import DeletionRequest, InvalidRequest, parse_deletion_request
from .log import logger
from .notifications import Notification, Notifier
from .outcome import FAILED, PERMANENT, REJECTED, RETRYABLE, SUBMITTED, UNKNOWN, Outcome
from .ports import DomainApi
from .source import IncomingRequest, Source


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DeletionUseCase:
    def __init__(self, domain_api: DomainApi, notifier: Notifier, *, default_lang: str = "en",
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self._domain_api = domain_api
        self._notifier = notifier
        self._default_lang = default_lang
        self._clock = clock

    def process(self, item: IncomingRequest) -> Outcome:
        """Never raises: every end is an Outcome, so one bad item cannot stop a batch."""
        try:
            return self._process(item)
        except Exception as error:  # a defect, not a request's fault: keep the batch going
            logger.exception("Unexpected error", extra={"correlation_id": item.source.id})
            return Outcome(FAILED, item.source, code="UnexpectedError", message=type(error).__name__,
                           failure=UNKNOWN)

    def _process(self, item: IncomingRequest) -> Outcome:
        try:
            if item.problem is not None:
                raise item.problem
            request = parse_deletion_request(item.payload, default_lang=self._default_lang,
                                             fallback_client_ip=item.client_ip)
        except InvalidRequest as error:
            return self._reject(item, error)
        try:
            task = self._domain_api.save_deleting_ds_task(request.domain_name, request.key_tag, request.lang,
                                                          request.user_client_ip)
        except CloudError as error:
            return self._fail(request, item.source, error)
        return self._submitted(request, item.source, task.task_no, task.request_id)

    def _submitted(self, request: DeletionRequest, source: Source, task_no: str, api_request_id: str) -> Outcome:
        log = _log_fields(source, request, task_no=task_no, outcome=SUBMITTED)
        logger.info("Deletion task submitted", extra=log)
        notified = self._notify(notifications.submitted(request, task_no, api_request_id, source, self._clock()),
                                log)
        return Outcome(SUBMITTED, source, request, task_no=task_no, api_request_id=api_request_id,
                       notified=notified)

    def _reject(self, item: IncomingRequest, error: InvalidRequest) -> Outcome:
        log = _log_fields(item.source, None, outcome=REJECTED, code=error.code, reason=error.message)
        logger.warning("Request rejected", extra=log)
        notified = None
        if not item.source.caller_sees_answer:
            notified = self._notify(notifications.rejected(item.payload, error, item.source, self._clock()), log)
        return Outcome(REJECTED, item.source, code=error.code, message=error.message, notified=notified)

    def _fail(self, request: DeletionRequest, source: Source, error: CloudError) -> Outcome:
        failure = _failure_kind(error)
        log = _log_fields(source, request, outcome=FAILED, code=error.code, reason=error.message,
                          error_class=type(error).__name__, api_request_id=error.request_id)
        logger.error("Deletion task not submitted", extra=log)
        notified = None
        if failure == PERMANENT and not source.caller_sees_answer:
            notified = self._notify(notifications.failed(request, error.code, error.message, error.request_id,
                                                         source, self._clock()), log)
        return Outcome(FAILED, source, request, api_request_id=error.request_id, code=error.code,
                       message=error.message, failure=failure, notified=notified)

    def _notify(self, notification: Notification, log: dict) -> bool:
        try:
            self._notifier.send(notification)
            return True
        except (CloudError, ValueError) as error:
            # The outcome stands; what was not published is in this ERROR line (TaskNo included).
            logger.error("Notification not published", extra={**log, "event": notification.event,
                                                                "publish_error": str(error)})
            return False


def _failure_kind(error: CloudError) -> str:
    if isinstance(error, RetryableError):
        return RETRYABLE
    return UNKNOWN if isinstance(error, OutcomeUnknownError) else PERMANENT


def _log_fields(source: Source, request: "DeletionRequest | None", **fields: object) -> dict:
    base = {"correlation_id": source.id, "trigger": source.trigger}
    if request is not None:
        base.update(domain=request.domain_name, key_tag=request.key_tag)
    return {**base, **{key: value for key, value in fields.items() if value is not None}}
