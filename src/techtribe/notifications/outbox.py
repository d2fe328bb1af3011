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
        kind=kind,
        recipient=recipient,
        subject=subject,
        user_id=user_id,
        payload={"text": text, **data},
    )
    session.add(message)
    # Read by `get_session` after the commit to wake the deliverer at once.
    session.info["outbox_dirty"] = True
    return message
