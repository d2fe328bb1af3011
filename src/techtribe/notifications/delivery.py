"""Delivering the outbox: the in-process deliverer of the embedded mode and its transports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from techtribe.db import utcnow
from techtribe.notifications.models import OutboxMessage

log = logging.getLogger("techtribe.outbox")

MAX_ATTEMPTS = 5
BATCH_SIZE = 50


class Transport(Protocol):
    async def send(self, message: OutboxMessage) -> None: ...


class ConsoleTransport:
    """Development transport: prints each e-mail to standard output (not to the logs)."""

    async def send(self, message: OutboxMessage) -> None:
        text = str(message.payload.get("text", ""))
        sys.stdout.write(
            f"\n----- e-mail {message.id} -----\nTo: {message.recipient}\n"
            f"Subject: {message.subject}\n\n{text}\n----- end of e-mail -----\n"
        )
        sys.stdout.flush()


def backoff(attempts: int) -> timedelta:
    """Exponential: 2, 4, 8, 16... seconds after the first, second, third... failure."""
    return timedelta(seconds=2**attempts)


class OutboxDeliverer:
    """Sends due outbox rows in the background; rows survive restarts, so nothing is lost."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: Transport,
        *,
        poll_seconds: float,
        lock_rows: bool,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._transport = transport
        self._poll_seconds = poll_seconds
        self._lock_rows = lock_rows
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.deliver_due() == BATCH_SIZE:
                    pass
            except Exception:
                log.exception("outbox delivery round failed; retrying on the next round")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)
            self._wakeup.clear()

    async def deliver_due(self) -> int:
        """One round: send what is due, record the outcome; returns how many rows it took."""
        async with self._sessionmaker() as session:
            stmt = (
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow())
                .order_by(OutboxMessage.next_attempt_at)
                .limit(BATCH_SIZE)
            )
            if self._lock_rows:
                # Several instances may deliver at once: each takes rows the others don't hold.
                stmt = stmt.with_for_update(skip_locked=True)
            messages = list((await session.scalars(stmt)).all())
            for message in messages:
                await self._deliver(message)
            await session.commit()
        return len(messages)

    async def _deliver(self, message: OutboxMessage) -> None:
        message.attempts += 1
        try:
            await self._transport.send(message)
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
                log.error("outbox message %s failed for good: %s", message.id, message.last_error)
            else:
                message.next_attempt_at = utcnow() + backoff(message.attempts)
            return
        message.status = "sent"
        message.sent_at = utcnow()
        log.info("outbox message %s (%s) delivered", message.id, message.kind)
