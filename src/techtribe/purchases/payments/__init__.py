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
from techtribe.purchases.payments.sandbox_ledger import DatabaseLedger, ledger_engine

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
    "sandbox_gateway",
]


def make_gateway(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> PaymentGateway:
    """The gateway `PAYMENT_GATEWAY` names; make one per process and `aclose()` it at exit.

    `transport` replaces the network under the http gateway (tests: `httpx.MockTransport`).

    On PostgreSQL the sandbox keeps its ledger in the database (shared by every process,
    read by `techtribe reconcile`); on SQLite in this process's memory (a purchase holds
    SQLite's one write lock while it charges). It accepts refunds (with an amount) of
    sandbox charges it has no record of, which a process before a restart made.
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
    return sandbox_gateway(settings)


def sandbox_gateway(settings: Settings) -> SandboxGateway:
    """The service's sandbox (see `make_gateway`), whatever `PAYMENT_GATEWAY` says."""
    ledger = None if settings.is_sqlite else DatabaseLedger(ledger_engine(settings))
    return SandboxGateway(strict_refunds=False, ledger=ledger)
