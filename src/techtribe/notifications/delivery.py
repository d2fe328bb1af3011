"""Delivering outbox rows: claim with a lease, render, send, record the outcome.

The same `Sender` serves the Redis worker (one job per row) and the embedded mode's
in-process `OutboxDeliverer`, so both follow the same retry rules.

Delivery is at least once, with the window kept small: a sender first claims the row in
its own committed transaction (`attempts + 1`, `locked_until = now + lease`), then talks
to the mail server, then marks the row `sent`. Only if a sender dies after the server
accepted the e-mail and before that mark does another sender, once the lease has run
out, send it again (with the same Message-ID, so mail clients can fold the copies).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from techtribe.config import Settings
from techtribe.db import utcnow
from techtribe.metrics import EMAILS
from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.rendering import render
from techtribe.notifications.sealing import SEALED, erased, opened, sealer_for
from techtribe.notifications.transports import Transport, TransportError

log = logging.getLogger("techtribe.outbox")

BATCH_SIZE = 50
NO_SYNC = {"synchronize_session": False}


class Outcome(enum.StrEnum):
    sent = "sent"
    retry = "retry"
    failed = "failed"
    # Not ours to send now: already sent or failed, not due yet, held by another sender, gone.
    skipped = "skipped"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    attempts: int = 0
    next_attempt_at: datetime | None = None


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Wait after the n-th failed try: base, 2 x base, 4 x base..."""
    return timedelta(seconds=settings.email_retry_base_seconds * 2 ** max(attempts - 1, 0))


def describe(exc: BaseException, secret: str | None) -> str:
    """The error as stored in `last_error` and logged: short, and never the mailed token."""
    text = str(exc) if isinstance(exc, TransportError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError):
        text = "TimeoutError: the mail server did not answer in time"
    if secret:
        text = text.replace(secret, "[redacted]")
    return text[:1000]


def due_rows(now: datetime) -> list[ColumnElement[bool]]:
    """Pending, due, and held by nobody (never claimed, or the holder's lease ran out)."""
    return [
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
    ]


class Sender:
    """Sends one outbox row at a time and records the outcome in the row.

    Each of its writes (claim, mark sent, mark failed) is one conditional UPDATE, atomic
    on its own, so it takes autocommit sessions (`create_autocommit_sessionmaker`): one
    round trip per write instead of BEGIN, UPDATE and COMMIT.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: Transport,
        settings: Settings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._transport = transport
        self._settings = settings

    async def due(self, limit: int = BATCH_SIZE) -> list[tuple[uuid.UUID, int]]:
        """(id, attempts) of rows to send now, the longest waiting first."""
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(OutboxMessage.id, OutboxMessage.attempts)
                .where(*due_rows(utcnow()))
                .order_by(OutboxMessage.next_attempt_at)
                .limit(limit)
            )
            return [(row.id, row.attempts) for row in rows]

    async def deliver(self, message_id: uuid.UUID) -> Result:
        settings = self._settings
        message = await self._claim(message_id)
        if message is None:
            return Result(Outcome.skipped)
        email = None
        try:
            email = render(
                message,
                sender=settings.email_from,
                base_url=settings.public_base_url,
                data=opened(message.payload or {}, sealer_for(settings)),
            )
            # The transports have their own timeouts; this one also bounds a stuck one, so
            # a send never outlives the lease (twice the send timeout).
            async with asyncio.timeout(settings.email_send_timeout_seconds + 1):
                await self._transport.send(email)
        except Exception as exc:
            secret = email.secret if email else None
            result = await self._record_failure(message, describe(exc, secret))
            EMAILS.labels(result.outcome.value).inc()
            return result
        await self._record_sent(message)
        EMAILS.labels(Outcome.sent.value).inc()
        return Result(Outcome.sent, message.attempts)

    async def _claim(self, message_id: uuid.UUID) -> OutboxMessage | None:
        now = utcnow()
        lease = timedelta(seconds=self._settings.email_lease_seconds)
        async with self._sessionmaker() as session, session.begin():
            # One conditional UPDATE: of senders racing for a row, exactly one gets it
            # (PostgreSQL re-checks the WHERE after the row lock; SQLite serialises writers);
            # it returns the claimed row, so claiming is one round trip.
            claimed = await session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, *due_rows(now))
                .values(attempts=OutboxMessage.attempts + 1, locked_until=now + lease)
                .returning(OutboxMessage)
                .execution_options(**NO_SYNC)
            )
            return claimed.one_or_none()

    async def _record_sent(self, message: OutboxMessage) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.status == "pending")
                .values(status="sent", sent_at=utcnow(), locked_until=None, **_erasure(message))
                .execution_options(**NO_SYNC)
            )
        log.info("outbox message %s (%s) delivered", message.id, message.kind)

    async def _record_failure(self, message: OutboxMessage, error: str) -> Result:
        settings = self._settings
        attempts = message.attempts
        final = attempts >= settings.email_max_attempts
        next_attempt_at = utcnow() + backoff(settings, attempts)
        values: dict[str, object] = {"last_error": error, "locked_until": None}
        if final:
            values["status"] = "failed"
            values.update(_erasure(message))
        else:
            values["next_attempt_at"] = next_attempt_at
        async with self._sessionmaker() as session, session.begin():
            # Only while still ours: a sender that took over after our lease ran out wins.
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message.id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.attempts == attempts,
                )
                .values(**values)
                .execution_options(**NO_SYNC)
            )
        if final:
            log.error(
                "outbox message %s (%s) failed for good after %d tries: %s",
                message.id,
                message.kind,
                attempts,
                error,
            )
            return Result(Outcome.failed, attempts)
        log.warning(
            "outbox message %s (%s) try %d failed, next at %s: %s",
            message.id,
            message.kind,
            attempts,
            next_attempt_at.isoformat(timespec="seconds"),
            error,
        )
        return Result(Outcome.retry, attempts, next_attempt_at)


def _erasure(message: OutboxMessage) -> dict[str, object]:
    """The change that drops a finished message's sealed parts: nobody needs them again."""
    payload = message.payload or {}
    return {"payload": erased(payload)} if SEALED in payload else {}


class OutboxDeliverer:
    """Embedded mode: sends the outbox in a background task; rows survive restarts.

    Rows it is told about (`notify`, right after their commit) go out at once, claimed by
    id; a sweep for everything due (retries, rows left by a restart, a notice lost to a
    crash) runs at start and then every `poll_seconds`, however busy the process is.
    """

    def __init__(self, sender: Sender, *, poll_seconds: float) -> None:
        self._sender = sender
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._notified: list[uuid.UUID] = []

    async def notify(self, message_ids: Iterable[uuid.UUID]) -> None:
        self._notified.extend(message_ids)
        self._wakeup.set()

    async def run(self) -> None:
        """Until cancelled; the first sweep at once, so rows left by a restart go out."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            try:
                await self.deliver_notified()
                if loop.time() >= next_sweep:
                    # Set first: a sweep that keeps failing must not spin.
                    next_sweep = loop.time() + self._poll_seconds
                    while await self.deliver_due() == BATCH_SIZE:
                        pass
            except Exception:
                log.exception("outbox delivery round failed; retrying on the next round")
            if self._notified:
                continue
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that
            # arrives as the event is set, and shutdown would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(next_sweep - loop.time(), 0)):
                    await self._wakeup.wait()
            self._wakeup.clear()

    async def deliver_notified(self) -> None:
        """Send the rows named since the last round (one already sent is skipped)."""
        notified, self._notified = self._notified, []
        for message_id in notified:
            await self._sender.deliver(message_id)

    async def deliver_due(self) -> int:
        """One sweep: send what is due; returns how many rows it found."""
        due = await self._sender.due()
        for message_id, _attempts in due:
            await self._sender.deliver(message_id)
        return len(due)
