"""Advisory slots as the API shows and takes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from techtribe.courses.schemas import UserSummary
from techtribe.money import Currency, PriceCents


class SlotCreate(BaseModel):
    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=20_000)] = ""
    # Aware only: a time without a UTC offset is a 422.
    starts_at: AwareDatetime
    duration_minutes: Annotated[int, Field(strict=True, ge=15, le=480)]
    price_cents: PriceCents
    currency: Currency
    capacity: Annotated[int, Field(strict=True, ge=1, le=500)]


class SlotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    topic: str
    description: str
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    price_cents: int
    currency: str
    capacity: int
    seats_left: int
    cancelled: bool
    instructor: UserSummary
    created_at: datetime
