"""Purchases as members and admins see them: the view, the listing, who may read one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from techtribe.auth.models import Role, User
from techtribe.errors import Forbidden, NotFound
from techtribe.pagination import Key, Ordering, paginate
from techtribe.purchases.models import (
    ItemKind,
    Purchase,
    PurchaseItem,
    PurchaseStatus,
)
from techtribe.purchases.schemas import BuyerRead, CardRead, ItemRead, PurchaseRead


class PurchaseNotFound(NotFound):
    detail_text = "No such purchase."


PURCHASE_ORDER = Ordering(
    "newest",
    (Key.timestamp(Purchase.created_at, descending=True), Key.uuid(Purchase.id, descending=True)),
)


def purchase_view(
    purchase: Purchase,
    items: Sequence[PurchaseItem] | None = None,
    *,
    buyer: User | None = None,
) -> PurchaseRead:
    """The API's view of a purchase (`items` when its lines are not loaded on it; `buyer`
    only for admins' views)."""
    return PurchaseRead(
        id=purchase.id,
        user_id=purchase.user_id,
        status=PurchaseStatus(purchase.status),
        total_cents=purchase.total_cents,
        currency=purchase.currency,
        card=CardRead(brand=purchase.card_brand, last4=purchase.card_last4),
        items=[
            ItemRead(
                kind=ItemKind(item.kind),
                id=item.target_id,
                title=item.title,
                price_cents=item.price_cents,
                currency=item.currency,
                refunded=item.refunded_at is not None,
            )
            for item in (purchase.items if items is None else items)
        ],
        created_at=purchase.created_at,
        refunded_at=purchase.refunded_at,
        buyer=None if buyer is None else buyer_view(buyer),
    )


def buyer_view(user: User) -> BuyerRead:
    if user.is_deleted:
        return BuyerRead(id=user.id, full_name=None, email=None)
    return BuyerRead(id=user.id, full_name=user.full_name, email=user.email)


async def views_for(
    session: AsyncSession, viewer: User, purchases: Sequence[Purchase]
) -> list[PurchaseRead]:
    """The views `viewer` gets of `purchases`: an admin's name each buyer (one query)."""
    if viewer.role != Role.admin:
        return [purchase_view(purchase) for purchase in purchases]
    ids = {purchase.user_id for purchase in purchases}
    users = {}
    if ids:
        users = {
            user.id: user for user in await session.scalars(select(User).where(User.id.in_(ids)))
        }
    return [purchase_view(purchase, buyer=users.get(purchase.user_id)) for purchase in purchases]


def money(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


async def load_purchase(session: AsyncSession, purchase_id: uuid.UUID) -> Purchase:
    purchase = await session.scalar(
        select(Purchase)
        .where(Purchase.id == purchase_id)
        .options(selectinload(Purchase.items))
        .execution_options(populate_existing=True)
    )
    if purchase is None:
        raise PurchaseNotFound()
    return purchase


async def visible_purchase(session: AsyncSession, purchase_id: uuid.UUID, viewer: User) -> Purchase:
    """The owner's or an admin's; anyone else gets the same `404` as for a missing one."""
    purchase = await load_purchase(session, purchase_id)
    if purchase.user_id != viewer.id and viewer.role != Role.admin:
        raise PurchaseNotFound()
    return purchase


async def list_purchases(
    session: AsyncSession,
    viewer: User,
    *,
    user_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Purchase], str | None]:
    stmt = select(Purchase).options(selectinload(Purchase.items))
    if viewer.role == Role.admin:
        if user_id is not None:
            stmt = stmt.where(Purchase.user_id == user_id)
    elif user_id is not None and user_id != viewer.id:
        raise Forbidden("Only admins may list other members' purchases.")
    else:
        stmt = stmt.where(Purchase.user_id == viewer.id)
    return await paginate(session, stmt, PURCHASE_ORDER, limit=limit, cursor=cursor)
