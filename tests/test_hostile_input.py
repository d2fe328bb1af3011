"""Hostile input at the edge: cursors, date-times, NUL, money, oversized bodies; never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.advisories.seats import BOOKING_ORDER
from techtribe.advisories.service import SLOT_ORDER
from techtribe.courses.catalog import COURSE_SORTS
from techtribe.courses.enrollments import ENROLLMENT_ORDER
from techtribe.courses.service import REVIEW_ORDER, TAG_ORDER
from techtribe.db import UTCDateTime
from techtribe.inputs import RequestBody
from techtribe.notifications.service import NEWEST as OUTBOX_ORDER
from techtribe.pagination import Key, Ordering
from techtribe.poems.service import POEM_SORTS, RATING_ORDER
from techtribe.purchases.service import PURCHASE_ORDER
from techtribe.revenue.service import SALE_ORDER
from techtribe.users.service import USER_SORTS
from tests.catalog import create_course
from tests.cursors import app_of, signed_cursor
from tests.helpers import (
    API,
    PASSWORD,
    Member,
    assert_oauth_error,
    assert_problem,
    mailed_token,
    member,
    register,
    unique_email,
)
from tests.poem_factories import publish
from tests.purchasing import card, order


@dataclass(frozen=True)
class Listing:
    path: str  # `{course}` and `{poem}` are filled in with real ids
    ordering: Ordering
    role: str | None = None  # who may read it; None: anyone
    params: tuple[tuple[str, str], ...] = ()


LISTINGS = {
    "courses": Listing("/courses", COURSE_SORTS["newest"]),
    "courses-by-price": Listing("/courses", COURSE_SORTS["price"], params=(("sort", "price"),)),
    "courses-by-rating": Listing("/courses", COURSE_SORTS["rating"], params=(("sort", "rating"),)),
    "reviews": Listing("/courses/{course}/reviews", REVIEW_ORDER),
    "tags": Listing("/tags", TAG_ORDER),
    "poems": Listing("/poems", POEM_SORTS["newest"][0]),
    "poems-by-rating": Listing("/poems", POEM_SORTS["rating"][0], params=(("sort", "rating"),)),
    "ratings": Listing("/poems/{poem}/ratings", RATING_ORDER),
    "advisories": Listing("/advisories", SLOT_ORDER),
    "purchases": Listing("/purchases", PURCHASE_ORDER, role="student"),
    "enrollments": Listing("/users/me/enrollments", ENROLLMENT_ORDER, role="student"),
    "bookings": Listing("/users/me/bookings", BOOKING_ORDER, role="student"),
    "users": Listing("/users", USER_SORTS["newest"], role="admin"),
    "users-by-name": Listing(
        "/users", USER_SORTS["name"], role="admin", params=(("sort", "name"),)
    ),
    "users-by-poems": Listing(
        "/users", USER_SORTS["poems"], role="admin", params=(("sort", "poems"),)
    ),
    "users-by-ratings": Listing(
        "/users", USER_SORTS["ratings"], role="admin", params=(("sort", "ratings"),)
    ),
    "earnings": Listing("/instructors/me/earnings", SALE_ORDER, role="instructor"),
    "outbox": Listing("/admin/outbox", OUTBOX_ORDER, role="admin"),
}


def plausible(ordering: Ordering) -> list[Any]:
    """Values of the right type for each key, as the server would have put them in a cursor."""
    values: list[Any] = []
    for key in ordering.keys:
        if is_time(key):
            values.append("2026-01-01T00:00:00+00:00")
            continue
        kind = key.column.type.python_type
        values.append({uuid.UUID: str(uuid.uuid4()), int: 3, float: 2.5, str: "m"}[kind])
    return values


def is_time(key: Key) -> bool:
    return isinstance(key.column.type, UTCDateTime)


def tampered(cursor: str) -> list[str]:
    """A valid cursor cut, with a character changed in its values, and in its MAC."""
    payload, _, mac = cursor.partition(".")

    def flip(text: str, at: int) -> str:
        return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]

    return [cursor[:-3], payload, f"{flip(payload, 2)}.{mac}", f"{payload}.{flip(mac, 3)}"]


async def read_listing(
    client: httpx.AsyncClient, db: AsyncSession, listing: Listing
) -> tuple[str, dict[str, str]]:
    """The listing's path with real ids, and the headers of someone allowed to read it."""
    path = listing.path
    if "{" in path:
        author = await member(client, db, role="instructor")
        course = await create_course(client, author) if "{course}" in path else {"id": ""}
        poem = await publish(client, author) if "{poem}" in path else {"id": ""}
        path = path.format(course=course["id"], poem=poem["id"])
    if listing.role is None:
        return path, {}
    return path, (await member(client, db, role=listing.role)).headers


@pytest.mark.parametrize("listing", LISTINGS.values(), ids=LISTINGS.keys())
async def test_every_cursor_the_server_did_not_issue_is_422_invalid_cursor(
    client: httpx.AsyncClient, db: AsyncSession, listing: Listing
) -> None:
    path, headers = await read_listing(client, db, listing)

    async def page(cursor: str) -> httpx.Response:
        params = [*listing.params, ("cursor", cursor)]
        return await client.get(f"{API}{path}", params=params, headers=headers)

    genuine = signed_cursor(client, listing.ordering, plausible(listing.ordering))
    assert (await page(genuine)).status_code == 200
    keys = len(listing.ordering.keys)
    # Signed with the server's key, so only the checks behind the MAC can refuse them.
    signed_but_wrong = [
        [None] * keys,
        [{"a": 1}] * keys,
        plausible(listing.ordering)[:-1],
        [*plausible(listing.ordering), 1],
    ]
    if is_time(listing.ordering.keys[0]):
        for odd_time in ("2026-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "10000-01-01"):
            signed_but_wrong.append([odd_time, *plausible(listing.ordering)[1:]])
    other = LISTINGS["tags"] if listing is not LISTINGS["tags"] else LISTINGS["advisories"]
    refused = [
        "",
        "garbage!",
        "e30",  # an unsigned `{}`
        *tampered(genuine),
        signed_cursor(client, other.ordering, plausible(other.ordering)),
        *(signed_cursor(client, listing.ordering, values) for values in signed_but_wrong),
    ]

    for cursor in refused:
        body = assert_problem(await page(cursor), 422, "invalid_cursor")
        assert body["errors"][0]["loc"] == ["query", "cursor"]


async def test_a_cursor_of_one_listing_is_refused_by_another(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    student = await member(client, db)
    for _ in range(2):
        await publish(client, student)
    first = await client.get(f"{API}/poems", params={"author_id": student.id, "limit": 1})
    cursor = first.json()["next_cursor"]
    assert cursor

    same = await client.get(
        f"{API}/poems", params={"author_id": student.id, "limit": 1, "cursor": cursor}
    )
    courses = await client.get(f"{API}/courses", params={"cursor": cursor})
    users = await client.get(
        f"{API}/users",
        params={"cursor": cursor},
        headers=(await member(client, db, role="admin")).headers,
    )

    assert same.status_code == 200
    assert_problem(courses, 422, "invalid_cursor")
    assert_problem(users, 422, "invalid_cursor")


async def test_cursors_are_url_safe_and_opaque(client: httpx.AsyncClient, db: AsyncSession) -> None:
    author = await member(client, db)
    for _ in range(2):
        await publish(client, author)

    page = await client.get(f"{API}/poems", params={"author_id": author.id, "limit": 1})

    cursor = page.json()["next_cursor"]
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


# Each list filtered by time, with the query names it uses.
TIME_FILTERS = ["/advisories", "/poems", "/admin/revenue"]
OUT_OF_RANGE_TIMES = [
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "1899-12-31T23:59:59Z",
    "2026-01-01T00:00:00",  # no offset
    "1700000000",  # Unix seconds: no offset either
    "0.5",
]


@pytest.mark.parametrize("path", TIME_FILTERS)
async def test_times_outside_1900_to_9999_or_without_offset_are_422(
    client: httpx.AsyncClient, db: AsyncSession, path: str
) -> None:
    admin = await member(client, db, role="admin")

    for name in ("from", "to"):
        for value in OUT_OF_RANGE_TIMES:
            response = await client.get(f"{API}{path}", params={name: value}, headers=admin.headers)
            body = assert_problem(response, 422, "validation_error")
            assert body["errors"][0]["loc"] == ["query", name]
    edges = {"from": "1900-01-01T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z"}
    inside = await client.get(f"{API}{path}", params=edges, headers=admin.headers)
    assert inside.status_code == 200, inside.text


async def test_a_slot_start_sent_as_a_number_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    body = {
        "topic": "Numeric",
        "starts_at": 4_102_444_800,  # 2100-01-01 in Unix seconds
        "duration_minutes": 60,
        "price_cents": 100,
        "currency": "USD",
        "capacity": 1,
    }

    response = await client.post(f"{API}/advisories", json=body, headers=instructor.headers)

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "starts_at"]


async def test_slot_whose_end_leaves_year_9999_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    body = {
        "topic": "Late",
        "starts_at": "9999-12-31T23:30:00Z",
        "duration_minutes": 480,
        "price_cents": 100,
        "currency": "USD",
        "capacity": 1,
    }

    late = await client.post(f"{API}/advisories", json=body, headers=instructor.headers)
    early = await client.post(
        f"{API}/advisories",
        json={**body, "starts_at": "9999-12-31T15:59:00Z"},
        headers=instructor.headers,
    )
    far = await client.post(
        f"{API}/advisories",
        json={**body, "starts_at": "9999-12-31T23:00:00-14:00"},
        headers=instructor.headers,
    )

    assert_problem(late, 422, "validation_error")
    assert_problem(far, 422, "validation_error")
    assert early.status_code == 201, early.text
    assert early.json()["ends_at"].startswith("9999-12-31T23:59:00")


async def test_nul_in_a_password_is_422_at_register_reset_and_change(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    nul_password = "abcd\x001234"
    registering = await client.post(
        f"{API}/auth/register",
        json={"email": unique_email(), "password": nul_password, "full_name": "Nul"},
    )
    user = await member(client, db)
    change = await client.post(
        f"{API}/users/me/password",
        json={"current_password": PASSWORD, "new_password": nul_password},
        headers=user.headers,
    )
    wrong_current = await client.post(
        f"{API}/users/me/password",
        json={"current_password": "x\x00" + PASSWORD, "new_password": "another-pass-9"},
        headers=user.headers,
    )
    await client.post(f"{API}/auth/password-reset", json={"email": user.email})
    token = await mailed_token(db, user.email, "password_reset")
    reset = await client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": nul_password}
    )

    for response in (registering, change, wrong_current, reset):
        body = assert_problem(response, 422, "validation_error")
        assert "NUL" in body["errors"][0]["msg"]
    # Nothing was changed: the reset token and the old password still work.
    ok = await client.post(
        f"{API}/auth/password-reset/confirm",
        json={"token": token, "new_password": "brand-new-pass-1"},
    )
    assert ok.status_code == 204, ok.text


async def test_nul_in_any_other_string_field_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")
    course = await create_course(client, instructor)
    attempts = [
        ("post", "/poems", {"title": "T\x00", "body": "b"}),
        ("post", "/courses", {**_course(), "tags": ["ok", "n\x00l"]}),
        ("patch", f"/courses/{course['id']}", {"title": "x\x00"}),
        ("patch", "/users/me", {"bio": "\x00"}),
        ("post", "/auth/verify-email", {"token": "\x00"}),
        ("post", "/auth/password-reset", {"email": "a\x00@example.com"}),
    ]
    for method, path, body in attempts:
        response = await client.request(
            method, f"{API}{path}", json=body, headers=instructor.headers
        )
        assert_problem(response, 422, "validation_error")
    buyer = await member(client, db)
    purchase = await client.post(
        f"{API}/purchases",
        json=order(("course", course["id"]), payment=card(holder_name="Ada\x00")),
        headers={**buyer.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert_problem(purchase, 422, "validation_error")


def _course() -> dict[str, Any]:
    return {
        "title": "T",
        "description": "D",
        "price_cents": 100,
        "currency": "USD",
        "level": "beginner",
        "tags": [],
    }


async def test_nul_in_the_token_endpoint_form_is_400_invalid_request_not_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": unique_email(), "password": "a\x00b12345"},
    )

    assert_oauth_error(response, "invalid_request")


ODD_CATALOG_QUERIES = [
    {"cursor": ""},
    {"level": ""},
    {"min_price": ""},
    {"max_price": "1.5"},
    {"min_price": "100000001"},
    {"instructor_id": ""},
    {"limit": ""},
]


async def test_empty_or_odd_query_values_on_the_catalog_are_422(client: httpx.AsyncClient) -> None:
    for params in ODD_CATALOG_QUERIES:
        response = await client.get(f"{API}/courses", params=params)

        assert response.status_code == 422, (params, response.text)


BAD_PRICES = [-1, 100_000_001, 10.0, 10.5, "10", 2**63, None]


async def test_prices_are_integers_from_0_to_100_million(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    instructor = await member(client, db, role="instructor")

    for price in BAD_PRICES:
        response = await client.post(
            f"{API}/courses", json={**_course(), "price_cents": price}, headers=instructor.headers
        )

        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "price_cents"], price


async def test_a_1_mb_password_at_the_token_endpoint_is_413_no_store(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": unique_email(), "password": "a1" * 2**19},
    )

    assert_problem(response, 413, "payload_too_large")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_chunked_body_over_the_limit_at_the_token_endpoint_is_413_no_store(
    client: httpx.AsyncClient,
) -> None:
    form = b"grant_type=password&username=a%40b.example&password=" + b"a1" * 2**19

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(form), 65536):
            yield form[start : start + 65536]

    response = await client.post(
        f"{API}/auth/token",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert "Content-Length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")
    assert response.headers["cache-control"] == "no-store"


async def test_every_token_endpoint_answer_is_no_store(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email=email)
    answers = [
        await client.post(f"{API}/auth/token", data={}),
        await client.post(f"{API}/auth/token", content=b"\xff\xfe", headers={"content-type": "x"}),
        await client.post(
            f"{API}/auth/token", data={"grant_type": "password", "username": email, "password": "x"}
        ),
        await client.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": email, "password": PASSWORD},
        ),
        await client.get(f"{API}/auth/token"),
    ]

    assert [r.status_code for r in answers] == [400, 400, 400, 200, 405]
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response
        assert response.headers["x-content-type-options"] == "nosniff"


async def signed_in(client: httpx.AsyncClient, db: AsyncSession) -> Member:
    return await member(client, db)


@pytest.mark.parametrize("path", ["/users/me", "/purchases", "/users/me/enrollments", "/courses"])
async def test_answers_to_a_bearer_request_are_no_store_and_nosniff(
    client: httpx.AsyncClient, db: AsyncSession, path: str
) -> None:
    user = await signed_in(client, db)

    response = await client.get(f"{API}{path}", headers=user.headers)
    bad_token = await client.get(f"{API}{path}", headers={"Authorization": "Bearer nonsense"})

    assert response.status_code == 200
    for answer in (response, bad_token):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"


async def test_every_answer_is_nosniff_and_anonymous_public_ones_are_not_no_store(
    client: httpx.AsyncClient,
) -> None:
    answers = {
        "api": await client.get(f"{API}/courses"),
        "404": await client.get(f"{API}/nowhere"),
        "401": await client.get(f"{API}/users/me"),
        "405": await client.delete(f"{API}/tags"),
        "docs": await client.get("/docs"),
        "openapi": await client.get("/openapi.json"),
        "web": await client.get("/"),
        "health": await client.get("/healthz"),
        "auth": await client.get(f"{API}/auth/providers"),
    }

    for name, response in answers.items():
        assert response.headers["x-content-type-options"] == "nosniff", name
    assert answers["auth"].headers["cache-control"] == "no-store"
    assert "no-store" not in answers["api"].headers.get("cache-control", "")


async def test_a_500_is_nosniff_and_no_store_for_a_bearer_request(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    user = await signed_in(client, db)
    app = app_of(client)

    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom-for-test", boom)
    response = await client.get("/boom-for-test", headers=user.headers)

    assert_problem(response, 500, "internal_error")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


# Answers in RFC 6749's terms (`invalid_grant`), not 422: it checks NUL itself.
OWN_NUL_RULES = {"LoginCodeExchange"}


def test_every_json_body_refuses_nul_through_the_shared_base(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    named = {
        _schema_name(operation["requestBody"]["content"]["application/json"]["schema"])
        for item in paths.values()
        for operation in item.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    models = {model.__name__: model for model in _subclasses(BaseModel)}

    assert len(named) > 10
    for name in named - OWN_NUL_RULES:
        assert issubclass(models[name], RequestBody), name


def _schema_name(schema: dict[str, Any]) -> str:
    return str(schema["$ref"].split("/")[-1] if "$ref" in schema else schema["title"])


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]
