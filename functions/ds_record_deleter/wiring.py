"""What one FC instance keeps between invocations, and the core built for each invocation.

Settings, the pooled HTTP session and the worker threads live as long as the instance. Cloud
clients are bound to each invocation's credentials: FC rotates the role's STS credentials.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from cloud.credentials import credentials_from
from cloud.domain_api import DomainApiClient
from cloud.http import new_session
from cloud.mns import MnsClient, default_endpoint
from deleter.deletion import DeletionUseCase
from deleter.log import logger
from deleter.notifications import Notifier
from deleter.settings import ConfigurationError, Settings


class FunctionInstance:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = new_session(settings.max_concurrency)
        self.executor = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="deleter")
        logger.setLevel(settings.log_level)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "FunctionInstance":
        return cls(Settings.from_environ(environ))

    def mns_endpoint(self, context: Any) -> str:
        if self.settings.mns_endpoint:
            return self.settings.mns_endpoint
        account_id, region = getattr(context, "account_id", None), getattr(context, "region", None)
        if not account_id or not region:
            raise ConfigurationError("MNS_ENDPOINT is not set and the context names no account_id and region")
        return default_endpoint(account_id, region)

    def use_case(self, context: Any, environ: Mapping[str, str]) -> DeletionUseCase:
        settings = self.settings
        credentials = credentials_from(context, environ)
        timeout = (settings.connect_timeout_seconds, settings.read_timeout_seconds)
        domain_api = DomainApiClient(self.session, credentials, endpoint=settings.domain_api_endpoint,
                                     version=settings.domain_api_version,
                                     signature_version=settings.domain_api_signature, timeout=timeout)
        mns = MnsClient(self.session, credentials, self.mns_endpoint(context), timeout=timeout)
        return DeletionUseCase(domain_api, Notifier(mns.publish, settings.notify_topic),
                               default_lang=settings.default_lang)
