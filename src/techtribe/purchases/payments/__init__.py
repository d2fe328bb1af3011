"""Payments: the gateway protocol, the built-in sandbox and the HTTP gateway, and the factory."""

from __future__ import annotations

import httpx

from techtribe.config import Settings
from techtribe.purchases.payments.base import (
    AlreadyRefunded,
    CardDeclined,
    Charge,
    ChargeRecord,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyKeyReused,
    PaymentGateway,
    Refund,
    UnknownCharge,
)
from techtribe.purchases.payments.http import HttpGateway
from techtribe.purchases.payments.sandbox import SandboxGateway

__all__ = [
    "AlreadyRefunded",
    "CardDeclined",
    "Charge",
    "ChargeRecord",
    "GatewayError",
    "GatewayTimeout",
    "GatewayUnavailable",
    "HttpGateway",
    "IdempotencyKeyReused",
    "PaymentGateway",
    "Refund",
    "SandboxGateway",
    "UnknownCharge",
    "make_gateway",
]


def make_gateway(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> PaymentGateway:
    """The gateway `PAYMENT_GATEWAY` names; make one per process and `aclose()` it at exit.

    `transport` replaces the network under the http gateway (tests: `httpx.MockTransport`).

    The sandbox accepts refunds (with an amount) of sandbox charges it did not see, which
    another worker process or the process before a restart made.
    """
    if settings.payment_gateway == "http":
        # Settings refuses PAYMENT_GATEWAY=http without a key; this guards direct callers.
        if settings.payment_gateway_secret_key is None:
            raise ValueError("PAYMENT_GATEWAY=http needs PAYMENT_GATEWAY_SECRET_KEY")
        return HttpGateway(
            base_url=settings.payment_gateway_url,
            secret_key=settings.payment_gateway_secret_key,
            timeout_seconds=settings.payment_gateway_timeout_seconds,
            max_attempts=settings.payment_gateway_max_retries,
            transport=transport,
        )
    return SandboxGateway(strict_refunds=False)
