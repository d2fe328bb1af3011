"""Cursors signed with a test app's own key: to prove the server refuses bad values even
when their MAC is right (defence in depth behind the signature)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from techtribe.pagination import Ordering, derive_key, signing_key


def app_of(client: httpx.AsyncClient) -> FastAPI:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


def signed_cursor(client: httpx.AsyncClient, ordering: Ordering, values: list[Any]) -> str:
    """A cursor of `ordering` holding `values` verbatim, signed as the client's server signs."""
    secret = app_of(client).state.settings.jwt_secret.get_secret_value()
    with signing_key(derive_key(secret)):
        return ordering.sign(values)
