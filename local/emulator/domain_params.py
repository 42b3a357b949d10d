"""Domain API actions the emulator serves, and strict checks of their parameters.

Each check turns the string a client sent into the value the action uses, or raises
InvalidParameter naming the parameter. An empty value counts as not supplied.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Tuple

from .auth import missing_parameter
from .errors import ApiError

API_VERSIONS = ("2018-01-29", "2017-12-18")  # China site, international site

LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
LDH_DOMAIN = re.compile(rf"^{LABEL}(?:\.{LABEL})+$")
INTEGER = re.compile(r"^-?[0-9]+$")
HEX = re.compile(r"^[0-9A-Fa-f]+$")
DIGEST_HEX_LENGTHS = {1: 40, 2: 64, 4: 96}  # SHA-1, SHA-256, SHA-384


def invalid_parameter(name: str, why: str) -> ApiError:
    return ApiError(400, "InvalidParameter", f'The specified parameter "{name}" is not valid: {why}')


def domain_name(name: str, value: str) -> str:
    lowered = value.lower()
    if len(lowered) > 253 or not LDH_DOMAIN.match(lowered) or lowered.rsplit(".", 1)[1].isdigit():
        raise invalid_parameter(name, "it must be a domain name of two or more LDH labels (IDN in A-label form).")
    return lowered


def integer_between(low: int, high: int) -> Callable[[str, str], int]:
    def check(name: str, value: str) -> int:
        if not INTEGER.match(value) or not low <= int(value) <= high:
            raise invalid_parameter(name, f"it must be an integer from {low} to {high}.")
        return int(value)
    return check


def one_of(*choices: str) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if value not in choices:
            raise invalid_parameter(name, f"it must be one of {', '.join(choices)}.")
        return value
    return check


def text(name: str, value: str) -> str:
    if len(value) > 1024:
        raise invalid_parameter(name, "it is longer than 1024 characters.")
    return value


def hex_digest(name: str, value: str) -> str:
    if not HEX.match(value) or len(value) % 2:
        raise invalid_parameter(name, "it must be a hexadecimal digest.")
    return value.upper()


CHECKS: Dict[str, Callable[[str, str], Any]] = {
    "DomainName": domain_name,
    "KeyTag": integer_between(0, 65535),
    "Algorithm": integer_between(0, 255),
    "DigestType": integer_between(0, 255),
    "Digest": hex_digest,
    "Lang": one_of("en", "zh"),
    "UserClientIp": text,
    "TaskNo": text,
    "InstanceId": text,
    "PageNum": integer_between(1, 2**31 - 1),
    "PageSize": integer_between(1, 1000),
    "TaskStatus": integer_between(0, 3),
    "BeginCreateTime": integer_between(0, 2**63 - 1),
    "EndCreateTime": integer_between(0, 2**63 - 1),
}


@dataclass(frozen=True)
class ActionSpec:
    required: Tuple[str, ...]
    optional: Tuple[str, ...] = ("Lang", "UserClientIp")


ACTIONS: Dict[str, ActionSpec] = {
    "SaveSingleTaskForDeletingDSRecord": ActionSpec(required=("DomainName", "KeyTag")),
    "SaveSingleTaskForAddingDSRecord": ActionSpec(
        required=("DomainName", "KeyTag", "Algorithm", "DigestType", "Digest")
    ),
    "QueryDSRecord": ActionSpec(required=("DomainName",)),
    "QueryTaskDetailList": ActionSpec(
        required=("TaskNo", "PageNum", "PageSize"),
        optional=("DomainName", "TaskStatus", "InstanceId", "Lang", "UserClientIp"),
    ),
    "QueryTaskList": ActionSpec(
        required=("PageNum", "PageSize"),
        optional=("BeginCreateTime", "EndCreateTime", "Lang", "UserClientIp"),
    ),
}


# The actions that create a registrar task (the ones whose task a fault rule may plan).
TASK_ACTIONS = ("SaveSingleTaskForDeletingDSRecord", "SaveSingleTaskForAddingDSRecord")


def check_action(action: str, version: str) -> None:
    if not action:
        raise missing_parameter("Action")
    if action not in ACTIONS:
        raise ApiError(404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.")
    if not version:
        raise missing_parameter("Version")
    if version not in API_VERSIONS:
        raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")


def validate(action: str, params: Dict[str, str]) -> Dict[str, Any]:
    """The action's parameters, checked and converted; unknown parameters are ignored."""
    spec = ACTIONS[action]
    values: Dict[str, Any] = {}
    for name in spec.required:
        if not params.get(name):
            raise missing_parameter(name)
        values[name] = CHECKS[name](name, params[name])
    for name in spec.optional:
        if params.get(name):
            values[name] = CHECKS[name](name, params[name])
    if action == "SaveSingleTaskForAddingDSRecord":
        expected = DIGEST_HEX_LENGTHS.get(values["DigestType"])
        if expected and len(values["Digest"]) != expected:
            raise invalid_parameter("Digest", f"DigestType {values['DigestType']} takes {expected} hex digits.")
    values.setdefault("Lang", "en")
    return values
