"""Admin management of members: `GET /users` (filters, sorts, pages) and `PATCH /users/{id}`."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import User
from techtribe.users.service import USER_SORTS
from tests.cursors import signed_cursor
from tests.helpers import (
    API,
    Member,
    assert_oauth_error,
    assert_problem,
    assert_unauthorized,
    bearer,
    login,
    member,
    refresh,
    register,
    unique_email,
)

MEMBERS = 25
NOON = "2026-01-01T12:00:00+00:00"
PAGE = 7


def prefix() -> str:
    """A name prefix no other test's member (nor any generated e-mail) contains."""
    return f"Zq{uuid.uuid4().hex[:8]}"


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def listing(client: httpx.AsyncClient, admin: Member, **params: Any) -> httpx.Response:
    return await client.get(f"{API}/users", params=params, headers=admin.headers)


async def all_pages(client: httpx.AsyncClient, admin: Member, **params: Any) -> list[list[str]]:
    """The ids of every page, following `next_cursor` to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await listing(client, admin, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(ids(body["items"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= MEMBERS, "pagination does not end"


def cursor_of(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# --- who may list ---------------------------------------------------------------------


async def test_listing_users_anonymously_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{API}/users")

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["student", "instructor"])
async def test_listing_users_as_a_non_admin_is_403_forbidden(
    client: httpx.AsyncClient, db: AsyncSession, role: str
) -> None:
    caller = await member(client, db, role=role)

    assert_problem(await client.get(f"{API}/users", headers=caller.headers), 403, "forbidden")
    assert_problem(
        await client.get(f"{API}/users/{caller.id}", headers=caller.headers), 403, "forbidden"
    )
    assert_problem(
        await client.patch(
            f"{API}/users/{caller.id}", json={"role": "admin"}, headers=caller.headers
        ),
        403,
        "forbidden",
    )


async def test_admin_listing_shows_members_without_password_hashes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    name = prefix()
    ada = await member(client, db, full_name=name)

    response = await listing(client, admin, q=name)

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert (item["id"], item["email"], item["full_name"]) == (ada.id, ada.email, name)
    assert not [key for key in item if "password" in key]
    assert "$2b$" not in response.text


# --- filters --------------------------------------------------------------------------


async def test_admin_filters_members_by_role(client: httpx.AsyncClient, db: AsyncSession) -> None:
    admin = await member(client, db, role="admin")
    name = prefix()
    student = await member(client, db, full_name=f"{name} student")
    teachers = [
        await member(client, db, role="instructor", full_name=f"{name} t{i}") for i in (1, 2)
    ]

    instructors = await listing(client, admin, q=name, role="instructor")
    students = await listing(client, admin, q=name, role="student")

    assert set(ids(instructors.json()["items"])) == {t.id for t in teachers}
    assert ids(students.json()["items"]) == [student.id]
    assert_problem(await listing(client, admin, role="superuser"), 422, "validation_error")


async def test_admin_search_matches_name_or_email_ignoring_case(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    name = prefix()
    by_name = await member(client, db, full_name=f"{name} Grace Hopper")
    mail = unique_email(name.lower())
    by_mail = await register(client, email=mail, full_name="Someone Else")

    everyone = await listing(client, admin, q=name.upper())
    grace = await listing(client, admin, q=f"{name} grace HOPPER".lower())
    mailbox = await listing(client, admin, q=mail.split("@")[0].upper())

    assert set(ids(everyone.json()["items"])) == {by_name.id, by_mail["id"]}
    assert ids(grace.json()["items"]) == [by_name.id]
    assert ids(mailbox.json()["items"]) == [by_mail["id"]]


async def test_admin_search_treats_like_wildcards_literally(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    name = prefix()
    await member(client, db, full_name=f"{name}abc")
    literal = await member(client, db, full_name=f"{name}50%_off")

    percent = await listing(client, admin, q=f"{name}%")
    underscore = await listing(client, admin, q=f"{name}_bc")
    both = await listing(client, admin, q="50%_off")

    assert percent.json()["items"] == []
    assert underscore.json()["items"] == []
    assert ids(both.json()["items"]) == [literal.id]


# --- sorts and keyset pages -----------------------------------------------------------


def _uuid(item: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(item["id"])


def _created(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["created_at"])


# How each sort must order members, ties broken by id: a sort key and whether it is reversed.
EXPECTED_ORDER: dict[str, tuple[Callable[[dict[str, Any]], Any], bool]] = {
    "newest": (lambda item: (_created(item), _uuid(item)), True),
    "name": (lambda item: (item["full_name"], _uuid(item)), False),
    "poems": (lambda item: (-item["poems_count"], _uuid(item)), False),
    "ratings": (lambda item: (-item["ratings_count"], _uuid(item)), False),
}


async def _crowd(client: httpx.AsyncClient, db: AsyncSession, name: str) -> list[str]:
    """`MEMBERS` members whose names, join times and counts tie in groups."""
    created = [
        (await register(client, full_name=f"{name}-n{i % 6:02d}"))["id"] for i in range(MEMBERS)
    ]
    same_moment = datetime.fromisoformat("2026-01-02T03:04:05.678901+00:00")
    for i, user_id in enumerate(created):
        values: dict[str, Any] = {"poems_count": (i * 7) % 4, "ratings_count": (i * 5) % 3}
        if i % 3 == 0:
            values["created_at"] = same_moment
        await db.execute(update(User).where(User.id == uuid.UUID(user_id)).values(**values))
    await db.commit()
    return created


@pytest.mark.parametrize("sort", ["newest", "name", "poems", "ratings"])
async def test_keyset_pages_list_every_member_once_in_sort_order(
    client: httpx.AsyncClient, db: AsyncSession, sort: str
) -> None:
    admin = await member(client, db, role="admin")
    name = prefix()
    created = await _crowd(client, db, name)
    whole = await listing(client, admin, q=name, sort=sort, limit=100)
    key, reverse = EXPECTED_ORDER[sort]

    pages = await all_pages(client, admin, q=name, sort=sort, limit=PAGE)

    items = whole.json()["items"]
    assert ids(items) == ids(sorted(items, key=key, reverse=reverse))
    assert [len(page) for page in pages] == [7, 7, 7, 4]
    paged = [user_id for page in pages for user_id in page]
    assert len(paged) == len(set(paged)) == MEMBERS
    assert set(paged) == set(created)
    assert paged == ids(items)


@pytest.mark.parametrize("limit", [0, 101, -1])
async def test_limit_outside_1_to_100_is_422(
    client: httpx.AsyncClient, db: AsyncSession, limit: int
) -> None:
    admin = await member(client, db, role="admin")

    body = assert_problem(await listing(client, admin, limit=limit), 422, "validation_error")

    assert any("limit" in error["loc"] for error in body["errors"])


async def test_limit_1_and_100_are_accepted(client: httpx.AsyncClient, db: AsyncSession) -> None:
    admin = await member(client, db, role="admin")

    one = await listing(client, admin, limit=1)
    hundred = await listing(client, admin, limit=100)

    assert one.status_code == hundred.status_code == 200
    assert len(one.json()["items"]) == 1


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage!", id="not-base64"),
        pytest.param("abc", id="truncated"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), id="not-json"),
        pytest.param(cursor_of([1, 2]), id="json-list"),
        pytest.param(cursor_of({"s": "newest"}), id="no-values"),
        pytest.param(cursor_of({"s": "newest", "k": ["2026-01-01T00:00:00+00:00"]}), id="short"),
        pytest.param(cursor_of({"s": "newest", "k": ["yesterday", str(uuid.uuid4())]}), id="date"),
        pytest.param(cursor_of({"s": "newest", "k": [NOON, 123]}), id="int-id"),
        pytest.param(cursor_of({"s": "newest", "k": [NOON, {"a": 1}]}), id="object-id"),
    ],
)
async def test_garbage_cursor_is_422_invalid_cursor(
    client: httpx.AsyncClient, db: AsyncSession, cursor: str
) -> None:
    admin = await member(client, db, role="admin")

    body = assert_problem(await listing(client, admin, cursor=cursor), 422, "invalid_cursor")

    assert any("cursor" in error["loc"] for error in body["errors"])


@pytest.mark.parametrize(
    ("sort", "values"),
    [
        pytest.param("name", [5, str(uuid.uuid4())], id="number-for-name"),
        pytest.param("name", ["Ada", 7], id="number-for-id"),
        pytest.param("poems", ["many", str(uuid.uuid4())], id="text-for-count"),
        pytest.param("ratings", [10**30, str(uuid.uuid4())], id="count-out-of-range"),
        pytest.param("poems", [True, str(uuid.uuid4())], id="bool-for-count"),
    ],
)
async def test_cursor_with_values_of_the_wrong_type_is_422_not_a_server_error(
    client: httpx.AsyncClient, db: AsyncSession, sort: str, values: list[Any]
) -> None:
    admin = await member(client, db, role="admin")
    # Signed with the server's key: the values themselves must be refused, not only the MAC.
    forged = signed_cursor(client, USER_SORTS[sort], values)

    response = await listing(client, admin, sort=sort, cursor=forged)

    assert_problem(response, 422, "invalid_cursor")


async def test_cursor_of_one_sort_is_422_for_another(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    name = prefix()
    for _ in range(3):
        await register(client, full_name=name)
    first = await listing(client, admin, q=name, sort="name", limit=1)
    by_name = first.json()["next_cursor"]
    assert by_name

    mixed = await listing(client, admin, q=name, sort="newest", limit=1, cursor=by_name)
    same = await listing(client, admin, q=name, sort="name", limit=1, cursor=by_name)

    assert_problem(mixed, 422, "invalid_cursor")
    assert same.status_code == 200


# --- one member -----------------------------------------------------------------------


async def test_admin_reads_one_member_with_admin_fields(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db, full_name="Ada")

    response = await client.get(f"{API}/users/{ada.id}", headers=admin.headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["email"], body["role"], body["is_active"]) == (
        ada.id,
        ada.email,
        "student",
        True,
    )
    assert "$2b$" not in response.text


async def test_admin_promotes_a_student_to_instructor_and_their_next_request_sees_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db, full_name="Ada")
    before = await client.get(f"{API}/instructors/{ada.id}")

    response = await client.patch(
        f"{API}/users/{ada.id}", json={"role": "instructor"}, headers=admin.headers
    )

    assert before.status_code == 404
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "instructor"
    assert (await client.get(f"{API}/instructors/{ada.id}")).status_code == 200
    me = await client.get(f"{API}/users/me", headers=ada.headers)
    assert me.json()["role"] == "instructor"


async def test_promotion_to_admin_applies_to_tokens_issued_before_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db)
    assert_problem(await client.get(f"{API}/users", headers=ada.headers), 403, "forbidden")

    promoted = await client.patch(
        f"{API}/users/{ada.id}", json={"role": "admin"}, headers=admin.headers
    )

    assert promoted.status_code == 200
    assert (await client.get(f"{API}/users", headers=ada.headers)).status_code == 200


async def test_demoted_admin_loses_admin_access_at_once(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    other = await member(client, db, role="admin")
    assert (await client.get(f"{API}/users", headers=other.headers)).status_code == 200

    demoted = await client.patch(
        f"{API}/users/{other.id}", json={"role": "student"}, headers=admin.headers
    )

    assert demoted.status_code == 200
    assert_problem(await client.get(f"{API}/users", headers=other.headers), 403, "forbidden")


async def test_deactivated_member_is_locked_out_at_once(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db)

    response = await client.patch(
        f"{API}/users/{ada.id}", json={"is_active": False}, headers=admin.headers
    )

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert_problem(await client.get(f"{API}/users/me", headers=ada.headers), 401, "inactive_user")
    grant = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": ada.email, "password": ada.password},
    )
    assert grant.status_code == 400
    assert grant.json()["error"] == "invalid_grant"


async def test_patch_user_with_an_unknown_role_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db)

    response = await client.patch(
        f"{API}/users/{ada.id}", json={"role": "superuser"}, headers=admin.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert any("role" in error["loc"] for error in body["errors"])
    me = await client.get(f"{API}/users/me", headers=ada.headers)
    assert me.json()["role"] == "student"


async def test_patch_or_get_an_unknown_user_is_404_not_found(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    nobody = uuid.uuid4()

    patched = await client.patch(
        f"{API}/users/{nobody}", json={"role": "instructor"}, headers=admin.headers
    )
    read = await client.get(f"{API}/users/{nobody}", headers=admin.headers)

    assert_problem(patched, 404, "not_found")
    assert_problem(read, 404, "not_found")
    assert_problem(
        await client.get(f"{API}/users/not-a-uuid", headers=admin.headers), 422, "validation_error"
    )


async def test_patch_of_a_deleted_member_is_404_and_does_not_revive_them(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db)
    assert (await client.delete(f"{API}/users/me", headers=bearer(ada.access))).status_code == 204

    response = await client.patch(
        f"{API}/users/{ada.id}", json={"is_active": True}, headers=admin.headers
    )

    assert_problem(response, 404, "not_found")


# --- admins and their own powers (fresh tokens, no self-changes, revocation) ----------


async def test_patch_user_with_a_refreshed_admin_token_is_401_fresh_token_required(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db)
    refreshed = await refresh(client, admin.refresh)
    assert refreshed.status_code == 200, refreshed.text

    response = await client.patch(
        f"{API}/users/{ada.id}",
        json={"role": "admin"},
        headers=bearer(refreshed.json()["access_token"]),
    )

    assert_unauthorized(response, "fresh_token_required")
    stored = await client.get(f"{API}/users/{ada.id}", headers=admin.headers)
    assert stored.json()["role"] == "student"


@pytest.mark.parametrize("change", [{"role": "student"}, {"is_active": False}])
async def test_admin_changing_their_own_role_or_activation_is_409_cannot_change_self(
    client: httpx.AsyncClient, db: AsyncSession, change: dict[str, Any]
) -> None:
    admin = await member(client, db, role="admin")

    response = await client.patch(f"{API}/users/{admin.id}", json=change, headers=admin.headers)

    assert_problem(response, 409, "cannot_change_self")
    me = await client.get(f"{API}/users/me", headers=admin.headers)
    assert (me.status_code, me.json()["role"]) == (200, "admin")
    assert (await client.get(f"{API}/users", headers=admin.headers)).status_code == 200


async def test_admin_sending_their_own_unchanged_role_is_not_a_change(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")

    response = await client.patch(
        f"{API}/users/{admin.id}", json={"role": "admin", "is_active": True}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["is_active"]) == ("admin", True)


async def test_another_admin_may_demote_an_admin(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    other = await member(client, db, role="admin")

    response = await client.patch(
        f"{API}/users/{admin.id}", json={"role": "student"}, headers=other.headers
    )

    assert (response.status_code, response.json()["role"]) == (200, "student")


async def test_deactivation_revokes_every_session_and_reactivation_does_not_revive_them(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ada = await member(client, db)
    second = await login(client, ada.email)

    off = await client.patch(
        f"{API}/users/{ada.id}", json={"is_active": False}, headers=admin.headers
    )
    assert off.status_code == 200, off.text
    assert_oauth_error(await refresh(client, second["refresh_token"]), "invalid_grant")
    on = await client.patch(
        f"{API}/users/{ada.id}", json={"is_active": True}, headers=admin.headers
    )
    assert (on.status_code, on.json()["is_active"]) == (200, True)

    for access in (ada.access, second["access_token"]):
        assert_unauthorized(
            await client.get(f"{API}/users/me", headers=bearer(access)), "token_revoked"
        )
    for refresh_token in (ada.refresh, second["refresh_token"]):
        assert_oauth_error(await refresh(client, refresh_token), "invalid_grant")
    fresh = await login(client, ada.email)
    me = await client.get(f"{API}/users/me", headers=bearer(fresh["access_token"]))
    assert (me.status_code, me.json()["id"]) == (200, ada.id)
