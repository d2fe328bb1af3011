"""The sandbox gateway's ledger in the database: what a payment provider keeps on its side.

Charges and refunds, with their idempotency keys, in tables of their own, written on the
ledger's own connections in their own transactions, never in the purchase's: a purchase
whose COMMIT fails still leaves its charge here, as it would at a real provider. Every
API process and `techtribe reconcile` share it. PostgreSQL only: SQLite has one writer, and
a purchase holds the write lock while it charges (the sandbox keeps memory there).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from techtribe.config import Settings
from techtribe.db import Base, UTCDateTime, utcnow
from techtribe.purchases.payments.base import (
    AlreadyRefunded,
    ChargeRecord,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyKeyReused,
    Refund,
    UnknownCharge,
)

log = logging.getLogger("techtribe.payments")

REFUND_ID_PREFIX = "re_sandbox_"
# What the ledger's connections call themselves (not the service's `techtribe`).
APPLICATION_NAME = "techtribe-sandbox-gateway"


class SandboxCharge(Base):
    """A sandbox charge (or a decline: `decline_code` set), under its idempotency key."""

    __tablename__ = "sandbox_charges"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_exp_month: Mapped[int]
    card_exp_year: Mapped[int]
    decline_code: Mapped[str | None] = mapped_column(String(40))
    refunded_cents: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SandboxRefund(Base):
    """A sandbox refund under its idempotency key; `requested_cents` NULL: all that was left."""

    __tablename__ = "sandbox_refunds"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str] = mapped_column(ForeignKey("sandbox_charges.id", ondelete="CASCADE"))
    requested_cents: Mapped[int | None]
    amount_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# (amount, currency, brand, last4, exp month, exp year): what a key's first call was for.
Fingerprint = tuple[int, str, str, str, int, int]
_CHARGE_COLUMNS = (
    SandboxCharge.id,
    SandboxCharge.amount_cents,
    SandboxCharge.currency,
    SandboxCharge.card_brand,
    SandboxCharge.card_last4,
    SandboxCharge.card_exp_month,
    SandboxCharge.card_exp_year,
    SandboxCharge.decline_code,
)


# Built once; each charge's values are bind parameters.
_ADD_CHARGE = (
    insert(SandboxCharge)
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(SandboxCharge.id)
)


class DatabaseLedger:
    """The ledger on its own small connection pool (`ledger_engine`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # A charge is one statement: no BEGIN and COMMIT round trips around it.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def add_charge(
        self, key: str, fingerprint: Fingerprint, charge_id: str, decline_code: str | None
    ) -> tuple[Fingerprint, str, str | None]:
        """Records the charge unless the key has one: the key's first (fingerprint, charge
        id, decline code)."""
        amount, currency, brand, last4, month, year = fingerprint
        values: dict[str, Any] = {
            "id": charge_id,
            "idempotency_key": key,
            "amount_cents": amount,
            "currency": currency,
            "card_brand": brand,
            "card_last4": last4,
            "card_exp_month": month,
            "card_exp_year": year,
            "decline_code": decline_code,
            "refunded_cents": 0,
            "created_at": utcnow(),
        }
        try:
            async with self._autocommit.connect() as connection:
                added = await connection.scalar(_ADD_CHARGE, values)
                if added is not None:
                    return fingerprint, charge_id, decline_code
                first = (
                    await connection.execute(
                        select(*_CHARGE_COLUMNS).where(SandboxCharge.idempotency_key == key)
                    )
                ).one()
        except SQLAlchemyError as exc:
            # The INSERT may have happened: like a provider's timeout, the same key tells.
            log.warning("sandbox ledger: charge not recorded or answer lost: %r", exc)
            raise GatewayTimeout() from None
        return (
            (first[1], first[2], first[3], first[4], first[5], first[6]),
            first.id,
            first.decline_code,
        )

    async def refund(
        self, charge_id: str, amount_cents: int | None, key: str, *, adopt: bool
    ) -> tuple[Refund, bool]:
        """Refunds (part of) the charge once per key: (the key's refund, whether new)."""
        try:
            async with self._engine.begin() as connection:
                charge = (
                    await connection.execute(
                        select(
                            SandboxCharge.amount_cents,
                            SandboxCharge.refunded_cents,
                            SandboxCharge.decline_code,
                        )
                        .where(SandboxCharge.id == charge_id)
                        .with_for_update()
                    )
                ).one_or_none()
                # Read under the charge's lock: a twin with this key has committed by now.
                first = (
                    await connection.execute(
                        select(SandboxRefund).where(SandboxRefund.idempotency_key == key)
                    )
                ).one_or_none()
                if first is not None:
                    if (first.charge_id, first.requested_cents) != (charge_id, amount_cents):
                        raise IdempotencyKeyReused()
                    return Refund(first.id, first.charge_id, first.amount_cents), False
                if charge is None or charge.decline_code is not None:
                    if not adopt or charge is not None or amount_cents is None:
                        raise UnknownCharge()
                    # A charge made before the ledger existed: all we know is the amount.
                    await connection.execute(
                        insert(SandboxCharge).values(
                            id=charge_id,
                            idempotency_key=f"adopted-{charge_id}",
                            amount_cents=amount_cents,
                            currency="",
                            card_brand="unknown",
                            card_last4="",
                            card_exp_month=0,
                            card_exp_year=0,
                            refunded_cents=0,
                            created_at=utcnow(),
                        )
                    )
                    total, refunded = amount_cents, 0
                else:
                    total, refunded = charge.amount_cents, charge.refunded_cents
                remaining = total - refunded
                if remaining <= 0:
                    raise AlreadyRefunded()
                amount = remaining if amount_cents is None else amount_cents
                if not 0 < amount <= remaining:
                    raise ValueError(f"refund amount must be 1..{remaining} cents, got {amount}")
                refund = Refund(REFUND_ID_PREFIX + secrets.token_hex(12), charge_id, amount)
                await connection.execute(
                    insert(SandboxRefund).values(
                        id=refund.id,
                        idempotency_key=key,
                        charge_id=charge_id,
                        requested_cents=amount_cents,
                        amount_cents=amount,
                        created_at=utcnow(),
                    )
                )
                await connection.execute(
                    update(SandboxCharge)
                    .where(SandboxCharge.id == charge_id)
                    .values(refunded_cents=SandboxCharge.refunded_cents + amount)
                )
        except IntegrityError:
            raise IdempotencyKeyReused() from None  # the key refunded another charge
        except SQLAlchemyError as exc:
            log.warning("sandbox ledger: refund not recorded or answer lost: %r", exc)
            raise GatewayTimeout() from None
        return refund, True

    async def list_charges(self) -> list[ChargeRecord]:
        try:
            async with self._autocommit.connect() as connection:
                rows = await connection.execute(
                    select(
                        SandboxCharge.id,
                        SandboxCharge.amount_cents,
                        SandboxCharge.currency,
                        SandboxCharge.refunded_cents,
                        SandboxCharge.decline_code,
                    ).order_by(SandboxCharge.created_at, SandboxCharge.id)
                )
                return [
                    ChargeRecord(
                        id=row.id,
                        amount_cents=row.amount_cents,
                        currency=row.currency,
                        refunded_cents=row.refunded_cents,
                        succeeded=row.decline_code is None,
                    )
                    for row in rows
                ]
        except SQLAlchemyError as exc:
            log.warning("sandbox ledger: charges could not be listed: %r", exc)
            raise GatewayUnavailable() from None

    async def aclose(self) -> None:
        await self._engine.dispose()


def ledger_engine(settings: Settings) -> AsyncEngine:
    """A small pool of its own: a purchase holds one of the service's connections while it
    charges, so taking the ledger's from the same pool could exhaust it."""
    return create_async_engine(
        settings.database_url,
        pool_size=2,
        max_overflow=3,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": APPLICATION_NAME}},
    )
