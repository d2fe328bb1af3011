"""`/purchases` and what a member owns: checkout, reads, refunds, enrollments and bookings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse

from techtribe import metrics
from techtribe.auth.dependencies import Admin, CurrentUser, Viewer
from techtribe.config import SettingsDep
from techtribe.db import ReadSessions, SessionDep
from techtribe.errors import DomainError
from techtribe.pagination import CursorQuery, LimitQuery, Page
from techtribe.purchases import checkout, refunds, service
from techtribe.purchases.dependencies import GatewayDep
from techtribe.purchases.schemas import PurchaseCreate, PurchaseRead

router = APIRouter(tags=["purchases"])


class IdempotencyKeyRequired(DomainError):
    status, code, detail_text = (
        400,
        "idempotency_key_required",
        "Send an Idempotency-Key header (1 to 255 printable characters, e.g. a UUID).",
    )


@router.post(
    "/purchases",
    status_code=status.HTTP_201_CREATED,
    response_model=PurchaseRead,
    responses={
        400: {"description": "No or bad `Idempotency-Key` (`idempotency_key_required`)."},
        402: {"description": "The card was declined (`card_declined`); nothing was granted."},
        409: {
            "description": "Nothing was charged: `already_owned`, `already_booked`, "
            "`sold_out`, `course_unavailable`, `advisory_unavailable`, `own_item`, "
            "`idempotency_conflict` (the key came with another body), `concurrent_update`."
        },
        422: {
            "description": "`validation_error` (a card failing the Luhn check, a past expiry, "
            "a bad CVC...), `mixed_currency`."
        },
        502: {"description": "The gateway refused the request (`payment_gateway_unavailable`)."},
        503: {
            "description": "The gateway or the database is unavailable "
            "(`payment_gateway_unavailable`, `service_unavailable`); retry with the same key."
        },
        504: {
            "description": "The gateway did not answer in time (`payment_gateway_timeout`); "
            "retrying with the same key never charges twice."
        },
    },
)
async def create_purchase(
    body: PurchaseCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    gateway: GatewayDep,
    idempotency_key: Annotated[
        str | None,
        Header(description="Any unique string per purchase attempt; a retry sends it again."),
    ] = None,
) -> Any:
    """Buy courses and advisory seats with a card, once per `Idempotency-Key`."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise IdempotencyKeyRequired()
    with metrics.counted(metrics.PURCHASES, metrics.CHECKOUT_LATENCY, done="paid"):
        code, answer = await checkout.checkout(
            session, settings, gateway, buyer=user, key=key, body=body
        )
    return JSONResponse(
        answer, status_code=code, headers={"Location": f"/api/v1/purchases/{answer['id']}"}
    )


@router.get("/purchases", response_model=Page[PurchaseRead])
async def list_purchases(
    user: Viewer,
    reads: ReadSessions,
    user_id: Annotated[
        uuid.UUID | None, Query(description="Admins only: one member's purchases.")
    ] = None,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    """The caller's purchases, newest first (admins: everyone's, or one member's)."""
    async with reads() as session:
        items, next_cursor = await service.list_purchases(
            session, user, user_id=user_id, limit=limit, cursor=cursor
        )
        views = await service.views_for(session, user, items)
    return {"items": views, "next_cursor": next_cursor}


@router.get("/purchases/{purchase_id}", response_model=PurchaseRead)
async def read_purchase(purchase_id: uuid.UUID, user: Viewer, reads: ReadSessions) -> Any:
    """The owner's or an admin's; anyone else gets `404`."""
    async with reads() as session:
        purchase = await service.visible_purchase(session, purchase_id, user)
        return (await service.views_for(session, user, [purchase]))[0]


@router.post("/purchases/{purchase_id}/refund", response_model=PurchaseRead)
async def refund_purchase(
    purchase_id: uuid.UUID, admin: Admin, session: SessionDep, gateway: GatewayDep
) -> Any:
    """Refund the whole purchase and withdraw what it granted; a second refund is `409`."""
    with metrics.counted(metrics.REFUNDS, done="refunded"):
        purchase = await refunds.refund_purchase(session, gateway, purchase_id)
    return (await service.views_for(session, admin, [purchase]))[0]
