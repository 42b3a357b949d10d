"""The entry points FC calls: initialize(context) once per instance, handler(event, context).

Thin by design: recognise the trigger, turn the event into plain requests, hand them to the
core, turn the outcomes into the trigger's answer. Everything else lives in deleter/ (the core),
cloud/ (the adapters it is given), triggers/ (one adapter per trigger) and wiring.py."""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

import triggers
from cloud.credentials import CredentialsError
from deleter.batch import process_all
from deleter.deadline import Deadline
from deleter.log import logger
from deleter.settings import ConfigurationError
from triggers.common import Refused
from wiring import FunctionInstance

_instance: Optional[FunctionInstance] = None


def _current_instance() -> FunctionInstance:
    """Settings are read once per instance; while they are invalid, every invocation says why."""
    global _instance
    if _instance is None:
        _instance = FunctionInstance.from_environ(os.environ)
    return _instance


def initialize(context: Any) -> None:
    logger.append_keys(request_id=getattr(context, "request_id", None))
    logger.set_correlation_id(None)  # no event yet: nothing to correlate with
    try:
        _current_instance()
    except ConfigurationError as error:
        logger.error("Function misconfigured", extra={"error": str(error)})


def handler(event: Any, context: Any) -> Any:
    return handle(event, context, _current_instance)


def handle(event: Any, context: Any, instance_of: Callable[[], FunctionInstance]) -> Any:
    """One invocation on the instance that instance_of() gives (tests run two side by side)."""
    logger.append_keys(request_id=getattr(context, "request_id", None))
    adapter, decoded = triggers.recognise(event)
    # First of all: a warm instance must not log this invocation under the previous one's id.
    logger.set_correlation_id(adapter.correlation_id(decoded, context))
    try:
        instance = instance_of()
        deadline = Deadline.for_invocation(context, instance.settings.deadline_margin_seconds)
        delivered = adapter.delivery(decoded, context, instance.trigger_options)
        process = instance.processor(context, os.environ, deadline)
    except Refused as refused:
        refused.log()
        return refused.answer
    except (ConfigurationError, CredentialsError) as error:
        logger.error("Function misconfigured", extra={"error": str(error)})
        answer_misconfigured = getattr(adapter, "misconfigured", None)  # a trigger with a caller to tell
        if answer_misconfigured is None:
            raise
        return answer_misconfigured(str(error))
    outcomes = process_all(delivered.items, process, instance.executor)
    return adapter.answer(outcomes, delivered)
