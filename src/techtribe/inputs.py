"""What every client input must satisfy, one owner per kind: date-times and request bodies.

Query strings are checked for NUL by `middleware.RejectNulQuery`, cursors by `pagination`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, field_validator

# The years the API accepts (after applying the offset). Python's datetime stops at 9999,
# and its arithmetic raises OverflowError near both ends: every time is checked before
# anything is computed from it.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
OUT_OF_RANGE = "times must lie between the years 1900 and 9999 (after applying the offset)"


def in_range(value: datetime) -> datetime:
    """`value` if it has a UTC offset and falls within years 1900 to 9999 once in UTC."""
    if value.utcoffset() is None:
        raise ValueError("a time needs a UTC offset")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError(OUT_OF_RANGE)
    return value


def shifted(value: datetime, delta: timedelta) -> datetime:
    """`value + delta`, refused like any input time when the result leaves the range."""
    try:
        return in_range(value + delta)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None


# An RFC 3339 date-time opens with its full date. Pydantic alone would also take a number
# (Unix seconds: `to=0.5`, `starts_at: 1700000000`), which is not a time with an offset.
_RFC3339_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def rfc3339_text(value: Any) -> Any:
    """`value` if it is a datetime or reads like an RFC 3339 date-time; numbers are refused."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339_START.match(value):
        raise ValueError("a time is an RFC 3339 date-time with a UTC offset")
    return value


# Every date-time a client sends (bodies and query strings): RFC 3339 text with an offset,
# in range.
Timestamp = Annotated[AwareDatetime, BeforeValidator(rfc3339_text), AfterValidator(in_range)]

NUL_MESSAGE = "text may not contain NUL characters"


def has_nul(value: Any) -> bool:
    """Whether any string in `value` (nested lists and objects too) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


class RequestBody(BaseModel):
    """The base of every JSON request body: no NUL in any string field.

    PostgreSQL can't store NUL, bcrypt raises on it, and no field has a use for it; refused
    before any other rule looks at the value (a password never reaches bcrypt with one).
    """

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value
