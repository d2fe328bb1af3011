"""Payment gateways: the sandbox's test cards, and the HTTP gateway against a fake Stripe."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import ValidationError

from techtribe.errors import DomainError
from techtribe.purchases.cards import CardIn
from techtribe.purchases.payments import (
    AlreadyRefunded,
    CardDeclined,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    HttpGateway,
    IdempotencyKeyReused,
    PaymentGateway,
    SandboxGateway,
    UnknownCharge,
    make_gateway,
)
from tests.conftest import make_settings
from tests.fake_stripe import SECRET_KEY as FAKE_KEY
from tests.fake_stripe import FakeStripeServer

SECRET_KEY = "sk_test_0123456789abcdef"
BASE_URL = "https://gateway.test"


def card(number: str = "4242424242424242", cvc: str = "123") -> CardIn:
    return CardIn(
        card_number=number,  # type: ignore[arg-type]
        exp_month=12,
        exp_year=datetime.now(UTC).year + 2,
        cvc=cvc,  # type: ignore[arg-type]
        holder_name="Ada Lovelace",
    )


def new_key() -> str:
    return str(uuid.uuid4())


async def pay(
    gateway: PaymentGateway,
    *,
    number: str = "4242424242424242",
    amount_cents: int = 4900,
    key: str | None = None,
    currency: str = "USD",
    cvc: str | None = None,
) -> Any:
    cvc = cvc or ("1234" if number.startswith(("34", "37")) else "123")
    return await gateway.charge(
        amount_cents=amount_cents,
        currency=currency,
        card=card(number, cvc=cvc),
        idempotency_key=key or new_key(),
        description="TechTribe purchase",
    )


def test_both_gateways_satisfy_the_protocol() -> None:
    gateways: list[PaymentGateway] = [
        SandboxGateway(),
        HttpGateway(base_url=BASE_URL, secret_key=SECRET_KEY),
    ]
    assert len(gateways) == 2


# --- Errors as problems ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (CardDeclined(), 402, "card_declined"),
        (GatewayUnavailable(), 503, "payment_gateway_unavailable"),
        (GatewayTimeout(), 504, "payment_gateway_timeout"),
        (GatewayError(), 502, "payment_gateway_unavailable"),
        (AlreadyRefunded(), 409, "already_refunded"),
    ],
)
def test_payment_failures_are_domain_errors_with_stable_codes(
    error: DomainError, status: int, code: str
) -> None:
    assert (error.status, error.code) == (status, code)
    assert error.detail


def test_a_timeout_is_a_kind_of_unavailability() -> None:
    assert isinstance(GatewayTimeout(), GatewayUnavailable)


# --- Sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
    ],
)
async def test_sandbox_pays_with_a_valid_card(number: str, brand: str) -> None:
    gateway = SandboxGateway()
    charge = await pay(gateway, number=number, amount_cents=2500, currency="eur")
    assert charge.id.startswith("ch_sandbox_")
    int(charge.id.removeprefix("ch_sandbox_"), 16)  # the rest is hex
    assert (charge.amount_cents, charge.currency) == (2500, "EUR")
    assert (charge.brand, charge.last4) == (brand, number[-4:])
    assert gateway.charges == [charge]
    assert gateway.charge_count == 1


@pytest.mark.parametrize("number", ["4000000000000002", "5105105105100002"])
async def test_sandbox_declines_numbers_ending_in_0002(number: str) -> None:
    gateway = SandboxGateway()
    with pytest.raises(CardDeclined) as caught:
        await pay(gateway, number=number)
    assert caught.value.status == 402
    assert gateway.charge_count == 0
    assert gateway.declines == 1


async def test_sandbox_replays_a_decline_for_the_same_key() -> None:
    gateway = SandboxGateway()
    key = new_key()
    for _ in range(2):
        with pytest.raises(CardDeclined):
            await pay(gateway, number="4000000000000002", key=key)
    assert gateway.declines == 1


async def test_sandbox_timeout_card_raises_gateway_timeout_every_time() -> None:
    gateway = SandboxGateway()
    key = new_key()
    for _ in range(2):
        with pytest.raises(GatewayTimeout):
            await pay(gateway, number="4000000000000119", key=key)
    assert gateway.charge_count == 0


async def test_sandbox_unavailable_card_raises_gateway_unavailable() -> None:
    gateway = SandboxGateway()
    with pytest.raises(GatewayUnavailable) as caught:
        await pay(gateway, number="4000000000000127")
    assert not isinstance(caught.value, GatewayTimeout)


async def test_sandbox_same_key_returns_the_same_charge_and_charges_once() -> None:
    gateway = SandboxGateway()
    key = new_key()
    first = await pay(gateway, key=key)
    again = await pay(gateway, key=key)
    assert again == first
    assert gateway.charge_count == 1


async def test_sandbox_different_keys_charge_twice() -> None:
    gateway = SandboxGateway()
    first, second = await pay(gateway), await pay(gateway)
    assert first.id != second.id
    assert gateway.charge_count == 2


async def test_sandbox_refuses_a_key_reused_for_another_amount() -> None:
    gateway = SandboxGateway()
    key = new_key()
    await pay(gateway, key=key, amount_cents=100)
    with pytest.raises(IdempotencyKeyReused):
        await pay(gateway, key=key, amount_cents=200)
    assert gateway.charge_count == 1


async def test_sandbox_concurrent_calls_with_one_key_charge_once() -> None:
    import asyncio

    gateway = SandboxGateway()
    key = new_key()
    charges = await asyncio.gather(*(pay(gateway, key=key) for _ in range(10)))
    assert len({charge.id for charge in charges}) == 1
    assert gateway.charge_count == 1


@pytest.mark.parametrize(
    ("amount", "currency", "key"), [(0, "USD", "k"), (-1, "USD", "k"), (100, "US", "k")]
)
async def test_sandbox_refuses_nonsense_arguments(amount: int, currency: str, key: str) -> None:
    gateway = SandboxGateway()
    with pytest.raises(ValueError, match=r"amount_cents|currency"):
        await pay(gateway, amount_cents=amount, currency=currency, key=key)


async def test_sandbox_refunds_the_whole_charge() -> None:
    gateway = SandboxGateway()
    charge = await pay(gateway, amount_cents=4900)
    refund = await gateway.refund(charge_id=charge.id, idempotency_key=new_key())
    assert refund.id.startswith("re_sandbox_")
    assert (refund.charge_id, refund.amount_cents) == (charge.id, 4900)
    assert gateway.refunds == [refund]


async def test_sandbox_refunding_twice_is_already_refunded() -> None:
    gateway = SandboxGateway()
    charge = await pay(gateway)
    await gateway.refund(charge_id=charge.id, idempotency_key=new_key())
    with pytest.raises(AlreadyRefunded) as caught:
        await gateway.refund(charge_id=charge.id, idempotency_key=new_key())
    assert (caught.value.status, caught.value.code) == (409, "already_refunded")
    assert len(gateway.refunds) == 1


async def test_sandbox_refund_with_the_same_key_is_answered_again_not_repeated() -> None:
    gateway = SandboxGateway()
    charge = await pay(gateway)
    key = new_key()
    first = await gateway.refund(charge_id=charge.id, idempotency_key=key)
    again = await gateway.refund(charge_id=charge.id, idempotency_key=key)
    assert again == first
    assert len(gateway.refunds) == 1


async def test_sandbox_partial_refunds_add_up_to_the_charge() -> None:
    gateway = SandboxGateway()
    charge = await pay(gateway, amount_cents=1000)
    await gateway.refund(charge_id=charge.id, amount_cents=300, idempotency_key=new_key())
    rest = await gateway.refund(charge_id=charge.id, idempotency_key=new_key())
    assert rest.amount_cents == 700
    with pytest.raises(AlreadyRefunded):
        await gateway.refund(charge_id=charge.id, amount_cents=1, idempotency_key=new_key())


async def test_sandbox_refund_above_what_is_left_is_refused() -> None:
    gateway = SandboxGateway()
    charge = await pay(gateway, amount_cents=1000)
    with pytest.raises(ValueError, match="refund amount"):
        await gateway.refund(charge_id=charge.id, amount_cents=1001, idempotency_key=new_key())


async def test_sandbox_refund_of_an_unknown_charge_raises() -> None:
    gateway = SandboxGateway()
    with pytest.raises(UnknownCharge):
        await gateway.refund(charge_id="ch_sandbox_nope", idempotency_key=new_key())
    assert gateway.refunds == []


async def test_app_sandbox_refunds_charges_made_by_another_process() -> None:
    # What make_gateway builds: a charge from another worker, or from before a restart.
    other_process, this_process = SandboxGateway(), SandboxGateway(strict_refunds=False)
    charge = await pay(other_process, amount_cents=1500)
    refund = await this_process.refund(
        charge_id=charge.id, amount_cents=1500, idempotency_key=new_key()
    )
    assert refund.amount_cents == 1500
    with pytest.raises(AlreadyRefunded):
        await this_process.refund(charge_id=charge.id, idempotency_key=new_key())
    with pytest.raises(UnknownCharge):  # without an amount, or not a sandbox charge
        await this_process.refund(charge_id="ch_sandbox_other", idempotency_key=new_key())
    with pytest.raises(UnknownCharge):
        await this_process.refund(charge_id="ch_real", amount_cents=1, idempotency_key=new_key())


# --- HTTP gateway against a fake Stripe ------------------------------------------------

Reply = httpx.Response | Exception


@dataclass
class FakeStripe:
    """A `MockTransport` handler: answers the queued replies in order, then succeeds."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply
        form = self.form(request)
        if request.url.path == "/v1/charges":
            return httpx.Response(
                200,
                json={
                    "id": "ch_3Nxyz",
                    "object": "charge",
                    "amount": int(form["amount"]),
                    "currency": form["currency"],
                    "status": "succeeded",
                    "paid": True,
                },
            )
        if request.url.path == "/v1/refunds":
            return httpx.Response(
                200,
                json={
                    "id": "re_3Nabc",
                    "object": "refund",
                    "charge": form["charge"],
                    "amount": int(form.get("amount", 4900)),
                    "status": "succeeded",
                },
            )
        return httpx.Response(404, json={"error": {"type": "invalid_request_error"}})

    @staticmethod
    def form(request: httpx.Request) -> dict[str, str]:
        return dict(parse_qsl(request.content.decode()))

    @property
    def keys(self) -> list[str | None]:
        return [request.headers.get("Idempotency-Key") for request in self.requests]


@dataclass
class Sleeps:
    """Records the backoff instead of waiting."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def http_gateway(
    stripe: Callable[[httpx.Request], httpx.Response],
    sleeps: Sleeps | None = None,
    **options: Any,
) -> HttpGateway:
    return HttpGateway(
        base_url=BASE_URL + "/",
        secret_key=SECRET_KEY,
        transport=httpx.MockTransport(stripe),
        sleep=sleeps or Sleeps(),
        **options,
    )


def declined(code: str = "card_declined", decline_code: str = "insufficient_funds") -> Reply:
    return httpx.Response(
        402,
        json={
            "error": {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": "Your card has insufficient funds.",
            }
        },
    )


async def test_http_charge_posts_the_form_with_bearer_key_and_idempotency_key() -> None:
    stripe = FakeStripe()
    gateway = http_gateway(stripe)
    key = new_key()
    await gateway.charge(
        amount_cents=4900,
        currency="USD",
        card=card("4242 4242 4242 4242", cvc="321"),
        idempotency_key=key,
        description="TechTribe purchase 42",
    )
    (request,) = stripe.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/v1/charges"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["Idempotency-Key"] == key
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = stripe.form(request)
    assert form == {
        "amount": "4900",
        "currency": "usd",
        "description": "TechTribe purchase 42",
        "card[number]": "4242424242424242",
        "card[exp_month]": "12",
        "card[exp_year]": str(datetime.now(UTC).year + 2),
        "card[cvc]": "321",
        "card[name]": "Ada Lovelace",
    }
    assert "4242" not in str(request.url)
    await gateway.aclose()


async def test_http_charge_success_maps_to_a_charge() -> None:
    gateway = http_gateway(FakeStripe())
    charge = await pay(gateway, number="378282246310005", amount_cents=1234, currency="mxn")
    assert charge.id == "ch_3Nxyz"
    assert (charge.amount_cents, charge.currency) == (1234, "MXN")
    assert (charge.brand, charge.last4) == ("amex", "0005")


async def test_http_402_decline_is_card_declined_without_retry() -> None:
    stripe, sleeps = FakeStripe([declined()]), Sleeps()
    gateway = http_gateway(stripe, sleeps)
    with pytest.raises(CardDeclined) as caught:
        await pay(gateway)
    assert caught.value.decline_code == "insufficient_funds"
    assert caught.value.detail == "The card was declined."  # the gateway's text is not passed on
    assert len(stripe.requests) == 1
    assert sleeps.delays == []


async def test_http_charge_answered_as_failed_is_card_declined() -> None:
    failed = httpx.Response(200, json={"id": "ch_1", "status": "failed", "paid": False})
    with pytest.raises(CardDeclined):
        await pay(http_gateway(FakeStripe([failed])))


async def test_http_500_then_200_is_retried_with_the_same_idempotency_key() -> None:
    stripe, sleeps = FakeStripe([httpx.Response(500, json={"error": {}})]), Sleeps()
    gateway = http_gateway(stripe, sleeps)
    key = new_key()
    charge = await pay(gateway, key=key)
    assert charge.id == "ch_3Nxyz"
    assert stripe.keys == [key, key]
    assert stripe.form(stripe.requests[0]) == stripe.form(stripe.requests[1])
    assert len(sleeps.delays) == 1


async def test_http_persistent_503_is_unavailable_after_exactly_max_attempts() -> None:
    stripe, sleeps = FakeStripe([httpx.Response(503)] * 10), Sleeps()
    gateway = http_gateway(stripe, sleeps, max_attempts=4)
    key = new_key()
    with pytest.raises(GatewayUnavailable) as caught:
        await pay(gateway, key=key)
    assert not isinstance(caught.value, GatewayTimeout)
    assert caught.value.status == 503
    assert stripe.keys == [key] * 4
    assert len(sleeps.delays) == 3


async def test_http_default_is_three_attempts_with_growing_backoff() -> None:
    stripe, sleeps = FakeStripe([httpx.Response(503)] * 10), Sleeps()
    gateway = http_gateway(stripe, sleeps, backoff_seconds=1.0)
    with pytest.raises(GatewayUnavailable):
        await pay(gateway)
    assert len(stripe.requests) == 3
    first, second = sleeps.delays
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


async def test_http_429_is_retried_after_retry_after_capped() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "60"})
    stripe, sleeps = FakeStripe([limited]), Sleeps()
    charge = await pay(http_gateway(stripe, sleeps, max_backoff_seconds=5.0))
    assert charge.id == "ch_3Nxyz"
    assert sleeps.delays == [5.0]


async def test_http_read_timeout_every_time_is_gateway_timeout() -> None:
    stripe = FakeStripe([httpx.ReadTimeout("timed out")] * 10)
    gateway = http_gateway(stripe)
    key = new_key()
    with pytest.raises(GatewayTimeout) as caught:
        await pay(gateway, key=key)
    assert (caught.value.status, caught.value.code) == (504, "payment_gateway_timeout")
    assert stripe.keys == [key] * 3


async def test_http_read_timeout_then_success_is_a_charge() -> None:
    stripe = FakeStripe([httpx.ReadTimeout("timed out")])
    charge = await pay(http_gateway(stripe))
    assert charge.id == "ch_3Nxyz"
    assert len(stripe.requests) == 2


async def test_http_connect_errors_every_time_are_unavailable_not_timeout() -> None:
    # A connection that never opened can't have charged anything.
    stripe = FakeStripe([httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")] * 2)
    with pytest.raises(GatewayUnavailable) as caught:
        await pay(http_gateway(stripe))
    assert not isinstance(caught.value, GatewayTimeout)
    assert len(stripe.requests) == 3


async def test_http_a_timeout_then_503s_is_still_a_timeout() -> None:
    # The first attempt may have charged; the 503s that follow don't say otherwise.
    stripe = FakeStripe([httpx.ReadTimeout("timed out"), httpx.Response(503), httpx.Response(503)])
    with pytest.raises(GatewayTimeout):
        await pay(http_gateway(stripe))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, {"type": "invalid_request_error", "code": "parameter_missing", "param": "amount"}),
        (401, {"type": "invalid_request_error", "message": "Invalid API Key provided"}),
        (403, {"type": "invalid_request_error"}),
        (404, {"type": "invalid_request_error", "code": "resource_missing"}),
    ],
)
async def test_http_other_4xx_is_a_gateway_error_without_retry(
    status: int, error: dict[str, str]
) -> None:
    stripe = FakeStripe([httpx.Response(status, json={"error": error})])
    with pytest.raises(GatewayError) as caught:
        await pay(http_gateway(stripe))
    assert caught.value.status == 502
    assert caught.value.detail == GatewayError.detail_text
    assert len(stripe.requests) == 1


async def test_http_idempotency_error_is_key_reused() -> None:
    reused = httpx.Response(400, json={"error": {"type": "idempotency_error"}})
    with pytest.raises(IdempotencyKeyReused):
        await pay(http_gateway(FakeStripe([reused])))


async def test_http_should_retry_header_wins_over_the_status() -> None:
    in_flight = httpx.Response(409, headers={"Stripe-Should-Retry": "true"})
    stripe = FakeStripe([in_flight, httpx.Response(500, headers={"Stripe-Should-Retry": "false"})])
    gateway = http_gateway(stripe)
    with pytest.raises(GatewayError):
        await pay(gateway)
    assert len(stripe.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"status": "succeeded"}),
    ],
)
async def test_http_malformed_success_is_a_gateway_error(reply: httpx.Response) -> None:
    with pytest.raises(GatewayError):
        await pay(http_gateway(FakeStripe([reply])))


async def test_http_refund_posts_charge_and_amount_with_the_key() -> None:
    stripe = FakeStripe()
    gateway = http_gateway(stripe)
    key = new_key()
    refund = await gateway.refund(charge_id="ch_3Nxyz", amount_cents=1500, idempotency_key=key)
    assert (refund.id, refund.charge_id, refund.amount_cents) == ("re_3Nabc", "ch_3Nxyz", 1500)
    (request,) = stripe.requests
    assert str(request.url) == f"{BASE_URL}/v1/refunds"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["Idempotency-Key"] == key
    assert stripe.form(request) == {"charge": "ch_3Nxyz", "amount": "1500"}


async def test_http_full_refund_sends_no_amount_and_reads_it_back() -> None:
    stripe = FakeStripe()
    refund = await http_gateway(stripe).refund(charge_id="ch_3Nxyz", idempotency_key=new_key())
    assert stripe.form(stripe.requests[0]) == {"charge": "ch_3Nxyz"}
    assert refund.amount_cents == 4900


async def test_http_refund_of_a_refunded_charge_is_already_refunded() -> None:
    twice = httpx.Response(
        400, json={"error": {"type": "invalid_request_error", "code": "charge_already_refunded"}}
    )
    with pytest.raises(AlreadyRefunded):
        await http_gateway(FakeStripe([twice])).refund(charge_id="ch_1", idempotency_key="k")


async def test_http_refund_of_an_unknown_charge_raises() -> None:
    missing = httpx.Response(
        404, json={"error": {"type": "invalid_request_error", "code": "resource_missing"}}
    )
    with pytest.raises(UnknownCharge):
        await http_gateway(FakeStripe([missing])).refund(charge_id="ch_x", idempotency_key="k")


async def test_http_refund_is_retried_with_the_same_key() -> None:
    stripe = FakeStripe([httpx.Response(502), httpx.ReadTimeout("slow")])
    key = new_key()
    await http_gateway(stripe).refund(charge_id="ch_3Nxyz", idempotency_key=key)
    assert stripe.keys == [key, key, key]


async def test_http_uses_an_injected_client_and_leaves_it_open() -> None:
    stripe = FakeStripe()
    async with httpx.AsyncClient(transport=httpx.MockTransport(stripe)) as client:
        gateway = HttpGateway(base_url=BASE_URL, secret_key=SECRET_KEY, client=client)
        await pay(gateway)
        await gateway.aclose()
        assert not client.is_closed
    assert len(stripe.requests) == 1


async def test_http_never_logs_or_raises_with_the_card_or_secret_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[Reply] = [
        httpx.Response(500, text="card 4242424242424242 cvc 739 broke us"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(400, json={"error": {"type": "invalid_request_error", "param": "card"}}),
    ]
    gateway = http_gateway(FakeStripe(failures))
    caught: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        try:
            await pay(gateway, key="key-1", cvc="739")
        except GatewayError as exc:
            caught.append(exc)
        try:
            await pay(http_gateway(FakeStripe([declined()])), cvc="739")
        except CardDeclined as exc:
            caught.append(exc)
    assert len(caught) == 2
    texts = [caplog.text, *(f"{exc!s} {exc!r} {exc.__cause__!r}" for exc in caught)]
    texts += [json.dumps(vars(exc), default=str) for exc in caught]
    for text in texts:
        assert "4242424242424242" not in text
        assert "739" not in text
        assert SECRET_KEY not in text
    assert "attempt 1/3 failed: HTTP 500" in caplog.text


def test_http_gateway_repr_does_not_show_the_secret_key() -> None:
    gateway = HttpGateway(base_url=BASE_URL, secret_key=SECRET_KEY)
    assert SECRET_KEY not in repr(vars(gateway))


# --- Choosing the gateway --------------------------------------------------------------


async def test_make_gateway_defaults_to_the_sandbox() -> None:
    gateway = make_gateway(make_settings())
    assert isinstance(gateway, SandboxGateway)
    await gateway.aclose()


async def test_make_gateway_builds_the_http_gateway_from_settings() -> None:
    settings = make_settings(
        payment_gateway="http",
        payment_gateway_url="https://pay.example/",
        payment_gateway_secret_key=SECRET_KEY,
        payment_gateway_max_retries=2,
    )
    assert settings.payment_gateway_url == "https://pay.example"
    assert SECRET_KEY not in repr(settings)
    down = httpx.Response(503, headers={"Retry-After": "0"})
    stripe = FakeStripe([down] * 5)
    gateway = make_gateway(settings, transport=httpx.MockTransport(stripe))
    assert isinstance(gateway, HttpGateway)
    with pytest.raises(GatewayUnavailable):
        await pay(gateway)
    assert [str(request.url) for request in stripe.requests] == [
        "https://pay.example/v1/charges"
    ] * 2
    assert stripe.requests[0].headers["Authorization"] == f"Bearer {SECRET_KEY}"
    await gateway.aclose()


@pytest.mark.parametrize("key", [None, "", "   "])
def test_http_gateway_without_a_secret_key_is_a_clear_settings_error(key: str | None) -> None:
    overrides: dict[str, object] = {"payment_gateway": "http"}
    if key is not None:
        overrides["payment_gateway_secret_key"] = key
    with pytest.raises(ValidationError, match="PAYMENT_GATEWAY_SECRET_KEY"):
        make_settings(**overrides)


def test_payment_settings_have_documented_defaults() -> None:
    settings = make_settings()
    assert settings.payment_gateway == "sandbox"
    assert settings.payment_gateway_url == "https://api.stripe.com"
    assert settings.payment_gateway_secret_key is None
    assert settings.payment_gateway_timeout_seconds == 10
    assert settings.payment_gateway_max_retries == 3
    assert settings.platform_fee_percent == 30


@pytest.mark.parametrize(
    "overrides",
    [
        {"platform_fee_percent": 101},
        {"platform_fee_percent": -1},
        {"payment_gateway_max_retries": 0},
        {"payment_gateway_timeout_seconds": 0},
    ],
)
def test_payment_settings_out_of_range_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make_settings(**overrides)


# --- Listing charges (reconciliation) ----------------------------------------------------


async def test_http_list_charges_walks_every_page_with_refunds() -> None:
    stripe = FakeStripeServer()
    gateway = HttpGateway(base_url=BASE_URL, secret_key=FAKE_KEY, transport=stripe.transport())
    charges = [await pay(gateway, amount_cents=100 + n) for n in range(205)]
    await gateway.refund(charge_id=charges[7].id, amount_cents=40, idempotency_key=new_key())
    await gateway.refund(charge_id=charges[200].id, idempotency_key=new_key())

    listed = await gateway.list_charges()

    pages = [r for r in stripe.requests if r.method == "GET"]
    assert len(pages) == 3
    assert pages[1].url.params["starting_after"] == listed[99].id
    assert sorted(record.id for record in listed) == sorted(charge.id for charge in charges)
    by_id = {record.id: record for record in listed}
    assert (by_id[charges[7].id].refunded_cents, by_id[charges[7].id].live_cents) == (40, 67)
    assert by_id[charges[200].id].live_cents == 0
    assert by_id[charges[0].id].currency == "USD"


async def test_http_list_charges_of_a_malformed_answer_is_a_gateway_error() -> None:
    stripe = FakeStripe([httpx.Response(200, json={"data": [{"id": 5}]})])
    with pytest.raises(GatewayError):
        await http_gateway(stripe).list_charges()


async def test_sandbox_lists_its_charges_with_what_was_refunded() -> None:
    gateway = SandboxGateway()
    kept, voided = await pay(gateway, amount_cents=500), await pay(gateway, amount_cents=700)
    await gateway.refund(charge_id=voided.id, idempotency_key=new_key())

    listed = {record.id: record.live_cents for record in await gateway.list_charges()}

    assert listed == {kept.id: 500, voided.id: 0}
