"""A real gateway over HTTP, speaking a Stripe-like REST API (`/v1/charges`, `/v1/refunds`).

Reconciliation lists charges with `GET /v1/charges` (pages of 100, `starting_after`).

Requests are form-encoded with `Authorization: Bearer <secret key>` and the caller's
`Idempotency-Key`. Connection failures, timeouts, 429 and 5xx are retried a bounded number
of times with exponential backoff; that is safe because every attempt carries the same
Idempotency-Key, so the gateway runs the operation at most once. Card numbers and CVCs go
into the request body only: never into logs, exception messages or URLs.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import SecretStr

from techtribe.purchases.cards import CardIn
from techtribe.purchases.payments.base import (
    AlreadyRefunded,
    CardDeclined,
    Charge,
    ChargeRecord,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyKeyReused,
    Refund,
    UnknownCharge,
    check_charge_arguments,
)

log = logging.getLogger("techtribe.payments")

# Failures where the request never reached the gateway: nothing can have happened.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# Answers after which the operation may or may not have run (Stripe: "indeterminate").
_INDETERMINATE_STATUSES = frozenset({500, 502, 504})


class HttpGateway:
    """A `PaymentGateway` calling a Stripe-compatible API with `httpx`."""

    def __init__(
        self,
        *,
        base_url: str,
        secret_key: SecretStr | str,
        timeout_seconds: float = 10.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 8.0,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._secret_key = (
            secret_key if isinstance(secret_key, SecretStr) else SecretStr(secret_key)
        )
        self._timeout = httpx.Timeout(timeout_seconds)
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._sleep = sleep
        # A client passed in belongs to the caller, who closes it; ours we close in aclose().
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport, timeout=self._timeout)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

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
        form = {
            "amount": str(amount_cents),
            "currency": currency.lower(),
            "description": description,
            "card[number]": card.reveal_number(),
            "card[exp_month]": str(card.exp_month),
            "card[exp_year]": str(card.exp_year),
            "card[cvc]": card.reveal_cvc(),
            "card[name]": card.holder_name,
        }
        body = await self._post("/v1/charges", form, idempotency_key, operation="charge")
        charge_id = body.get("id")
        if not isinstance(charge_id, str) or not charge_id:
            log.error("payment gateway charge answer has no id (key %s)", idempotency_key)
            raise GatewayError()
        if body.get("status") == "failed" or body.get("paid") is False:
            raise CardDeclined(decline_code=_str_or_none(body.get("failure_code")))
        return Charge(
            id=charge_id,
            amount_cents=amount_cents,
            currency=currency.upper(),
            brand=card.brand,
            last4=card.last4,
        )

    async def refund(
        self,
        *,
        charge_id: str,
        amount_cents: int | None = None,
        idempotency_key: str,
    ) -> Refund:
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        if amount_cents is not None and amount_cents <= 0:
            raise ValueError("a refund's amount_cents must be positive")
        form = {"charge": charge_id}
        if amount_cents is not None:
            form["amount"] = str(amount_cents)
        body = await self._post("/v1/refunds", form, idempotency_key, operation="refund")
        refund_id, amount = body.get("id"), body.get("amount", amount_cents)
        if not isinstance(refund_id, str) or not refund_id or not isinstance(amount, int):
            log.error("payment gateway refund answer is malformed (key %s)", idempotency_key)
            raise GatewayError()
        return Refund(id=refund_id, charge_id=charge_id, amount_cents=amount)

    async def list_charges(self) -> list[ChargeRecord]:
        records: list[ChargeRecord] = []
        params: dict[str, str] = {"limit": str(_PAGE_SIZE)}
        while True:
            page = await self._get("/v1/charges", params)
            data = page.get("data")
            if not isinstance(data, list):
                log.error("payment gateway charge list has no data")
                raise GatewayError()
            records += [_charge_record(item) for item in data]
            if not page.get("has_more") or not data:
                return records
            params["starting_after"] = records[-1].id

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """GET with the same retries as a POST (reads are safe to repeat)."""
        headers = {
            "Authorization": f"Bearer {self._secret_key.get_secret_value()}",
            "Accept": "application/json",
        }
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                await self._sleep(self._delay(attempt, None))
            try:
                response = await self._client.get(
                    self._base_url + path, params=params, headers=headers, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            else:
                if response.is_success:
                    return _json_object(response, "list", "-")
                if not _should_retry(response):
                    raise _failure(response, "list", "-")
                reason = f"HTTP {response.status_code}"
            log.warning(
                "payment gateway list attempt %d/%d failed: %s", attempt, self._max_attempts, reason
            )
        raise GatewayUnavailable()

    async def _post(
        self, path: str, form: dict[str, str], idempotency_key: str, *, operation: str
    ) -> dict[str, Any]:
        """POST with retries; the JSON body of a 2xx answer, or the mapped failure."""
        headers = {
            "Authorization": f"Bearer {self._secret_key.get_secret_value()}",
            "Idempotency-Key": idempotency_key,
            "Accept": "application/json",
        }
        url = self._base_url + path
        indeterminate = False
        retry_after: float | None = None
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                await self._sleep(self._delay(attempt, retry_after))
            retry_after = None
            try:
                response = await self._client.post(
                    url, data=form, headers=headers, timeout=self._timeout
                )
            except _NOT_SENT as exc:
                reason = type(exc).__name__
            except httpx.TransportError as exc:
                # The request may have reached the gateway (e.g. ReadTimeout).
                indeterminate = True
                reason = type(exc).__name__
            else:
                if response.is_success:
                    return _json_object(response, operation, idempotency_key)
                if not _should_retry(response):
                    raise _failure(response, operation, idempotency_key)
                indeterminate = indeterminate or response.status_code in _INDETERMINATE_STATUSES
                retry_after = _retry_after(response)
                reason = f"HTTP {response.status_code}"
            log.warning(
                "payment gateway %s attempt %d/%d failed: %s (key %s)",
                operation,
                attempt,
                self._max_attempts,
                reason,
                idempotency_key,
            )
        # From None on purpose: the httpx exceptions hold the request, card fields included.
        if indeterminate:
            raise GatewayTimeout()
        raise GatewayUnavailable()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, or the gateway's Retry-After, both capped."""
        if retry_after is not None:
            return min(retry_after, self._max_backoff_seconds)
        delay = min(self._backoff_seconds * 2.0 ** (attempt - 2), self._max_backoff_seconds)
        return delay * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not a secret)


_PAGE_SIZE = 100


def _charge_record(item: object) -> ChargeRecord:
    """A listed charge; a malformed one is the gateway's error, not a silent skip."""
    if not isinstance(item, dict):
        raise GatewayError()
    charge_id, amount = item.get("id"), item.get("amount")
    refunded, currency = item.get("amount_refunded", 0), item.get("currency", "")
    if not isinstance(charge_id, str) or not isinstance(amount, int):
        log.error("payment gateway listed a malformed charge")
        raise GatewayError()
    if not isinstance(refunded, int) or not isinstance(currency, str):
        raise GatewayError()
    return ChargeRecord(
        id=charge_id,
        amount_cents=amount,
        currency=currency.upper(),
        refunded_cents=refunded,
        succeeded=item.get("status", "succeeded") == "succeeded" and item.get("paid", True) is True,
    )


def _should_retry(response: httpx.Response) -> bool:
    # Stripe says explicitly when a retry helps (e.g. a 409 for a key still in flight).
    hint: str | None = response.headers.get("Stripe-Should-Retry")
    if hint is not None:
        return hint.lower() == "true"
    return response.status_code == 429 or response.status_code >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _json_object(response: httpx.Response, operation: str, key: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.error(
            "payment gateway %s answered %d without a JSON object (key %s)",
            operation,
            response.status_code,
            key,
        )
        raise GatewayError()
    return body


def _failure(response: httpx.Response, operation: str, key: str) -> Exception:
    """The domain error for a final non-2xx answer; logs only what is safe to log."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    kind, code = _str_or_none(error.get("type")), _str_or_none(error.get("code"))
    status = response.status_code
    if status == 402 or kind == "card_error":
        decline_code = _str_or_none(error.get("decline_code")) or code
        log.info("payment gateway declined the card: %s (key %s)", decline_code, key)
        return CardDeclined(decline_code=decline_code)
    log.error(
        "payment gateway %s refused: HTTP %d, type %s, code %s, param %s (key %s)",
        operation,
        status,
        kind,
        code,
        _str_or_none(error.get("param")),
        key,
    )
    if kind == "idempotency_error":
        return IdempotencyKeyReused()
    if code == "charge_already_refunded":
        return AlreadyRefunded()
    if operation == "refund" and (code == "resource_missing" or status == 404):
        return UnknownCharge()
    return GatewayError()


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
