"""The payment gateway of this process, for routes that move money."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from techtribe.purchases.payments import PaymentGateway
from techtribe.purchases.payments.metered import MeteredGateway


async def get_gateway(request: Request) -> PaymentGateway:
    # async: FastAPI runs a plain `def` dependency in the thread pool, on every request.
    # Read at each request (tests swap it), wrapped to time each call for /metrics.
    return MeteredGateway(request.app.state.payment_gateway)


GatewayDep = Annotated[PaymentGateway, Depends(get_gateway)]
