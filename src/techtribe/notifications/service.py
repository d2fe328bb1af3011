"""Admin operations on the outbox: list by status, send a failed message again."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.db import utcnow
from techtribe.errors import Conflict, NotFound
from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.outbox import send_after_commit
from techtribe.notifications.schemas import OutboxStatus
from techtribe.notifications.sealing import ERASED
from techtribe.pagination import Key, Ordering, paginate

NEWEST = Ordering(
    "newest",
    (
        Key.timestamp(OutboxMessage.created_at, descending=True),
        Key.uuid(OutboxMessage.id, descending=True),
    ),
)


class MessageNotFound(NotFound):
    detail_text = "No such outbox message."


class NotFailed(Conflict):
    code = "not_failed"
    detail_text = "Only a failed message can be retried."


class SecretErased(Conflict):
    code = "secret_erased"
    detail_text = (
        "This message carried a one-time link, erased when it failed; the member can ask "
        "for a new one."
    )


async def list_messages(
    session: AsyncSession, *, status: OutboxStatus | None, limit: int, cursor: str | None
) -> tuple[list[OutboxMessage], str | None]:
    stmt = select(OutboxMessage)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return await paginate(session, stmt, NEWEST, limit=limit, cursor=cursor)


async def retry(session: AsyncSession, message_id: uuid.UUID) -> OutboxMessage:
    """Failed -> pending with a fresh count of tries; queued once the request commits."""
    message = await session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise MessageNotFound()
    if message.status != "failed":
        raise NotFailed()
    if (message.payload or {}).get(ERASED):
        raise SecretErased()
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.locked_until = None
    send_after_commit(session, message.id)
    await session.flush()
    return message


async def forget_member(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Account closure: mail to or about the member holds their address, so it goes."""
    await session.execute(delete(OutboxMessage).where(OutboxMessage.user_id == user_id))
