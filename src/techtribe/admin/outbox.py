"""`/admin/outbox`: e-mails by delivery status, and a retry for the failed ones."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from techtribe.auth.dependencies import Admin
from techtribe.db import SessionDep
from techtribe.notifications import service
from techtribe.notifications.schemas import OutboxMessageRead, OutboxStatus
from techtribe.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/admin/outbox", tags=["admin"])


@router.get("", response_model=Page[OutboxMessageRead])
async def list_outbox(
    _: Admin,
    session: SessionDep,
    status: OutboxStatus | None = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    """Outbox messages, newest first; `status=failed` lists what needs attention."""
    items, next_cursor = await service.list_messages(
        session, status=status, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.post("/{message_id}/retry", response_model=OutboxMessageRead)
async def retry_message(message_id: uuid.UUID, _: Admin, session: SessionDep) -> Any:
    """Send a failed message again, with a fresh count of tries (409 if it is not failed)."""
    return await service.retry(session, message_id)
