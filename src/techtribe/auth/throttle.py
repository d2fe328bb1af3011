"""Failed-login throttling per account and per client address (the `limits` package, async).

With Redis the counts are shared by every API process. While Redis fails (down, or no
answer within REDIS_TIMEOUT_SECONDS) each process counts on its own with the same limits,
so logins keep working; it goes back to Redis once Redis answers again.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from techtribe.config import Settings
from techtribe.errors import OAuthError
from techtribe.metrics import LOGIN_THROTTLED
from techtribe.redis_client import REDIS_ERRORS, Outage

# How long a crashed attempt's reservation outlives it (a bcrypt check takes well under 1 s).
RESERVATION_SECONDS = 30


class Counts:
    """One store of failure counts and in-flight attempts: this process's memory."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._in_flight: Counter[str] = Counter()

    async def reserve(self, key: str) -> int:
        """Add this attempt to the key's in-flight count; the count including it."""
        self._in_flight[key] += 1
        return self._in_flight[key]

    async def release(self, key: str) -> None:
        self._in_flight[key] -= 1
        if self._in_flight[key] <= 0:
            del self._in_flight[key]


class RedisCounts(Counts):
    """The shared store: the same counts in Redis."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        assert settings.redis_url
        storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=f"{settings.redis_key_prefix}:login",
            # Its own client, bounded like every other (see techtribe.redis_client).
            socket_connect_timeout=settings.redis_timeout_seconds,
            socket_timeout=settings.redis_timeout_seconds,
            retry=None,  # type: ignore[arg-type]  # one try: the fallback is the retry
        )
        self.limiter = MovingWindowRateLimiter(storage)
        self._redis = redis
        self._prefix = f"{settings.redis_key_prefix}:login-in-flight:"

    async def reserve(self, key: str) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.expire(self._prefix + key, RESERVATION_SECONDS)
            count, _ = await pipe.execute()
        # Never below 1 (this attempt): a release after the key expired leaves it negative.
        return max(1, int(count))

    async def release(self, key: str) -> None:
        await self._redis.decr(self._prefix + key)


class LoginThrottle:
    """Counts failures only; while either limit is spent, every attempt is refused.

    A check before bcrypt and a record after it would let concurrent wrong guesses all
    pass the check before any failure is recorded. So each attempt first reserves a place
    in an in-flight count per account and per address, and is let through only while
    `recorded failures + attempts in flight <= limit` for both: however the requests
    interleave, no more guesses run than the limit allows.
    """

    def __init__(self, settings: Settings, redis: aioredis.Redis | None = None) -> None:
        self._local = Counts()
        self._shared = RedisCounts(settings, redis) if redis is not None else None
        self._outage = Outage("login throttle", "counting failed logins per process")
        window = settings.login_failure_window_seconds
        self._per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)
        self._per_address = RateLimitItemPerSecond(settings.login_max_failures_per_address, window)

    def _checks(self, account: str, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(self._per_account, "account", account), (self._per_address, "address", address)]

    @contextlib.asynccontextmanager
    async def attempt(self, account: str, address: str) -> AsyncIterator[Attempt]:
        """Run one login attempt, or raise `429 too_many_attempts` with `Retry-After`."""
        counts = self._local
        if self._shared is not None and self._outage.should_try():
            counts = self._shared
        reserved: list[str] = []
        try:
            try:
                waits = await self._admit(counts, account, address, reserved)
                if counts is self._shared:
                    self._outage.succeeded()
            except REDIS_ERRORS as exc:
                if counts is self._local:
                    raise
                self._outage.failed(exc)
                await self._release(counts, reserved)
                counts = self._local
                waits = await self._admit(counts, account, address, reserved)
            if waits:
                LOGIN_THROTTLED.inc()
                raise OAuthError(
                    "too_many_attempts",
                    "Too many failed login attempts; try again later.",
                    status=429,
                    headers={"Retry-After": str(max(waits))},
                )
            yield Attempt(self, counts, account, address)
        finally:
            await self._release(counts, reserved)

    async def _admit(
        self, counts: Counts, account: str, address: str, reserved: list[str]
    ) -> list[int]:
        """Reserve this attempt's places; the waits of the limits it would exceed."""
        waits = []
        for item, scope, key in self._checks(account, address):
            flight_key = f"{scope}:{key}"
            reserved.append(flight_key)
            in_flight = await counts.reserve(flight_key)
            if not await counts.limiter.test(item, scope, key, cost=in_flight):
                stats = await counts.limiter.get_window_stats(item, scope, key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return waits

    async def _release(self, counts: Counts, reserved: list[str]) -> None:
        try:
            for flight_key in reserved:
                await counts.release(flight_key)
        except REDIS_ERRORS as exc:
            # The reservations expire on their own (RESERVATION_SECONDS).
            self._outage.failed(exc)
        reserved.clear()

    async def count_failure(self, counts: Counts, account: str, address: str) -> None:
        """Count a failed attempt in `counts` (in this process's, should Redis fail now)."""
        try:
            for item, scope, key in self._checks(account, address):
                await counts.limiter.hit(item, scope, key)
        except REDIS_ERRORS as exc:
            if counts is self._local:
                raise
            # Redis went away during the attempt: the failure still counts, here.
            self._outage.failed(exc)
            await self.count_failure(self._local, account, address)


class Attempt:
    """One admitted login attempt; `failed()` counts it against both limits."""

    def __init__(self, throttle: LoginThrottle, counts: Counts, account: str, address: str):
        self._throttle = throttle
        self._counts = counts
        self._account = account
        self._address = address

    async def failed(self) -> None:
        await self._throttle.count_failure(self._counts, self._account, self._address)
