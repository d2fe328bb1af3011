"""Properties, over many generated inputs: cursors, date-time ranges, money maths."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from techtribe.advisories.service import SLOT_ORDER
from techtribe.inputs import Timestamp, shifted
from techtribe.money import MAX_PRICE_CENTS, PriceCents
from techtribe.pagination import InvalidCursor, Ordering, signing_key
from techtribe.poems.service import POEM_SORTS
from techtribe.purchases.ledger import split
from techtribe.users.service import USER_SORTS

# Bounded, so the whole module stays within a few seconds on a loaded CI machine.
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = b"k" * 32
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

aware_times = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
ids = st.uuids().map(str)
SAMPLES: list[tuple[Ordering, st.SearchStrategy[list[Any]]]] = [
    (SLOT_ORDER, st.tuples(aware_times, st.uuids()).map(list)),
    (
        USER_SORTS["name"],
        st.tuples(st.text().filter(lambda t: "\x00" not in t), st.uuids()).map(list),
    ),
    (USER_SORTS["poems"], st.tuples(st.integers(0, 2**31 - 1), st.uuids()).map(list)),
    (
        POEM_SORTS["rating"][0],
        st.tuples(st.floats(0, 5, allow_nan=False), st.uuids()).map(list),
    ),
]
orderings = st.sampled_from(SAMPLES).flatmap(
    lambda sample: st.tuples(st.just(sample[0]), sample[1])
)


@PROPERTY
@given(orderings)
def test_a_cursor_decodes_to_the_values_it_was_made_of(sample: tuple[Ordering, list[Any]]) -> None:
    ordering, values = sample
    with signing_key(KEY):
        cursor = ordering.encode(values)
        decoded = ordering.decode(cursor)

    assert decoded == [uuid.UUID(str(v)) if isinstance(v, uuid.UUID) else v for v in values]
    assert set(cursor) <= set(URL_SAFE)


@PROPERTY
@given(orderings, st.data())
def test_any_change_to_a_cursor_is_refused(
    sample: tuple[Ordering, list[Any]], data: st.DataObject
) -> None:
    ordering, values = sample
    with signing_key(KEY):
        cursor = ordering.encode(values)
        at = data.draw(st.integers(0, len(cursor) - 1))
        replacement = data.draw(
            st.sampled_from(URL_SAFE + "=é\x00 ").filter(lambda c: c != cursor[at])
        )
        changed = data.draw(
            st.sampled_from(
                [
                    cursor[:at] + replacement + cursor[at + 1 :],  # one character changed
                    cursor[:at],  # cut
                    cursor[:at] + replacement + cursor[at:],  # one character more
                ]
            )
        )
        with pytest.raises(InvalidCursor):
            ordering.decode(changed)


@PROPERTY
@given(orderings)
def test_a_cursor_is_refused_under_another_key_or_by_another_ordering(
    sample: tuple[Ordering, list[Any]],
) -> None:
    ordering, values = sample
    with signing_key(KEY):
        cursor = ordering.encode(values)
    with signing_key(b"another key"), pytest.raises(InvalidCursor):
        ordering.decode(cursor)
    with signing_key(KEY):
        for other, _ in SAMPLES:
            if other is not ordering:
                with pytest.raises(InvalidCursor):
                    other.decode(cursor)


@PROPERTY
@given(st.text(max_size=300))
def test_arbitrary_text_is_never_a_cursor(text: str) -> None:
    with signing_key(KEY), pytest.raises(InvalidCursor):
        SLOT_ORDER.decode(text)


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMESTAMP = TypeAdapter(Timestamp)
FIRST = datetime(1900, 1, 1)
LAST = datetime(9999, 12, 31, 23, 59, 59, 999999)


def in_range_by_arithmetic(value: datetime) -> bool:
    """1900 to 9999 in UTC, worked out on plain numbers (no datetime arithmetic to overflow)."""
    offset = value.utcoffset()
    assert offset is not None
    naive = value.replace(tzinfo=None)
    since_first = (naive - FIRST) - offset
    return timedelta(0) <= since_first <= (LAST - FIRST)


@PROPERTY
@given(st.datetimes(timezones=offsets))
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
@example(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))))
@example(datetime(1900, 1, 1, tzinfo=UTC))
@example(datetime(1900, 1, 1, 0, 59, tzinfo=timezone(timedelta(hours=1))))
def test_a_time_is_accepted_exactly_when_it_falls_in_1900_to_9999_in_utc(value: datetime) -> None:
    expected = in_range_by_arithmetic(value)
    try:
        TIMESTAMP.validate_python(value)
        accepted = True
    except ValidationError:
        accepted = False

    assert accepted == expected
    if accepted:
        assert FIRST.replace(tzinfo=UTC) <= value.astimezone(UTC)  # no overflow left


@PROPERTY
@given(st.datetimes(timezones=offsets))
def test_a_time_sent_as_text_is_judged_like_the_value(value: datetime) -> None:
    try:
        TIMESTAMP.validate_json(f'"{value.isoformat()}"')
        accepted = True
    except ValidationError:
        accepted = False

    assert accepted == in_range_by_arithmetic(value)


def test_a_time_without_an_offset_is_refused() -> None:
    with pytest.raises(ValidationError):
        TIMESTAMP.validate_python(datetime(2026, 1, 1))


@PROPERTY
@given(st.datetimes(timezones=offsets), st.integers(0, 10_000))
def test_a_derived_time_is_refused_exactly_when_it_leaves_the_range(
    start: datetime, minutes: int
) -> None:
    delta = timedelta(minutes=minutes)
    expected = _naive_fits(start, delta) and in_range_by_arithmetic(start + delta)
    try:
        shifted(start, delta)
        accepted = True
    except ValueError:
        accepted = False

    assert accepted == expected


def _naive_fits(start: datetime, delta: timedelta) -> bool:
    return (datetime.max - start.replace(tzinfo=None)) >= delta


@PROPERTY
@given(st.integers(0, MAX_PRICE_CENTS), st.integers(0, 100))
def test_fee_and_share_add_up_to_the_price_and_are_never_negative(price: int, percent: int) -> None:
    fee, share = split(price, percent)

    assert fee + share == price
    assert fee >= 0
    assert share >= 0
    # The platform never gets more than its percent: rounding goes to the instructor.
    assert fee * 100 <= price * percent < (fee + 1) * 100


PRICE = TypeAdapter(PriceCents)


@PROPERTY
@given(
    st.one_of(
        st.integers(),
        st.floats(),
        st.booleans(),
        st.text(max_size=12),
        st.none(),
    )
)
def test_a_price_is_an_integer_from_0_to_100_million(value: Any) -> None:
    valid = type(value) is int and 0 <= value <= MAX_PRICE_CENTS
    try:
        PRICE.validate_json(json.dumps(value))
        accepted = True
    except ValidationError:
        accepted = False

    assert accepted == valid
