"""Reconciliation: every disagreement between the purchases and the gateway's charges.

The invariant: a purchase reads `paid` exactly while the gateway holds a live charge for
it (what its refunded lines left of it), a refunded one has nothing left charged, and no
money is held for no purchase. `techtribe reconcile` prints what breaks it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.purchases.models import Purchase, PurchaseAttempt, PurchaseItem, PurchaseStatus
from techtribe.purchases.payments import ChargeRecord


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One thing an operator must look at; `kind` is stable, `detail` is for people."""

    kind: str
    charge_id: str | None
    purchase_id: uuid.UUID | None
    detail: str

    def line(self) -> str:
        purchase = self.purchase_id or "-"
        return f"{self.kind}\tpurchase={purchase}\tcharge={self.charge_id or '-'}\t{self.detail}"


_REFUNDED_LINES = func.coalesce(
    func.sum(case((PurchaseItem.refunded_at.is_not(None), PurchaseItem.price_cents), else_=0)), 0
)
_CHARGED_PURCHASES = (
    select(
        Purchase.id,
        Purchase.status,
        Purchase.total_cents,
        Purchase.currency,
        Purchase.gateway_charge_id,
        _REFUNDED_LINES.label("refunded_cents"),
    )
    .outerjoin(PurchaseItem, PurchaseItem.purchase_id == Purchase.id)
    .where(Purchase.gateway_charge_id.is_not(None))
    .group_by(Purchase.id)
    .order_by(Purchase.created_at, Purchase.id)
)


async def reconcile(
    session: AsyncSession, charges: list[ChargeRecord] | None
) -> list[Disagreement]:
    """The disagreements; `charges` None: only what the database alone can tell."""
    by_id = {charge.id: charge for charge in charges or []}
    voided = set(await session.scalars(select(PurchaseAttempt.charge_id)))
    found: list[Disagreement] = []
    referenced: set[str] = set()
    for row in await session.execute(_CHARGED_PURCHASES):
        charge_id: str = row.gateway_charge_id
        referenced.add(charge_id)
        paid = row.status == PurchaseStatus.paid
        expected_live = row.total_cents - row.refunded_cents if paid else 0
        if paid and charge_id in voided:
            found.append(
                Disagreement(
                    "paid_on_voided_charge",
                    charge_id,
                    row.id,
                    "paid purchase on a charge the service voided after a failed commit",
                )
            )
            continue
        if charges is None:
            continue
        charge = by_id.get(charge_id)
        if charge is None:
            found.append(
                Disagreement(
                    "charge_missing", charge_id, row.id, f"{row.status} purchase; no such charge"
                )
            )
        elif paid and expected_live > 0 and charge.live_cents == 0:
            state = "refunded or voided" if charge.succeeded else "failed"
            found.append(
                Disagreement(
                    "paid_but_charge_not_live",
                    charge_id,
                    row.id,
                    f"paid purchase of {_money(expected_live, row.currency)}; charge {state}",
                )
            )
        elif not paid and charge.live_cents > 0:
            found.append(
                Disagreement(
                    "refunded_but_charge_live",
                    charge_id,
                    row.id,
                    f"refunded purchase; {_money(charge.live_cents, charge.currency)} charged",
                )
            )
        elif (
            charge.amount_cents != row.total_cents
            or charge.live_cents != expected_live
            or (charge.currency and charge.currency != row.currency)
        ):
            found.append(
                Disagreement(
                    "amount_mismatch",
                    charge_id,
                    row.id,
                    f"purchase {_money(row.total_cents, row.currency)} with "
                    f"{_money(expected_live, row.currency)} due; charge "
                    f"{_money(charge.amount_cents, charge.currency)} with "
                    f"{_money(charge.live_cents, charge.currency)} live",
                )
            )
    for charge in charges or []:
        if charge.id not in referenced and charge.live_cents > 0:
            why = "voided by the service but still live" if charge.id in voided else "no purchase"
            found.append(
                Disagreement(
                    "charge_without_purchase",
                    charge.id,
                    None,
                    f"{_money(charge.live_cents, charge.currency)} charged; {why}",
                )
            )
    return found


def _money(cents: int, currency: str) -> str:
    return f"{cents} {currency or '?'} cents"
