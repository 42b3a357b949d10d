"""The idempotency store on Redis (Tair in the cloud), shared by every instance of the function.

Each record is a hash; acquiring and updating it are Lua scripts, so a transition is atomic
however many instances race for it. Task claims, locks and the replay guard are SET NX PX keys.
"""
from __future__ import annotations

import functools
import uuid
from typing import Callable, Dict, Optional, TypeVar

from deleter.idempotency import IN_PROGRESS, Claim, IdempotencyRecord, StoreError

from .redis import RedisClient, RedisError, pairs

T = TypeVar("T")

PREFIX = "ds-record-deleter:"

# KEYS[1] record. ARGV: owner, fingerprint, lease_until_ms, now_ms, ttl_ms, initial status.
# Returns {outcome, the record's fields}: 1 created (or already ours: a resent command), 2 taken
# over (the lease had lapsed), 0 someone holds it or it is final.
ACQUIRE = """
local outcome = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'status', ARGV[6], 'fingerprint', ARGV[2], 'owner', ARGV[1],
             'lease_until_ms', ARGV[3], 'attempted_at_ms', '0', 'notified', '0', 'final', '0')
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  outcome = 1
elseif redis.call('HGET', KEYS[1], 'final') == '1' then
  outcome = 0
elseif redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  outcome = 1
elseif tonumber(redis.call('HGET', KEYS[1], 'lease_until_ms') or '0') <= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease_until_ms', ARGV[3])
  outcome = 2
end
return {outcome, redis.call('HGETALL', KEYS[1])}
"""

# KEYS[1] record. ARGV: owner, ttl_ms, then field, value pairs. Only the owner writes.
UPDATE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS[1] a SET NX key. ARGV: value, ttl_ms. True when set now or already set to this value
# (a resent command finds its own value).
SET_ONCE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""

# KEYS[1] a lock or a marker. ARGV: its value. Deleted only while it still holds that value.
DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _store_errors(method: Callable[..., T]) -> Callable[..., T]:
    """Redis failures reach the core as the store's own StoreError (its message has no password)."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (RedisError, ValueError) as error:
            raise StoreError(str(error)) from None
    return wrapper


class RedisIdempotencyStore:
    def __init__(self, client: RedisClient, prefix: str = PREFIX) -> None:
        self._redis = client
        self._prefix = prefix

    def __repr__(self) -> str:
        return f"RedisIdempotencyStore({self._redis!r})"

    def _record_key(self, key: str) -> str:
        return f"{self._prefix}record:{key}"

    @_store_errors
    def acquire(self, key: str, owner: str, fingerprint: str, lease_until_ms: int, now_ms: int,
                ttl_ms: int) -> Claim:
        outcome, flat = self._redis.eval_script(ACQUIRE, [self._record_key(key)],
                                                [owner, fingerprint, lease_until_ms, now_ms, ttl_ms, IN_PROGRESS])
        fields = pairs(flat)
        return Claim(acquired=outcome in (1, 2), record=IdempotencyRecord.from_fields(fields), taken_over=outcome == 2)

    @_store_errors
    def update(self, key: str, owner: str, changes: Dict[str, str], ttl_ms: int) -> bool:
        pairs = [part for field, value in changes.items() for part in (field, value)]
        return self._redis.eval_script(UPDATE, [self._record_key(key)], [owner, ttl_ms, *pairs]) == 1

    def _set_once(self, name: str, value: str, ttl_ms: int) -> bool:
        return self._redis.eval_script(SET_ONCE, [self._prefix + name], [value, max(1, ttl_ms)]) == 1

    @_store_errors
    def claim_task(self, task_no: str, key: str, ttl_ms: int) -> bool:
        return self._set_once(f"task:{task_no}", key, ttl_ms)

    def _get(self, name: str) -> Optional[str]:
        value = self._redis.execute("GET", self._prefix + name)
        return value.decode("utf-8") if value is not None else None

    @_store_errors
    def task_claimant(self, task_no: str) -> Optional[str]:
        return self._get(f"task:{task_no}")

    @_store_errors
    def lock(self, name: str, owner: str, ttl_ms: int) -> bool:
        return self._set_once(f"lock:{name}", owner, ttl_ms)

    @_store_errors
    def unlock(self, name: str, owner: str) -> None:
        self._redis.eval_script(DELETE_IF, [f"{self._prefix}lock:{name}"], [owner])

    @_store_errors
    def first_use(self, token: str, ttl_ms: int) -> bool:
        return self._set_once(f"once:{token}", uuid.uuid4().hex, ttl_ms)

    @_store_errors
    def set_marker(self, name: str, value: str, ttl_ms: int) -> None:
        self._redis.execute("SET", f"{self._prefix}marker:{name}", value, "PX", max(1, ttl_ms))

    @_store_errors
    def marker(self, name: str) -> Optional[str]:
        return self._get(f"marker:{name}")

    @_store_errors
    def clear_marker(self, name: str, value: str) -> None:
        self._redis.eval_script(DELETE_IF, [f"{self._prefix}marker:{name}"], [value])
