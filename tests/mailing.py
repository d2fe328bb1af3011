"""A real SMTP server for tests (aiosmtpd, in the test's loop) and the lane's e-mail sender.

The PostgreSQL lane sends through the Redis job queue: `sending()` runs the saq worker of
`techtribe worker` in the test loop. The SQLite lane has no Redis: `sending()` runs an app,
whose in-process deliverer sends, as in the embedded mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.config import Settings
from techtribe.notifications.jobs import build_worker
from techtribe.notifications.models import OutboxMessage
from tests.conftest import make_settings, running_app
from tests.faults import process_env, wait_for


@dataclass
class Rule:
    """How the server treats one recipient: fail some DATA commands, or hold at RCPT."""

    failures: int = 0
    failure_reply: str = "451 4.3.0 Try again later"
    hold: asyncio.Event | None = None
    held: asyncio.Event = field(default_factory=asyncio.Event)


class Inbox:
    """The aiosmtpd handler: keeps every accepted e-mail, applies the per-recipient rules."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.rules: dict[str, Rule] = {}
        self.refused: list[str] = []

    def to(self, recipient: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == recipient]

    def fail(self, recipient: str, times: int, reply: str = "451 4.3.0 Try again later") -> None:
        self.rules[recipient] = Rule(failures=times, failure_reply=reply)

    def hold(self, recipient: str) -> Rule:
        """The first RCPT for `recipient` waits until `rule.hold` is set."""
        rule = Rule(hold=asyncio.Event())
        self.rules[recipient] = rule
        return rule

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        rule = self.rules.get(address)
        if rule and rule.hold is not None and not rule.held.is_set():
            rule.held.set()
            await rule.hold.wait()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            rule = self.rules.get(address)
            if rule and rule.failures:
                if rule.failures > 0:
                    rule.failures -= 1
                self.refused.append(address)
                return rule.failure_reply
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"


@contextlib.asynccontextmanager
async def smtp_server(**smtp_options: Any) -> AsyncIterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 (a free port), running in this loop."""
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="mail.test", loop=loop, **smtp_options), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield inbox, port
    finally:
        server.close()
        await server.wait_closed()


def mail_settings(port: int, **overrides: Any) -> Settings:
    """Fast retries and sweeps, SMTP to the test server."""
    values: dict[str, Any] = {
        "email_transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "email_max_attempts": 3,
        "email_retry_base_seconds": 0.2,
        "email_send_timeout_seconds": 3,
        "email_sweep_seconds": 1,
        "outbox_poll_seconds": 0.1,
        "public_base_url": "https://techtribe.test",
    }
    values.update(overrides)
    return make_settings(**values)


@contextlib.asynccontextmanager
async def sending(settings: Settings) -> AsyncIterator[None]:
    """The lane's sender, started now: a saq worker (Redis) or an app's in-process deliverer."""
    if not settings.redis_url:
        async for _app in running_app(settings):
            yield
        return
    async with worker_in_loop(settings):
        yield


@contextlib.asynccontextmanager
async def api_and_sender(settings: Settings) -> AsyncIterator[FastAPI]:
    """The API, and whatever sends its e-mails on this lane."""
    async for app in running_app(settings):
        if settings.redis_url:
            async with worker_in_loop(settings):
                yield app
        else:
            yield app  # the embedded mode: the app's own deliverer sends


@contextlib.asynccontextmanager
async def worker_in_loop(settings: Settings) -> AsyncIterator[None]:
    """The saq worker of `techtribe worker`, run in the test's loop."""
    worker = build_worker(settings)
    worker.SIGNALS = []  # the test runner keeps its own signal handlers
    task = asyncio.create_task(worker.start())
    try:
        yield
    finally:
        await worker.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.queue.disconnect()


async def row(db: AsyncSession, message_id: Any) -> OutboxMessage:
    db.expire_all()
    message = await db.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
    assert message is not None
    return message


async def settled(db: AsyncSession, message_id: Any) -> OutboxMessage:
    """The row once it is sent or failed."""
    result: list[OutboxMessage] = []

    async def done() -> bool:
        message = await row(db, message_id)
        result[:] = [message]
        return message.status != "pending"

    await wait_for(done, what=f"outbox message {message_id} to settle")
    return result[0]


async def start_worker(settings: Settings, cwd: Path) -> asyncio.subprocess.Process:
    """`techtribe worker` as a real process, configured like `settings`."""
    return await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "techtribe"),
        "worker",
        env=process_env(settings),
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), timeout=10)
    except TimeoutError:
        process.kill()
        await process.wait()
