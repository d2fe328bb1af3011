"""Writing messages to the outbox, in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.sealing import SEALED, Sealer


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    recipient: str,
    subject: str,
    text: str,
    user_id: uuid.UUID | None = None,
    secret: dict[str, str] | None = None,
    sealer: Sealer | None = None,
    **data: Any,
) -> OutboxMessage:
    """Add a message; it is sent only if the surrounding transaction commits.

    `secret` (a one-time token and the link that carries it) is stored sealed by `sealer`,
    and so is `text` then, which quotes the link; the sender erases it after sending.
    """
    payload: dict[str, Any] = {"text": text, **data}
    if secret:
        if sealer is None:
            raise ValueError("a message with secret parts needs a sealer")
        del payload["text"]
        payload[SEALED] = sealer.seal({"text": text, **secret})
    message = OutboxMessage(
        # Known before the flush, so `get_session` can queue it right after the commit.
        id=uuid.uuid4(),
        kind=kind,
        recipient=recipient,
        subject=subject,
        user_id=user_id,
        payload=payload,
    )
    session.add(message)
    # Read by `get_session` after the commit, to send at once (a lost id is swept later).
    session.info.setdefault("outbox_ids", []).append(message.id)
    return message
