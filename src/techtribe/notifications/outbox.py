"""Writing messages to the outbox, in the caller's transaction, as data.

A service queues `(kind, recipient, data)`: plain JSON data (names, ids, formatted amounts)
and, for the kinds that carry one, a one-time token, which is stored sealed. The words are
the templates' (`rendering`), rendered when the message is sent. After the request commits,
`after_commit_hook` tells the sender about the new rows so they go out at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.db import AfterCommit
from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.rendering import subject_of
from techtribe.notifications.sealing import SEALED, Sealer

# The ids of the rows this session wrote or re-queued; only this module reads it.
_NEW_IDS = "techtribe.notifications.outbox.new_ids"


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    recipient: str,
    data: Mapping[str, Any],
    user_id: uuid.UUID | None = None,
    token: str | None = None,
    sealer: Sealer | None = None,
) -> OutboxMessage:
    """Add a message; it is sent only if the surrounding transaction commits.

    `data` fills the kind's templates (the subject is rendered from it now, to be listed
    with the row); `token` is sealed by `sealer` and erased from the row once it is sent.
    A kind without templates fails here, not at the sender.
    """
    payload: dict[str, Any] = dict(data)
    if token is not None:
        if sealer is None:
            raise ValueError("a message with a token needs a sealer")
        payload[SEALED] = sealer.seal({"token": token})
    message = OutboxMessage(
        # Known before the flush, so the after-commit hook can name it.
        id=uuid.uuid4(),
        kind=kind,
        recipient=recipient,
        subject=subject_of(kind, data),
        user_id=user_id,
        payload=payload,
    )
    session.add(message)
    send_after_commit(session, message.id)
    return message


def send_after_commit(session: AsyncSession, message_id: uuid.UUID) -> None:
    """Have the sender told about this row once the session commits (a lost notice is
    made up for by the sweep)."""
    session.info.setdefault(_NEW_IDS, []).append(message_id)


def hand_over(source: AsyncSession, target: AsyncSession) -> None:
    """The rows `source` committed are sent once `target` commits (a session that did the
    work on another connection, for a request whose own session carries the hook)."""
    for message_id in source.info.pop(_NEW_IDS, []):
        send_after_commit(target, message_id)


class Dispatcher(Protocol):
    """Who is told after a commit that wrote outbox rows: the Redis queue or the
    in-process sender."""

    async def notify(self, message_ids: Iterable[uuid.UUID]) -> None: ...


def after_commit_hook(dispatcher: Dispatcher) -> AfterCommit:
    """The app's `after_commit` hook: queue (Redis) or wake (embedded) the new rows."""

    async def notify(session: AsyncSession) -> None:
        if message_ids := session.info.pop(_NEW_IDS, None):
            await dispatcher.notify(message_ids)

    return notify
