"""Where the function's cloud credentials come from: the FC context, else the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"


class CredentialsError(Exception):
    """No usable credentials: a configuration problem, never retried."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    # repr=False keeps the secret and the token out of every log line and traceback.
    access_key_secret: str = field(repr=False)
    security_token: Optional[str] = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        """The values that must never be shown (for redaction)."""
        return tuple(value for value in (self.access_key_secret, self.security_token) if value)


def _field(source: Any, name: str) -> Optional[str]:
    value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
    return value or None


def credentials_from(context: Any, environ: Mapping[str, str] = os.environ) -> Credentials:
    """STS credentials of the function's role (python3.9/3.10 put them on the context);
    python3.12 and local runs use the ALIBABA_CLOUD_* variables instead."""
    from_context = getattr(context, "credentials", None)
    if from_context is not None and _field(from_context, "access_key_id"):
        key_id = _field(from_context, "access_key_id")
        secret = _field(from_context, "access_key_secret")
        token = _field(from_context, "security_token")
        origin = "the FC context (context.credentials)"
    else:
        key_id = environ.get(ENV_ACCESS_KEY_ID) or None
        secret = environ.get(ENV_ACCESS_KEY_SECRET) or None
        token = environ.get(ENV_SECURITY_TOKEN) or None
        origin = f"the environment ({ENV_ACCESS_KEY_ID}, {ENV_ACCESS_KEY_SECRET})"
    if not key_id or not secret:
        missing = "AccessKeyId" if not key_id else "AccessKeySecret"
        raise CredentialsError(
            f"No {missing} in {origin}: give the function a role (FC puts its STS credentials on "
            f"the context) or set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}"
        )
    return Credentials(key_id, secret, token)
