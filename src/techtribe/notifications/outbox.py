"""Writing messages to the outbox, in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.notifications.models import OutboxMessage


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    recipient: str,
    subject: str,
    text: str,
    user_id: uuid.UUID | None = None,
    **data: Any,
) -> OutboxMessage:
    """Add a message; it is sent only if the surrounding transaction commits."""
    message = OutboxMessage(
        # Known before the flush, so `get_session` can queue it right after the commit.
        id=uuid.uuid4(),
        kind=kind,
        recipient=recipient,
        subject=subject,
        user_id=user_id,
        payload={"text": text, **data},
    )
    session.add(message)
    # Read by `get_session` after the commit, to send at once (a lost id is swept later).
    session.info.setdefault("outbox_ids", []).append(message.id)
    return message
