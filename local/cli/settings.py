"""What the CLI reads from the environment: the webhook's secret, and MNS's endpoint and
credentials (the variables `make invoke` reads). Checked before anything is sent, each missing or
unusable one told in one line."""
from __future__ import annotations

from typing import Mapping, Optional

from cloud.credentials import ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN, Credentials
from cloud.http import new_session
from cloud.mns import MnsClient
from deleter.settings import WEBHOOK_SECRET_MIN_LENGTH as MIN_SECRET_LENGTH

from .errors import Problem

WEBHOOK_SECRET = "WEBHOOK_SECRET"
MNS_ENDPOINT = "MNS_ENDPOINT"
MNS_TIMEOUT = (3.05, 10.0)


def webhook_secret(environ: Mapping[str, str], unsigned: bool) -> Optional[str]:
    """The secret that signs webhook requests; None with --unsigned (a webhook without one)."""
    if unsigned:
        return None
    secret = environ.get(WEBHOOK_SECRET, "").strip()  # as the function reads it
    if not secret:
        raise Problem(f"{WEBHOOK_SECRET} is not set: the webhook takes requests signed with the function's "
                      "secret; set it, or pass --unsigned for a webhook started without one (plain `make run`)")
    if len(secret) < MIN_SECRET_LENGTH:
        raise Problem(f"{WEBHOOK_SECRET} is shorter than {MIN_SECRET_LENGTH} characters, so it is not the "
                      "function's secret (the function refuses one that short)")
    return secret


def mns_client(environ: Mapping[str, str]) -> MnsClient:
    """An MNS client on MNS_ENDPOINT, signing with ALIBABA_CLOUD_* (a token for STS credentials)."""
    endpoint = environ.get(MNS_ENDPOINT, "").strip()
    if not endpoint:
        raise Problem(f"{MNS_ENDPOINT} is not set: --queue and --inbox talk to MNS there "
                      "(https://<account-id>.mns.<region>.aliyuncs.com; make run's emulator: http://127.0.0.1:9100)")
    missing = [name for name in (ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET) if not environ.get(name)]
    if missing:
        raise Problem(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: MNS calls are signed "
                      f"with {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} (and {ENV_SECURITY_TOKEN} for STS "
                      "credentials)")
    credentials = Credentials(environ[ENV_ACCESS_KEY_ID], environ[ENV_ACCESS_KEY_SECRET],
                              environ.get(ENV_SECURITY_TOKEN) or None)
    return MnsClient(new_session(1), credentials, endpoint, timeout=MNS_TIMEOUT)


def secrets_of(environ: Mapping[str, str]) -> tuple:
    """Every value the CLI must never print, for a last redaction of what it does print."""
    return tuple(value for value in (environ.get(WEBHOOK_SECRET, "").strip(), environ.get(ENV_ACCESS_KEY_SECRET),
                                     environ.get(ENV_SECURITY_TOKEN)) if value)
