"""A payment gateway that times each call for `/metrics`, around whichever gateway is set."""

from __future__ import annotations

from techtribe.metrics import GATEWAY_LATENCY, timed
from techtribe.purchases.cards import CardIn
from techtribe.purchases.payments.base import (
    CardDeclined,
    Charge,
    ChargeRecord,
    PaymentGateway,
    Refund,
)


class MeteredGateway:
    """`PaymentGateway` over another: `techtribe_payment_gateway_duration_seconds`."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner

    async def charge(
        self,
        *,
        amount_cents: int,
        currency: str,
        card: CardIn,
        idempotency_key: str,
        description: str,
    ) -> Charge:
        with timed(GATEWAY_LATENCY, "charge") as outcome:
            try:
                charge = await self.inner.charge(
                    amount_cents=amount_cents,
                    currency=currency,
                    card=card,
                    idempotency_key=idempotency_key,
                    description=description,
                )
            except CardDeclined:
                outcome.append("declined")
                raise
            outcome.append("ok")
            return charge

    async def refund(
        self, *, charge_id: str, amount_cents: int | None = None, idempotency_key: str
    ) -> Refund:
        with timed(GATEWAY_LATENCY, "refund") as outcome:
            refund = await self.inner.refund(
                charge_id=charge_id, amount_cents=amount_cents, idempotency_key=idempotency_key
            )
            outcome.append("ok")
            return refund

    async def list_charges(self) -> list[ChargeRecord]:
        return await self.inner.list_charges()

    async def aclose(self) -> None:
        await self.inner.aclose()
