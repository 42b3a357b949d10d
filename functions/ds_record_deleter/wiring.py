"""What one FC instance keeps between invocations, and the core built for each invocation.

Settings, the pooled HTTP session, the worker threads, the idempotency store and the rate limiter
live as long as the instance. Cloud clients are bound to each invocation's credentials (FC rotates
the role's STS credentials) and to its deadline.
"""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

from cloud.credentials import credentials_from
from cloud.domain_api import DomainApiClient
from cloud.http import new_session, utc_now
from cloud.mns import MnsClient, default_endpoint
from deleter.allowlist import DomainAllowlist
from deleter.deadline import Deadline
from deleter.deletion import Collaborators, DeletionUseCase
from deleter.follow_up import FollowUpUseCase, IncomingCheck, Watcher, WatchSettings
from deleter.guard import Guard
from deleter.idempotency import IdempotencyStore, InMemoryStore, unpublished_ttl_ms
from deleter.log import logger
from deleter.notifications import Notifier
from deleter.once import Once
from deleter.rate_limit import RateLimitedDomainApi, TokenBucket
from deleter.reconcile import Reconciler
from deleter.retry import Retrier, RetryPolicy
from deleter.settings import ConfigurationError, Settings
from deleter.task_query import TaskLookup, TaskQuery
from triggers.common import TriggerOptions
from triggers.webhook import WebhookVerifier

def now_ms() -> int:
    return int(time.time() * 1000)


def new_store(settings: Settings) -> IdempotencyStore:
    if not settings.redis_url:
        return InMemoryStore()
    from cloud.redis import RedisClient  # only instances that use Redis pay for it
    from cloud.redis_store import RedisIdempotencyStore

    return RedisIdempotencyStore(RedisClient(settings.redis_url))


class FunctionInstance:
    def __init__(self, settings: Settings, store: IdempotencyStore = None) -> None:
        self.settings = settings
        self.id = uuid.uuid4().hex[:8]
        self.session = new_session(settings.max_concurrency)
        self.executor = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="deleter")
        self.store = store if store is not None else new_store(settings)
        self.bucket = TokenBucket(settings.max_requests_per_second)
        self.allowlist = DomainAllowlist(settings.allowed_domains)
        self.retry_policy = RetryPolicy(settings.retry_base_delay_seconds, settings.retry_max_delay_seconds)
        webhook = WebhookVerifier(settings.webhook_secret, self.store.first_use) if settings.webhook_secret else None
        self.trigger_options = TriggerOptions(max_batch=settings.max_batch, webhook=webhook,
                                              watch_queue=settings.watch_queue)
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

    def use_case(self, context: Any, environ: Mapping[str, str], deadline: Deadline) -> DeletionUseCase:
        settings = self.settings
        credentials = credentials_from(context, environ)
        timeout = (settings.connect_timeout_seconds, settings.read_timeout_seconds)
        domain_api = RateLimitedDomainApi(
            DomainApiClient(self.session, credentials, endpoint=settings.domain_api_endpoint,
                            version=settings.domain_api_version, signature_version=settings.domain_api_signature,
                            timeout=timeout, time_left=deadline.remaining),
            self.bucket, deadline.remaining)
        mns = MnsClient(self.session, credentials, self.mns_endpoint(context), timeout=timeout,
                        time_left=deadline.publish_remaining)
        retrier = Retrier(self.retry_policy, deadline.remaining)
        parts = Collaborators(
            domain_api=domain_api,
            notifier=Notifier(mns.publish, settings.notify_topic),
            store=self.store,
            reconciler=Reconciler(domain_api, self.store, retrier, now_ms=now_ms,
                                  claim_ttl_ms=unpublished_ttl_ms(settings.idempotency_ttl_seconds)),
            retrier=retrier,
            publish_retrier=Retrier(self.retry_policy, deadline.publish_remaining),
            deadline=deadline,
            allowlist=self.allowlist,
            now_ms=now_ms,
            sleep=time.sleep,
            watcher=self.watcher(mns, deadline),
            guard=new_guard(settings, domain_api, retrier, deadline),
        )
        return DeletionUseCase(parts, default_lang=settings.default_lang,
                               idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
                               delivery_record_ttl_seconds=settings.delivery_record_ttl_seconds,
                               settle_seconds=settings.reconcile_settle_seconds, instance_id=self.id)

    # --- following each task to its end (deleter/follow_up.py), asking how one stands --------------

    def once(self, deadline: Deadline) -> Once:
        """Effects made once per key for as long as the message asking for them can come again."""
        return Once(self.store, deadline, now_ms, time.sleep, self.settings.delivery_record_ttl_seconds * 1000, self.id)

    def watcher(self, mns: MnsClient, deadline: Deadline) -> Watcher:
        settings = self.settings
        queue = settings.watch_queue
        send = (lambda body, delay: mns.send(queue, body, delay)) if queue else None
        return Watcher(send, WatchSettings(queue, settings.watch_first_delay_seconds, settings.watch_max_seconds),
                       self.once(deadline), self.store, Retrier(self.retry_policy, deadline.publish_remaining),
                       utc_now, unpublished_ttl_ms(settings.idempotency_ttl_seconds))

    def processor(self, context: Any, environ: Mapping[str, str], deadline: Deadline) -> Callable[[Any], Any]:
        """Each item of an invocation to its use case: a watch message to a check, GET /tasks/<TaskNo>
        to the task query, a request to the deletion. They share one invocation's collaborators."""
        deletion = self.use_case(context, environ, deadline)
        parts = deletion.collaborators
        follow_up = FollowUpUseCase(parts, self.once(deadline), utc_now)
        query = TaskQuery(parts.domain_api, parts.store, parts.retrier)

        def process(item: Any) -> Any:
            if isinstance(item, IncomingCheck):
                return follow_up.check(item)
            if isinstance(item, TaskLookup):
                return query.lookup(item)
            return deletion.process(item)

        return process


def new_guard(settings: Settings, domain_api: Any, retrier: Retrier, deadline: Deadline) -> Guard:
    """The checks before a send. The DNS client imports dnspython only when it asks (cold start);
    every query's timeout is cut to what the invocation has left."""
    from cloud.dns import DnsClient  # not with the function's cold import

    dns = DnsClient(settings.dns_resolver, settings.dns_port, time_left=deadline.remaining)
    return Guard(domain_api, retrier, dns, clock=time.time, precheck=settings.precheck,
                 safety_check=settings.safety_check, dry_run=settings.dry_run)
