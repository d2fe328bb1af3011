"""A stateful fake of the Stripe-like API `HttpGateway` speaks, for `httpx.MockTransport`.

It keeps charges and refunds, honours idempotency keys the way Stripe does (same key and
same parameters: the first answer again; other parameters: `idempotency_error`), and lists
and reads charges, so checkout, refunds and `techtribe reconcile` can run against it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

SECRET_KEY = "sk_test_fake_0123456789"


@dataclass
class FakeStripeServer:
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    _keys: dict[str, tuple[tuple[tuple[str, str], ...], int, dict[str, Any]]] = field(
        default_factory=dict
    )
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def live(self) -> dict[str, int]:
        """Charge id -> what is still charged, for every charge not fully refunded."""
        return {
            charge_id: charge["amount"] - charge["amount_refunded"]
            for charge_id, charge in self.charges.items()
            if charge["amount"] > charge["amount_refunded"]
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return _error(401, "invalid_request_error", "api_key_invalid")
        path = request.url.path
        if request.method == "GET" and path == "/v1/charges":
            return self._list(request)
        if request.method == "GET" and path.startswith("/v1/charges/"):
            charge = self.charges.get(path.removeprefix("/v1/charges/"))
            if charge is None:
                return _error(404, "invalid_request_error", "resource_missing")
            return httpx.Response(200, json=charge)
        if request.method != "POST" or path not in ("/v1/charges", "/v1/refunds"):
            return _error(404, "invalid_request_error", "resource_missing")
        form = dict(parse_qsl(request.content.decode()))
        key = request.headers.get("Idempotency-Key", "")
        params = tuple(sorted((name, value) for name, value in form.items()))
        if key in self._keys:
            first_params, status, body = self._keys[key]
            if first_params != params:
                return _error(400, "idempotency_error", "idempotency_key_in_use")
            return httpx.Response(status, json=body, headers={"Idempotent-Replayed": "true"})
        if path == "/v1/charges":
            status, body = self._charge(form)
        else:
            status, body = self._refund(form)
        if status < 500:
            self._keys[key] = (params, status, body)
        return httpx.Response(status, json=body)

    def _charge(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form["card[number]"].endswith("0002"):
            return 402, _error_body("card_error", "card_declined", decline_code="generic_decline")
        charge = {
            "id": f"ch_fake_{next(self._ids):06d}",
            "object": "charge",
            "amount": int(form["amount"]),
            "amount_refunded": 0,
            "refunded": False,
            "currency": form["currency"],
            "description": form.get("description", ""),
            "status": "succeeded",
            "paid": True,
        }
        self.charges[charge["id"]] = charge
        return 200, charge

    def _refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        charge = self.charges.get(form["charge"])
        if charge is None:
            return 404, _error_body("invalid_request_error", "resource_missing")
        left = charge["amount"] - charge["amount_refunded"]
        if left <= 0:
            return 400, _error_body("invalid_request_error", "charge_already_refunded")
        amount = int(form.get("amount", left))
        if not 0 < amount <= left:
            return 400, _error_body("invalid_request_error", "amount_too_large")
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund = {
            "id": f"re_fake_{next(self._ids):06d}",
            "object": "refund",
            "charge": charge["id"],
            "amount": amount,
            "status": "succeeded",
        }
        self.refunds.append(refund)
        return 200, refund

    def _list(self, request: httpx.Request) -> httpx.Response:
        # Newest first, like Stripe; `starting_after` is the last id of the previous page.
        limit = int(request.url.params.get("limit", "10"))
        newest_first = list(reversed(self.charges.values()))
        after = request.url.params.get("starting_after")
        if after is not None:
            ids = [charge["id"] for charge in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :]
        page = newest_first[:limit]
        body = {
            "object": "list",
            "data": page,
            "has_more": len(newest_first) > limit,
            "url": "/v1/charges",
        }
        return httpx.Response(200, json=body)


def _error_body(kind: str, code: str, **extra: str) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": code.replace("_", " "), **extra}}


def _error(status: int, kind: str, code: str) -> httpx.Response:
    return httpx.Response(status, json=_error_body(kind, code))
