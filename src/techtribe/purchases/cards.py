"""The card of a purchase: validated at the edge, kept secret, revealed only to the gateway.

Card numbers and CVCs are `SecretStr`, so reprs, logs and `model_dump()` show asterisks.
Validation messages are fixed texts that never quote the input (the 422 problem is built
from `loc` and `msg`), and the input errors carry is the masked `SecretStr`, not the digits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from techtribe.inputs import RequestBody

MIN_DIGITS = 12
MAX_DIGITS = 19

_SEPARATORS = re.compile(r"[\s-]")
_DIGITS = re.compile(r"[0-9]+")


def luhn_ok(digits: str) -> bool:
    """True when `digits` (ASCII digits only) passes the Luhn checksum."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str:
    """The brand told by the number's prefix: visa, mastercard, amex, discover or unknown."""
    if digits.startswith("4"):
        return "visa"
    if _prefix_between(digits, 51, 55) or _prefix_between(digits, 2221, 2720):
        return "mastercard"
    if digits.startswith(("34", "37")):
        return "amex"
    if digits.startswith(("6011", "65")) or _prefix_between(digits, 644, 649):
        return "discover"
    return "unknown"


def _prefix_between(digits: str, low: int, high: int) -> bool:
    """Whether the number starts with a prefix in low..high (bounds of equal length)."""
    prefix = digits[: len(str(low))]
    return len(prefix) == len(str(low)) and prefix.isdigit() and low <= int(prefix) <= high


def card_expired(exp_month: int, exp_year: int, now: datetime | None = None) -> bool:
    """A card is good through the last instant of its expiry month, in UTC."""
    today = (now or datetime.now(UTC)).astimezone(UTC)
    return (exp_year, exp_month) < (today.year, today.month)


def normalize_card_number(raw: str) -> str:
    """The number without the spaces and dashes people type between digit groups."""
    return _SEPARATORS.sub("", raw)


_SECRET_FIELDS = ("card_number", "cvc")


class _Redacted:
    """Stands in for a secret field's input that is not even a string."""

    def __repr__(self) -> str:
        return "'**********'"


HolderName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CardIn(RequestBody):
    """The card paying for a purchase. The number and CVC are never stored or shown."""

    # Validation takes `context={"now": datetime}` to fix the clock of the expiry check
    # (tests); without it the check uses the current UTC time.

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    card_number: SecretStr = Field(
        description="12-19 digits; spaces and dashes between groups are ignored.",
        examples=["4242 4242 4242 4242"],
    )
    exp_month: int = Field(ge=1, le=12, examples=[12])
    exp_year: int = Field(
        description="Four digits.",
        examples=[2030],
        json_schema_extra={"minimum": 1000, "maximum": 9999},
    )
    cvc: SecretStr = Field(description="3 digits (4 for American Express).", examples=["123"])
    holder_name: HolderName = Field(examples=["Ada Lovelace"])

    @model_validator(mode="before")
    @classmethod
    def _hide_secrets_from_errors(cls, data: Any) -> Any:
        # Errors carry their input (`errors()`, and `str()` of an enclosing model's error or
        # of FastAPI's RequestValidationError): make that input a SecretStr before any check.
        if isinstance(data, dict):
            data = dict(data)
            for key in _SECRET_FIELDS:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = SecretStr(value)
                elif value is not None and not isinstance(value, SecretStr):
                    data[key] = _Redacted()  # not a string: refused, without quoting it
        return data

    @field_validator("card_number")
    @classmethod
    def _valid_number(cls, value: SecretStr) -> SecretStr:
        digits = normalize_card_number(value.get_secret_value())
        if not (MIN_DIGITS <= len(digits) <= MAX_DIGITS) or not _DIGITS.fullmatch(digits):
            raise PydanticCustomError(
                "card_number_format",
                "The card number must have 12 to 19 digits (spaces and dashes are allowed).",
            )
        if not luhn_ok(digits):
            raise PydanticCustomError(
                "card_number_checksum",
                "The card number is not valid; please check it for typing mistakes.",
            )
        return SecretStr(digits)

    @field_validator("exp_year")
    @classmethod
    def _valid_expiry(cls, value: int, info: ValidationInfo) -> int:
        if not 1000 <= value <= 9999:
            raise PydanticCustomError("card_exp_year", "exp_year must be a four-digit year.")
        exp_month = info.data.get("exp_month")
        if exp_month is None:  # already reported on exp_month
            return value
        now = _context_now(info.context)
        if card_expired(exp_month, value, now):
            raise PydanticCustomError("card_expired", "The card has expired.")
        return value

    @field_validator("cvc")
    @classmethod
    def _valid_cvc(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        cvc = value.get_secret_value().strip()
        if not (3 <= len(cvc) <= 4) or not _DIGITS.fullmatch(cvc):
            raise PydanticCustomError("card_cvc", "The CVC must be 3 or 4 digits.")
        number = info.data.get("card_number")
        if isinstance(number, SecretStr):  # absent when the number itself was invalid
            expected = 4 if card_brand(number.get_secret_value()) == "amex" else 3
            if len(cvc) != expected:
                raise PydanticCustomError(
                    "card_cvc",
                    "The CVC must be 4 digits for American Express and 3 for other cards.",
                )
        return SecretStr(cvc)

    @property
    def brand(self) -> str:
        return card_brand(self.card_number.get_secret_value())

    @property
    def last4(self) -> str:
        return self.card_number.get_secret_value()[-4:]

    def reveal_number(self) -> str:
        """The digits of the card number: for the payment gateway's request only."""
        return self.card_number.get_secret_value()

    def reveal_cvc(self) -> str:
        """The CVC: for the payment gateway's request only."""
        return self.cvc.get_secret_value()


def _context_now(context: Any) -> datetime | None:
    if isinstance(context, dict):
        now = context.get("now")
        if isinstance(now, datetime):
            return now
    return None
