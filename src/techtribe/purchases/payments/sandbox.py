"""The built-in sandbox gateway: in memory, deterministic, no money moves.

Test cards (any future expiry, any holder name, a CVC of the right length):

| number                         | outcome                                               |
|--------------------------------|-------------------------------------------------------|
| `4242424242424242`             | paid (so is any other valid number not listed below)  |
| any number ending in `0002`,   | declined: `CardDeclined` (402 `card_declined`)        |
| e.g. `4000000000000002`        |                                                       |
| `4000000000000119`             | the gateway times out: `GatewayTimeout` (504), the    |
|                                | outcome unknown; retrying times out again             |
| `4000000000000127`             | the gateway is down: `GatewayUnavailable` (503)       |

Other valid numbers per brand: `5555555555554444` (mastercard), `378282246310005`
(amex, 4-digit CVC), `6011111111111117` (discover).

Like a real gateway it honours idempotency keys: the same key with the same parameters
answers the first outcome again (one charge, one refund); with other parameters it raises
`IdempotencyKeyReused`. Charges and refunds are kept in `charges` and `refunds` (what this
instance made), and, given a `DatabaseLedger` (`make_gateway` on PostgreSQL), in the
database too: there the keys, `list_charges()` and refunds are shared by every process.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from techtribe.purchases.cards import CardIn
from techtribe.purchases.payments.base import (
    AlreadyRefunded,
    CardDeclined,
    Charge,
    ChargeRecord,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyKeyReused,
    Refund,
    UnknownCharge,
    check_charge_arguments,
)
from techtribe.purchases.payments.sandbox_ledger import DatabaseLedger

PAYING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
DECLINE_SUFFIX = "0002"
TIMEOUT_CARD = "4000000000000119"
UNAVAILABLE_CARD = "4000000000000127"

CHARGE_ID_PREFIX = "ch_sandbox_"
REFUND_ID_PREFIX = "re_sandbox_"


@dataclass(frozen=True, slots=True)
class _Declined:
    """A remembered decline, answered again for the same idempotency key."""

    decline_code: str


class SandboxGateway:
    """A `PaymentGateway` in memory or on a database ledger; one instance per process (see
    `make_gateway`)."""

    def __init__(
        self, *, strict_refunds: bool = True, ledger: DatabaseLedger | None = None
    ) -> None:
        # strict_refunds=False accepts a refund, with an explicit amount, of a sandbox charge
        # this instance never saw: it was made before a restart or by another worker process.
        self._strict_refunds = strict_refunds
        self._ledger = ledger
        self.charges: list[Charge] = []
        self.refunds: list[Refund] = []
        self.declines = 0
        self._charge_keys: dict[str, tuple[tuple[object, ...], Charge | _Declined]] = {}
        self._refund_keys: dict[str, tuple[tuple[object, ...], Refund]] = {}
        self._charges_by_id: dict[str, Charge] = {}
        self._refunded_cents: dict[str, int] = {}

    @property
    def charge_count(self) -> int:
        return len(self.charges)

    async def charge(
        self,
        *,
        amount_cents: int,
        currency: str,
        card: CardIn,
        idempotency_key: str,
        description: str,
    ) -> Charge:
        check_charge_arguments(amount_cents, currency, idempotency_key)
        # No await below: the check and the record are one step, so concurrent calls
        # with one key can't both charge.
        fingerprint = (
            amount_cents,
            currency.upper(),
            card.brand,
            card.last4,
            card.exp_month,
            card.exp_year,
        )
        if self._ledger is not None:
            return await self._ledger_charge(card, idempotency_key, fingerprint)
        if idempotency_key in self._charge_keys:
            first_fingerprint, outcome = self._charge_keys[idempotency_key]
            if first_fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            if isinstance(outcome, _Declined):
                raise CardDeclined(decline_code=outcome.decline_code)
            return outcome

        number = card.reveal_number()
        if number == TIMEOUT_CARD:
            raise GatewayTimeout()
        if number == UNAVAILABLE_CARD:
            raise GatewayUnavailable()
        if number.endswith(DECLINE_SUFFIX):
            self.declines += 1
            self._charge_keys[idempotency_key] = (fingerprint, _Declined("generic_decline"))
            raise CardDeclined(decline_code="generic_decline")

        charge = Charge(
            id=CHARGE_ID_PREFIX + secrets.token_hex(12),
            amount_cents=amount_cents,
            currency=currency.upper(),
            brand=card.brand,
            last4=card.last4,
        )
        self.charges.append(charge)
        self._charges_by_id[charge.id] = charge
        self._charge_keys[idempotency_key] = (fingerprint, charge)
        return charge

    async def _ledger_charge(
        self, card: CardIn, idempotency_key: str, fingerprint: tuple[int, str, str, str, int, int]
    ) -> Charge:
        """The charge through the database ledger: one INSERT, or the key's first outcome."""
        assert self._ledger is not None
        number = card.reveal_number()
        if number == TIMEOUT_CARD:
            raise GatewayTimeout()
        if number == UNAVAILABLE_CARD:
            raise GatewayUnavailable()
        decline = "generic_decline" if number.endswith(DECLINE_SUFFIX) else None
        made = CHARGE_ID_PREFIX + secrets.token_hex(12)
        first, charge_id, decline_code = await self._ledger.add_charge(
            idempotency_key, fingerprint, made, decline
        )
        if first != fingerprint:
            raise IdempotencyKeyReused()
        if decline_code is not None:
            self.declines += charge_id == made
            raise CardDeclined(decline_code=decline_code)
        charge = Charge(
            id=charge_id,
            amount_cents=fingerprint[0],
            currency=fingerprint[1],
            brand=fingerprint[2],
            last4=fingerprint[3],
        )
        if charge_id == made:
            self.charges.append(charge)
        return charge

    async def refund(
        self,
        *,
        charge_id: str,
        amount_cents: int | None = None,
        idempotency_key: str,
    ) -> Refund:
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        if self._ledger is not None:
            refund, new = await self._ledger.refund(
                charge_id, amount_cents, idempotency_key, adopt=not self._strict_refunds
            )
            if new:
                self.refunds.append(refund)
            return refund
        fingerprint = (charge_id, amount_cents)
        if idempotency_key in self._refund_keys:
            first_fingerprint, first = self._refund_keys[idempotency_key]
            if first_fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return first

        charge = self._charges_by_id.get(charge_id)
        if charge is None:
            charge = self._adopt_unknown_charge(charge_id, amount_cents)
        remaining = charge.amount_cents - self._refunded_cents.get(charge_id, 0)
        if remaining <= 0:
            raise AlreadyRefunded()
        amount = remaining if amount_cents is None else amount_cents
        if not 0 < amount <= remaining:
            raise ValueError(f"refund amount must be 1..{remaining} cents, got {amount}")

        refund = Refund(
            id=REFUND_ID_PREFIX + secrets.token_hex(12),
            charge_id=charge_id,
            amount_cents=amount,
        )
        self._refunded_cents[charge_id] = self._refunded_cents.get(charge_id, 0) + amount
        self.refunds.append(refund)
        self._refund_keys[idempotency_key] = (fingerprint, refund)
        return refund

    def _adopt_unknown_charge(self, charge_id: str, amount_cents: int | None) -> Charge:
        known_shape = charge_id.startswith(CHARGE_ID_PREFIX)
        if self._strict_refunds or not known_shape or amount_cents is None:
            raise UnknownCharge()
        # Assume the refund covers the whole charge: all we know is the amount asked for.
        charge = Charge(
            id=charge_id, amount_cents=amount_cents, currency="", brand="unknown", last4=""
        )
        self._charges_by_id[charge_id] = charge
        return charge

    async def list_charges(self) -> list[ChargeRecord]:
        """The ledger's charges (every process's); without one, the charges this instance
        made (its memory: one process, since its start)."""
        if self._ledger is not None:
            return await self._ledger.list_charges()
        return [
            ChargeRecord(
                id=charge.id,
                amount_cents=charge.amount_cents,
                currency=charge.currency,
                refunded_cents=self._refunded_cents.get(charge.id, 0),
            )
            for charge in self.charges
        ]

    async def aclose(self) -> None:
        if self._ledger is not None:
            await self._ledger.aclose()
