"""The payment gateway of this process, for routes that move money."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from techtribe.purchases.payments import PaymentGateway


async def get_gateway(request: Request) -> PaymentGateway:
    # async: FastAPI runs a plain `def` dependency in the thread pool, on every request.
    gateway: PaymentGateway = request.app.state.payment_gateway
    return gateway


GatewayDep = Annotated[PaymentGateway, Depends(get_gateway)]
