"""Keyset (cursor) pagination: opaque cursors, ties broken by id, cost independent of depth.

A cursor is `<payload>.<mac>`: the page's last sort values (base64url JSON) and an HMAC over
them and the ordering they belong to, keyed from `JWT_SECRET`. Only cursors this server
issued, for this very listing and sort, are accepted; anything else is `422 invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Select, SmallInteger, and_, bindparam, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from techtribe.errors import DomainError
from techtribe.inputs import in_range

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
    status, code = 422, "invalid_cursor"
    detail_text = "The cursor is not one this listing issued; start again without it."

    def __init__(self) -> None:
        super().__init__()
        self.extra["errors"] = [
            {"loc": ["query", "cursor"], "msg": self.detail, "type": "value_error"}
        ]


# The cursor key of the application serving this request (set by `middleware.CursorKey`).
_signing_key: ContextVar[bytes] = ContextVar("cursor_signing_key")
_MAC_BYTES = 16


def derive_key(jwt_secret: str) -> bytes:
    """The cursors' own key: derived, so a cursor's MAC never doubles as anything else's."""
    return hmac.new(jwt_secret.encode(), b"techtribe pagination cursor v1", hashlib.sha256).digest()


@contextmanager
def signing_key(key: bytes) -> Iterator[None]:
    """Sign and check the cursors made inside this block with `key`."""
    token = _signing_key.set(key)
    try:
        yield
    finally:
        _signing_key.reset(token)


def _mac(scope: str, payload: str) -> bytes:
    message = f"{scope}\n{payload}".encode()
    return hmac.digest(_signing_key.get(), message, hashlib.sha256)[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _identity(value: Any) -> Any:
    return value


def _dump_datetime(value: datetime) -> str:
    return value.isoformat()


def _load_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("a cursor time is a string")
    return in_range(datetime.fromisoformat(value))


@dataclass(frozen=True)
class Key:
    """One column of a sort order, with how its value travels inside the cursor."""

    column: SortColumn
    descending: bool = False
    dump: Callable[[Any], Any] = _identity
    load: Callable[[Any], Any] = _identity

    @classmethod
    def timestamp(cls, column: SortColumn, *, descending: bool = False) -> Key:
        return cls(column, descending, _dump_datetime, _load_datetime)

    @classmethod
    def uuid(cls, column: SortColumn, *, descending: bool = False) -> Key:
        return cls(column, descending, str, uuid.UUID)


@dataclass(frozen=True)
class Ordering:
    """A named sort: its keys, the last of which must be unique (the id)."""

    name: str
    keys: Sequence[Key] = field(default_factory=tuple)

    @cached_property
    def scope(self) -> str:
        """What a cursor is bound to: the sort's name and its columns (so the listing too)."""
        keys = ",".join(f"{k.column}{' desc' if k.descending else ''}" for k in self.keys)
        return f"{self.name}:{keys}"

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
        rows: Sequence[Any],
        limit: int,
        key_of: Callable[[Any], Sequence[Any]] | None = None,
    ) -> tuple[list[Any], str | None]:
        """A page of `limit` rows out of `limit + 1` fetched, and the cursor to the next one.

        `key_of(row)` gives the row's sort values; by default the attributes named like the
        ordering's columns.
        """
        if len(rows) <= limit:
            return list(rows), None
        page = list(rows[:limit])
        last = page[-1]
        values = key_of(last) if key_of else [getattr(last, str(k.column.key)) for k in self.keys]
        return page, self.encode(values)

    def encode(self, values: Sequence[Any]) -> str:
        return self.sign([k.dump(v) for k, v in zip(self.keys, values, strict=True)])

    def sign(self, dumped: list[Any]) -> str:
        """A cursor of this ordering holding `dumped` as is (tests forge odd values with it)."""
        payload = _b64(json.dumps(dumped, separators=(",", ":")).encode())
        return f"{payload}.{_b64(_mac(self.scope, payload))}"

    def decode(self, cursor: str) -> list[Any]:
        """The sort values in a cursor this ordering issued; `InvalidCursor` for anything else."""
        payload, dot, mac = cursor.partition(".")
        try:
            # Compared as text: base64's spare bits would let two spellings of one MAC pass.
            if not dot or not hmac.compare_digest(mac, _b64(_mac(self.scope, payload))):
                raise InvalidCursor()
            # Signed by us, so well formed; checked all the same, in case of a bug or a
            # leaked key: a bad value must be a 422, never a database error.
            values = json.loads(_unb64(payload))
            if not isinstance(values, list) or len(values) != len(self.keys):
                raise InvalidCursor()
            return [_checked(k, k.load(v)) for k, v in zip(self.keys, values, strict=True)]
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            OverflowError,
            binascii.Error,
            UnicodeError,
        ) as exc:
            raise InvalidCursor() from exc


def _checked(key: Key, value: Any) -> Any:
    """A cursor value the column can't be compared with is a bad cursor, not a database error."""
    if value is None:
        raise TypeError("sort keys are never null")
    try:
        expected = key.column.type.python_type
    except NotImplementedError:
        return value
    if expected is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise TypeError(f"cursor value {value!r} is not a finite number")
        return value
    if expected not in (str, int):
        return value
    if type(value) is not expected:
        raise TypeError(f"cursor value {value!r} is not {expected.__name__}")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("cursor text holds a NUL character")
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
    if cursor is not None:
        stmt = stmt.where(ordering.after(ordering.decode(cursor)))
    stmt = stmt.order_by(*ordering.order_by()).limit(limit + 1)
    result = await session.execute(stmt)
    rows = result.scalars().all() if scalars else result.all()
    return ordering.cut(rows, limit, key_of)
