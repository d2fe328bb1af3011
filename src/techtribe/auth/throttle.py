"""Failed-login throttling per account and per client address (the `limits` package, async)."""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from techtribe.config import Settings
from techtribe.errors import OAuthError
from techtribe.metrics import LOGIN_THROTTLED

# How long a crashed attempt's reservation outlives it (a bcrypt check takes well under 1 s).
RESERVATION_SECONDS = 30


class LoginThrottle:
    """Counts failures only; while either limit is spent, every attempt is refused.

    A check before bcrypt and a record after it would let concurrent wrong guesses all
    pass the check before any failure is recorded. So each attempt first reserves a place
    in an in-flight count per account and per address, and is let through only while
    `recorded failures + attempts in flight <= limit` for both: however the requests
    interleave, no more guesses run than the limit allows.
    """

    def __init__(self, settings: Settings, redis: aioredis.Redis | None = None) -> None:
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix=f"{settings.redis_key_prefix}:login",
            )
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        window = settings.login_failure_window_seconds
        self._per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)
        self._per_address = RateLimitItemPerSecond(settings.login_max_failures_per_address, window)
        self._redis = redis
        self._in_flight_prefix = f"{settings.redis_key_prefix}:login-in-flight:"
        self._local_in_flight: Counter[str] = Counter()

    def _checks(self, account: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(self._per_account, "account", account), (self._per_address, "address", address)]

    async def _reserve(self, key: str) -> int:
        """Add this attempt to the key's in-flight count; the count including it."""
        if self._redis is None:
            self._local_in_flight[key] += 1
            return self._local_in_flight[key]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._in_flight_prefix + key)
            pipe.expire(self._in_flight_prefix + key, RESERVATION_SECONDS)
            count, _ = await pipe.execute()
        # Never below 1 (this attempt): a release after the key expired leaves it negative.
        return max(1, int(count))

    async def _release(self, key: str) -> None:
        if self._redis is None:
            self._local_in_flight[key] -= 1
            if self._local_in_flight[key] <= 0:
                del self._local_in_flight[key]
            return
        await self._redis.decr(self._in_flight_prefix + key)

    async def record_failure(self, account: str, address: str) -> None:
        """Count a wrong e-mail or password; call it inside `attempt`, before it releases."""
        for item, scope, key in self._checks(account, address):
            await self._limiter.hit(item, scope, key)

    @contextlib.asynccontextmanager
    async def attempt(self, account: str, address: str) -> AsyncIterator[None]:
        """Run one login attempt, or raise `429 too_many_attempts` with `Retry-After`."""
        keys = [f"{scope}:{key}" for _, scope, key in self._checks(account, address)]
        reserved: list[str] = []
        try:
            waits = []
            for (item, scope, key), flight_key in zip(
                self._checks(account, address), keys, strict=True
            ):
                reserved.append(flight_key)
                in_flight = await self._reserve(flight_key)
                if not await self._limiter.test(item, scope, key, cost=in_flight):
                    stats = await self._limiter.get_window_stats(item, scope, key)
                    waits.append(max(1, math.ceil(stats.reset_time - time.time())))
            if waits:
                LOGIN_THROTTLED.inc()
                raise OAuthError(
                    "too_many_attempts",
                    "Too many failed login attempts; try again later.",
                    status=429,
                    headers={"Retry-After": str(max(waits))},
                )
            yield
        finally:
            for flight_key in reserved:
                await self._release(flight_key)
