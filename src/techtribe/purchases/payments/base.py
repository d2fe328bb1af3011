"""What checkout needs from a payment gateway: the protocol, its results and its failures.

Every call carries an idempotency key: calling again with the same key (after a timeout,
a crash or a retried request) returns the first outcome and never moves money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from techtribe.errors import Conflict, DomainError
from techtribe.purchases.cards import CardIn


@dataclass(frozen=True, slots=True)
class Charge:
    """A successful charge; `id` is the gateway's reference, the only one we store."""

    id: str
    amount_cents: int
    currency: str
    brand: str
    last4: str


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund of (part of) a charge."""

    id: str
    charge_id: str
    amount_cents: int


@dataclass(frozen=True, slots=True)
class ChargeRecord:
    """What the gateway holds about a charge now (for reconciliation)."""

    id: str
    amount_cents: int
    currency: str
    refunded_cents: int
    # False for a charge the gateway failed or declined: no money moved.
    succeeded: bool = True

    @property
    def live_cents(self) -> int:
        """What is still charged: the amount minus the refunds (0 once voided or refunded)."""
        return self.amount_cents - self.refunded_cents if self.succeeded else 0


class PaymentGateway(Protocol):
    """A payment service. Implementations: `SandboxGateway` (in memory), `HttpGateway`."""

    async def charge(
        self,
        *,
        amount_cents: int,
        currency: str,
        card: CardIn,
        idempotency_key: str,
        description: str,
    ) -> Charge:
        """Charge the card; raises `CardDeclined`, `GatewayUnavailable` or `GatewayTimeout`."""
        ...

    async def refund(
        self,
        *,
        charge_id: str,
        amount_cents: int | None = None,
        idempotency_key: str,
    ) -> Refund:
        """Refund `amount_cents` of the charge (all of what is left when None)."""
        ...

    async def list_charges(self) -> list[ChargeRecord]:
        """Every charge the gateway holds for this account, with what was refunded of it."""
        ...

    async def aclose(self) -> None:
        """Release connections; call once when the application stops."""
        ...


class CardDeclined(DomainError):
    """The issuer refused the charge: nothing was charged."""

    status, code, detail_text = 402, "card_declined", "The card was declined."

    def __init__(self, detail: str | None = None, *, decline_code: str | None = None) -> None:
        super().__init__(detail)
        # The gateway's reason (e.g. "insufficient_funds"), for logs and support, not clients:
        # some reasons (fraud suspicions) must not be told to the card holder.
        self.decline_code = decline_code


class GatewayUnavailable(DomainError):
    """The gateway could not be reached or failed; retrying later (same key) is safe."""

    status, code, detail_text = (
        503,
        "payment_gateway_unavailable",
        "The payment service is unavailable. Please try again later.",
    )


class GatewayTimeout(GatewayUnavailable):
    """The gateway did not answer in time: the charge may or may not have happened.

    Retrying with the same idempotency key tells which: the gateway answers the first
    outcome again instead of charging twice.
    """

    status, code, detail_text = (
        504,
        "payment_gateway_timeout",
        "The payment service did not answer in time, so the outcome is not known yet. "
        "Retrying with the same Idempotency-Key is safe: a payment is never taken twice.",
    )


class GatewayError(GatewayUnavailable):
    """The gateway refused our request (configuration or programming error on our side)."""

    status, code, detail_text = (
        502,
        "payment_gateway_unavailable",
        "The payment service refused the request. Please try again later.",
    )


class IdempotencyKeyReused(GatewayError):
    """An idempotency key came back with different parameters (amount, currency, card)."""


class UnknownCharge(GatewayError):
    """A refund named a charge the gateway does not know."""


class AlreadyRefunded(Conflict):
    """The charge has been refunded in full already."""

    code, detail_text = "already_refunded", "The payment has already been refunded."


def check_charge_arguments(amount_cents: int, currency: str, idempotency_key: str) -> None:
    """Reject the caller's programming errors before any money moves (`ValueError`)."""
    if amount_cents <= 0:
        raise ValueError("amount_cents must be positive; don't charge for free items")
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ValueError("currency must be a three-letter ISO 4217 code")
    if not idempotency_key:
        raise ValueError("an idempotency key is required")
