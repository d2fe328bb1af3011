"""Advisory slots as the API shows and takes them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from techtribe.auth.schemas import UserSummary
from techtribe.inputs import RequestBody, Timestamp, shifted
from techtribe.money import Currency, PriceCents


class SlotCreate(RequestBody):
    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=20_000)] = ""
    # Aware only: a time without a UTC offset is a 422.
    starts_at: Timestamp
    duration_minutes: Annotated[int, Field(strict=True, ge=15, le=480)]
    price_cents: PriceCents
    currency: Currency
    capacity: Annotated[int, Field(strict=True, ge=1, le=500)]

    @model_validator(mode="after")
    def _ends_in_range(self) -> SlotCreate:
        # The end is derived: it must be a storable time too (9999-12-31T23:30Z + 8 h isn't).
        shifted(self.starts_at, timedelta(minutes=self.duration_minutes))
        return self


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


class BookedSlot(SlotRead):
    """An advisory slot the caller has a seat in."""

    booked_at: datetime
