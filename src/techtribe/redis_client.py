"""Redis clients with bounded waits, and the bookkeeping of a Redis outage for one use of it.

Redis is optional at run time: while it is down or hangs, the API goes on without it (the
login throttle counts per process, e-mails wait in the outbox table). Every client has
connect and reply timeouts, so a Redis that accepts connections but never answers costs a
request `REDIS_TIMEOUT_SECONDS`, never a hang.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from limits.errors import StorageError
from redis.exceptions import RedisError

from techtribe.config import Settings

log = logging.getLogger("techtribe.redis")

# What a failing Redis raises: redis-py's errors, a socket's, limits' wrapper.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError, StorageError)

# While Redis is down, one caller per this many seconds tries it again; the others
# don't wait for it.
RETRY_SECONDS = 1.0


def connect(settings: Settings, *, blocking_seconds: float = 0.0) -> aioredis.Redis:
    """A client of REDIS_URL whose connects and replies are bounded by the setting.

    `blocking_seconds`: the longest server-side wait of a blocking command the caller
    sends (the worker's BLMOVE), added to the reply timeout so it isn't cut short.
    """
    assert settings.redis_url, "no REDIS_URL"
    timeout = settings.redis_timeout_seconds
    return aioredis.from_url(
        settings.redis_url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout + blocking_seconds,
        # redis-py retries a failed command 3 times with backoff by default: with a
        # hanging Redis that multiplies the wait. One try; the callers have a fallback.
        retry=None,
    )


class Outage:
    """Whether one use of Redis (`what`) should try it now; logs each change of state once.

    Up: always try. Down (the last try failed): one caller every `RETRY_SECONDS` tries
    again, the others take the fallback at once, so a Redis that hangs doesn't cost every
    request a timeout.
    """

    def __init__(self, what: str, fallback: str) -> None:
        self._what = what
        self._fallback = fallback
        self._down_since: float | None = None
        self._next_try = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        if self._down_since is None:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + RETRY_SECONDS  # this caller probes; the others don't wait
        return True

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._next_try = now + RETRY_SECONDS
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "Redis unreachable for the %s (%s: %s): %s until it answers again",
                self._what,
                type(exc).__name__,
                exc,
                self._fallback,
            )

    def succeeded(self) -> None:
        if self._down_since is not None:
            log.warning(
                "Redis answers again: the %s uses it again (it was unreachable for %.1f s)",
                self._what,
                time.monotonic() - self._down_since,
            )
            self._down_since = None
