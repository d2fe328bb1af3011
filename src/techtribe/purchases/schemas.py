"""Purchases as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from techtribe.inputs import RequestBody
from techtribe.purchases.cards import CardIn
from techtribe.purchases.models import ItemKind, PurchaseStatus


class ItemIn(RequestBody):
    kind: ItemKind
    id: uuid.UUID


def _no_repeats(items: list[ItemIn]) -> list[ItemIn]:
    if len({(item.kind, item.id) for item in items}) != len(items):
        raise ValueError("an item may appear only once in a purchase")
    return items


class PurchaseCreate(RequestBody):
    """What to buy and the card to pay with. Prices come from the catalog, never the client."""

    items: Annotated[list[ItemIn], Field(min_length=1, max_length=20), AfterValidator(_no_repeats)]
    payment: CardIn


class CardRead(BaseModel):
    brand: str
    last4: str


class ItemRead(BaseModel):
    kind: ItemKind
    id: uuid.UUID = Field(description="The course's or the advisory slot's id.")
    title: str
    price_cents: int
    currency: str
    refunded: bool


class BuyerRead(BaseModel):
    """Who bought a purchase, as admins see it."""

    id: uuid.UUID
    full_name: str | None = Field(description="Null once the account is deleted.")
    email: str | None = Field(description="Null once the account is deleted.")


class PurchaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    status: PurchaseStatus
    total_cents: int
    currency: str
    card: CardRead
    items: list[ItemRead]
    created_at: datetime
    refunded_at: datetime | None
    buyer: BuyerRead | None = Field(
        default=None,
        description="Who bought it: set on admins' views (`GET /purchases`, "
        "`GET /purchases/{id}`, the refund's answer), always `null` for everyone else. "
        "A deleted account keeps its `id`; its `full_name` and `email` are `null`.",
    )
