"""Keyset (cursor) pagination: opaque cursors, ties broken by id, cost independent of depth."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Select, SmallInteger, and_, bindparam, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from techtribe.errors import DomainError

T = TypeVar("T")
Row = TypeVar("Row")

SortColumn = QueryableAttribute[Any] | ColumnElement[Any]

LimitQuery = Annotated[int, Query(ge=1, le=100, description="Page size, 1 to 100.")]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=512, description="`next_cursor` of the previous page; omit for the first page."
    ),
]


class Page(BaseModel, Generic[T]):
    """Every list answers `{items, next_cursor}`; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class InvalidCursor(DomainError):
    status, code = 422, "validation_error"
    detail_text = "The cursor is not valid for this listing."

    def __init__(self) -> None:
        super().__init__()
        self.extra["errors"] = [
            {"loc": ["query", "cursor"], "msg": self.detail, "type": "value_error"}
        ]


def _identity(value: Any) -> Any:
    return value


def _dump_datetime(value: datetime) -> str:
    return value.isoformat()


@dataclass(frozen=True)
class Key:
    """One column of a sort order, with how its value travels inside the cursor."""

    column: SortColumn
    descending: bool = False
    dump: Callable[[Any], Any] = _identity
    load: Callable[[Any], Any] = _identity

    @classmethod
    def timestamp(cls, column: SortColumn, *, descending: bool = False) -> Key:
        return cls(column, descending, _dump_datetime, datetime.fromisoformat)

    @classmethod
    def uuid(cls, column: SortColumn, *, descending: bool = False) -> Key:
        return cls(column, descending, str, uuid.UUID)


@dataclass(frozen=True)
class Ordering:
    """A named sort: its keys, the last of which must be unique (the id)."""

    name: str
    keys: Sequence[Key] = field(default_factory=tuple)

    def order_by(self) -> list[ColumnElement[Any]]:
        return [key.column.desc() if key.descending else key.column.asc() for key in self.keys]

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after `values` in this order."""
        directions = {key.descending for key in self.keys}
        if len(directions) == 1:
            # One direction: a row-value comparison the index serves directly.
            columns = tuple_(*(key.column for key in self.keys))
            bound = tuple_(*values)
            return columns < bound if self.keys[0].descending else columns > bound
        clauses = []
        for i, key in enumerate(self.keys):
            equal = [k.column == v for k, v in zip(self.keys[:i], values[:i], strict=True)]
            beyond = key.column < values[i] if key.descending else key.column > values[i]
            clauses.append(and_(*equal, beyond))
        return or_(*clauses)

    def bound_after(self) -> ColumnElement[bool]:
        """`after` with bind parameters `after_0`, `after_1`... for a statement built once."""
        return self.after(
            [bindparam(f"after_{i}", type_=key.column.type) for i, key in enumerate(self.keys)]
        )

    def bound_values(self, cursor: str) -> dict[str, Any]:
        """The parameters of `bound_after` for a cursor of this ordering."""
        return {f"after_{i}": value for i, value in enumerate(self.decode(cursor))}

    def cut(
        self,
        rows: list[Any],
        limit: int,
        key_of: Callable[[Any], Sequence[Any]] | None = None,
    ) -> tuple[list[Any], str | None]:
        """A page of `limit` rows out of `limit + 1` fetched, and the cursor to the next one.

        `key_of(row)` gives the row's sort values; by default the attributes named like the
        ordering's columns.
        """
        if len(rows) <= limit:
            return rows, None
        rows = rows[:limit]
        last = rows[-1]
        values = key_of(last) if key_of else [getattr(last, str(k.column.key)) for k in self.keys]
        return rows, self.encode(values)

    def encode(self, values: Sequence[Any]) -> str:
        raw = json.dumps(
            {"s": self.name, "k": [k.dump(v) for k, v in zip(self.keys, values, strict=True)]},
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if data["s"] != self.name or len(data["k"]) != len(self.keys):
                raise InvalidCursor()
            return [_checked(k, k.load(v)) for k, v in zip(self.keys, data["k"], strict=True)]
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            binascii.Error,
            UnicodeError,
        ) as exc:
            raise InvalidCursor() from exc


def _checked(key: Key, value: Any) -> Any:
    """A cursor value the column can't be compared with is a bad cursor, not a database error."""
    try:
        expected = key.column.type.python_type
    except NotImplementedError:
        return value
    if value is None or expected not in (str, int):
        return value
    if type(value) is not expected:
        raise TypeError(f"cursor value {value!r} is not {expected.__name__}")
    if expected is int:
        sizes: dict[type, int] = {SmallInteger: 15, BigInteger: 63}
        bits = sizes.get(type(key.column.type), 31)
        if not -(2**bits) <= value < 2**bits:
            raise ValueError(f"cursor value {value} is out of range")
    return value


async def paginate(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    ordering: Ordering,
    *,
    limit: int,
    cursor: str | None,
    key_of: Callable[[Any], Sequence[Any]] | None = None,
    scalars: bool = True,
) -> tuple[list[Any], str | None]:
    """Run one page of `stmt` in `ordering` (see `Ordering.cut` for `key_of`)."""
    if cursor:
        stmt = stmt.where(ordering.after(ordering.decode(cursor)))
    stmt = stmt.order_by(*ordering.order_by()).limit(limit + 1)
    result = await session.execute(stmt)
    rows = list(result.scalars().all() if scalars else result.all())
    return ordering.cut(rows, limit, key_of)
