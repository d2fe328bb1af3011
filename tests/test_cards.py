"""The card of a purchase: checked like a checkout form would, never shown once accepted."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from techtribe.errors import install_error_handlers
from techtribe.purchases.cards import CardIn, card_brand, card_expired, luhn_ok

VISA = "4242424242424242"
AMEX = "378282246310005"


def card_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "card_number": VISA,
        "exp_month": 12,
        "exp_year": datetime.now(UTC).year + 3,
        "cvc": "123",
        "holder_name": "Ada Lovelace",
    }
    data.update(overrides)
    return data


def errors_of(data: dict[str, Any], **validate: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        CardIn.model_validate(data, **validate)
    return [
        {"loc": err["loc"], "msg": err["msg"], "type": err["type"]} for err in caught.value.errors()
    ]


def error_locs(data: dict[str, Any], **validate: Any) -> set[str]:
    return {".".join(str(part) for part in err["loc"]) for err in errors_of(data, **validate)}


# --- Luhn and brands -------------------------------------------------------------------


@pytest.mark.parametrize(
    "digits",
    [
        VISA,
        "4000000000000002",
        "5555555555554444",
        "2223003122003222",
        AMEX,
        "6011111111111117",
        "79927398713",
        "0",
    ],
)
def test_luhn_accepts_valid_numbers(digits: str) -> None:
    assert luhn_ok(digits)


@pytest.mark.parametrize(
    "digits",
    ["4242424242424241", "4242424242424243", "79927398710", "", "4242 4242 4242 4242", "42a2"],
)
def test_luhn_rejects_wrong_checksums_and_non_digits(digits: str) -> None:
    assert not luhn_ok(digits)


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        ("4242424242424242", "visa"),
        ("4000000000000002", "visa"),
        ("5105105105105100", "mastercard"),
        ("5555555555554444", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("378282246310005", "amex"),
        ("341111111111111", "amex"),
        ("6011111111111117", "discover"),
        ("6500000000000002", "discover"),
        ("6440000000000000", "discover"),
        ("6490000000000000", "discover"),
        ("5000000000000000", "unknown"),
        ("5600000000000000", "unknown"),
        ("2220990000000000", "unknown"),
        ("2721000000000000", "unknown"),
        ("6430000000000000", "unknown"),
        ("3530111333300000", "unknown"),
        ("", "unknown"),
    ],
)
def test_brand_is_told_by_the_prefix(digits: str, brand: str) -> None:
    assert card_brand(digits) == brand


def test_card_knows_its_brand_and_last_four_digits() -> None:
    card = CardIn.model_validate(card_data(card_number=AMEX, cvc="1234"))
    assert (card.brand, card.last4) == ("amex", "0005")


# --- The number ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["4242 4242 4242 4242", "4242-4242-4242-4242", " 4242 4242-4242 4242 "]
)
def test_spaces_and_dashes_in_the_number_are_dropped(typed: str) -> None:
    card = CardIn.model_validate(card_data(card_number=typed))
    assert card.reveal_number() == VISA


def test_number_failing_luhn_is_rejected() -> None:
    errors = errors_of(card_data(card_number="4242424242424241"))
    assert [(err["loc"], err["type"]) for err in errors] == [
        (("card_number",), "card_number_checksum")
    ]


@pytest.mark.parametrize(
    ("number", "accepted"),
    [
        ("000000000000", True),
        ("00000000000", False),  # 11 digits
        ("0" * 19, True),
        ("0" * 20, False),
    ],
)
def test_number_has_12_to_19_digits(number: str, accepted: bool) -> None:
    if accepted:
        CardIn.model_validate(card_data(card_number=number))
    else:
        assert error_locs(card_data(card_number=number)) == {"card_number"}


def test_length_is_checked_before_the_checksum() -> None:
    short = errors_of(card_data(card_number="0" * 11))
    assert short[0]["type"] == "card_number_format"


@pytest.mark.parametrize(
    "number", ["4242x42424242424", "4242.4242.4242.4242", "", "   ", "٤٢٤٢٤٢٤٢٤٢٤٢"]
)
def test_number_with_other_characters_is_rejected(number: str) -> None:
    assert error_locs(card_data(card_number=number)) == {"card_number"}


def test_number_must_be_a_string() -> None:
    assert error_locs(card_data(card_number=4242424242424242)) == {"card_number"}


# --- Expiry ----------------------------------------------------------------------------


def test_card_expiring_this_month_is_accepted() -> None:
    now = datetime.now(UTC)
    CardIn.model_validate(card_data(exp_month=now.month, exp_year=now.year))


def test_card_that_expired_last_month_is_rejected() -> None:
    now = datetime.now(UTC)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    errors = errors_of(card_data(exp_month=month, exp_year=year))
    assert [(err["loc"], err["type"]) for err in errors] == [(("exp_year",), "card_expired")]


def test_card_is_good_through_the_last_instant_of_its_month_in_utc() -> None:
    data = card_data(exp_month=12, exp_year=2026)
    last_instant = datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    CardIn.model_validate(data, context={"now": last_instant})
    next_instant = datetime(2027, 1, 1, tzinfo=UTC)
    assert error_locs(data, context={"now": next_instant}) == {"exp_year"}


def test_expiry_uses_utc_whatever_the_clock_zone() -> None:
    from datetime import timedelta, timezone

    # 20:00 on Dec 31 in UTC-5 is already January 1 in UTC.
    new_year_in_utc = datetime(2026, 12, 31, 20, tzinfo=timezone(timedelta(hours=-5)))
    assert card_expired(12, 2026, new_year_in_utc)
    assert not card_expired(1, 2027, new_year_in_utc)


@pytest.mark.parametrize("month", [0, 13, -1])
def test_exp_month_is_1_to_12(month: int) -> None:
    assert error_locs(card_data(exp_month=month)) == {"exp_month"}


@pytest.mark.parametrize("year", [30, 999, 10000])
def test_exp_year_has_four_digits(year: int) -> None:
    errors = errors_of(card_data(exp_year=year))
    assert [(err["loc"], err["type"]) for err in errors] == [(("exp_year",), "card_exp_year")]


# --- CVC -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "cvc", "accepted"),
    [
        (VISA, "123", True),
        (VISA, "1234", False),
        ("5555555555554444", "1234", False),
        ("6011111111111117", "999", True),
        (AMEX, "1234", True),
        (AMEX, "123", False),
    ],
)
def test_cvc_has_4_digits_for_amex_and_3_for_others(number: str, cvc: str, accepted: bool) -> None:
    data = card_data(card_number=number, cvc=cvc)
    if accepted:
        assert CardIn.model_validate(data).reveal_cvc() == cvc
    else:
        assert error_locs(data) == {"cvc"}


@pytest.mark.parametrize("cvc", ["12", "12345", "12a", "", "1 3"])
def test_cvc_is_3_or_4_digits(cvc: str) -> None:
    assert error_locs(card_data(cvc=cvc)) == {"cvc"}


def test_bad_cvc_is_reported_even_when_the_number_is_bad_too() -> None:
    assert error_locs(card_data(card_number="4242424242424241", cvc="1")) == {
        "card_number",
        "cvc",
    }


# --- Holder name -----------------------------------------------------------------------


def test_holder_name_is_stripped() -> None:
    assert CardIn.model_validate(card_data(holder_name="  Ada Lovelace \n")).holder_name == (
        "Ada Lovelace"
    )


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_holder_name_is_not_blank_and_at_most_100_characters(name: str) -> None:
    assert error_locs(card_data(holder_name=name)) == {"holder_name"}


def test_holder_name_of_100_characters_is_accepted() -> None:
    CardIn.model_validate(card_data(holder_name="x" * 100))


# --- Secrecy ---------------------------------------------------------------------------


def test_card_number_and_cvc_never_show_in_repr_str_or_dumps() -> None:
    card = CardIn.model_validate(card_data(card_number="4242 4242 4242 4242", cvc="987"))
    shown = [
        repr(card),
        str(card),
        str(card.model_dump()),
        card.model_dump_json(),
        repr(card.card_number),
        str(card.cvc),
        f"{card}",
    ]
    for text in shown:
        assert "4242424242424242" not in text
        assert "4242 4242" not in text
        assert "987" not in text
    assert card.model_dump(mode="json")["card_number"] == "**********"


def test_logging_a_card_does_not_leak_it(caplog: pytest.LogCaptureFixture) -> None:
    card = CardIn.model_validate(card_data(cvc="987"))
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("card %s / %r", card, card)
    assert VISA not in caplog.text
    assert "987" not in caplog.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"card_number": "4242424242424241", "cvc": "98765"},  # bad checksum, bad CVC
        {"card_number": "4242-4242-4242-42", "cvc": "9x7"},  # too short
        {"card_number": "4242424242424242424242", "cvc": "987654"},  # too long
        {"card_number": "4242424242x24242", "cvc": "98765"},
        {"card_number": "4242424242424242", "cvc": "9876"},  # 4 digits on a visa
        {"card_number": "378282246310005", "cvc": "987"},  # 3 digits on an amex
    ],
)
def test_validation_errors_never_contain_the_number_or_cvc(overrides: dict[str, str]) -> None:
    data = card_data(**overrides)
    with pytest.raises(ValidationError) as caught:
        CardIn.model_validate(data)
    secrets = [overrides["card_number"], overrides["cvc"], overrides["card_number"][-8:]]
    texts = [str(caught.value), repr(caught.value)]
    texts += [err["msg"] for err in caught.value.errors()]
    texts += [str(err.get("ctx", "")) for err in caught.value.errors()]
    for text in texts:
        for secret in secrets:
            assert secret not in text, text


class PurchaseBody(BaseModel):
    """How the checkout's request body will hold the card."""

    payment: CardIn


@pytest.mark.parametrize(
    ("number", "cvc"), [("4242424242424241", "987"), (4242424242424241, 987), (VISA, "98765")]
)
def test_errors_inside_a_request_body_keep_their_location_and_hide_the_input(
    number: object, cvc: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        PurchaseBody.model_validate({"payment": card_data(card_number=number, cvc=cvc)})
    assert caught.value.errors()[0]["loc"][0] == "payment"
    # What FastAPI would build its RequestValidationError from, and how that one prints.
    request_error = RequestValidationError(caught.value.errors())
    for text in (str(caught.value), str(caught.value.errors()), str(request_error)):
        assert str(number) not in text
        assert str(cvc) not in text


def test_card_is_immutable() -> None:
    card = CardIn.model_validate(card_data())
    with pytest.raises(ValidationError):
        card.exp_month = 1  # type: ignore[misc]


def app_taking_a_card() -> FastAPI:
    """A stand-in for the checkout route: only the body parsing and the error handlers."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/pay")
    async def pay(body: PurchaseBody) -> dict[str, str]:
        return {"brand": body.payment.brand, "last4": body.payment.last4}

    return app


async def test_422_problem_for_a_bad_card_names_the_field_but_not_the_number() -> None:
    transport = httpx.ASGITransport(app=app_taking_a_card())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        bad = card_data(card_number="4242 4242 4242 4241", cvc="98765")
        response = await http.post("/pay", json={"payment": bad})
        good = await http.post("/pay", json={"payment": card_data(cvc="987")})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert {tuple(err["loc"]) for err in problem["errors"]} == {
        ("body", "payment", "card_number"),
        ("body", "payment", "cvc"),
    }
    for text in (response.text, good.text):
        assert "4241" not in text
        assert "4242 4242" not in text
        assert "9876" not in text
        assert "987" not in text
    assert good.json() == {"brand": "visa", "last4": "4242"}
