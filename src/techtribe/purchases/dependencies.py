"""The payment gateway of this process, for routes that move money (and advisories' refunds)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, Request

from techtribe.advisories.service import RefundBookings
from techtribe.purchases.payments import PaymentGateway
from techtribe.purchases.payments.metered import MeteredGateway
from techtribe.purchases.refunds import refund_bookings


async def get_gateway(request: Request) -> PaymentGateway:
    # async: FastAPI runs a plain `def` dependency in the thread pool, on every request.
    # Read at each request (tests swap it), wrapped to time each call for /metrics.
    return MeteredGateway(request.app.state.payment_gateway)


GatewayDep = Annotated[PaymentGateway, Depends(get_gateway)]


async def cancellation_refunds(request: Request) -> RefundBookings:
    """Refunds of a cancelled advisory slot's seats, through this request's gateway (the app
    hands this to advisories, which sit below purchases and can't import them)."""
    return partial(refund_bookings, gateway=await get_gateway(request))
