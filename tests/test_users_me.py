"""`/users/me`: reading and editing one's own account, and deleting it for good."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import User
from techtribe.notifications.models import OutboxMessage
from tests.helpers import (
    API,
    PASSWORD,
    assert_problem,
    bearer,
    login,
    mailed_token,
    member,
    outbox_for,
    refresh,
    register,
    token_request,
)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def keys_anywhere(value: Any) -> set[str]:
    """Every key of every object in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


# --- reading ---------------------------------------------------------------------------


async def test_me_shows_the_contract_fields_with_an_rfc3339_created_at(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, full_name="Ada Lovelace")

    response = await client.get(f"{API}/users/me", headers=ada.headers)

    assert response.status_code == 200
    body = response.json()
    assert {"id", "email", "full_name", "role", "email_verified", "created_at"} <= body.keys()
    assert body["id"] == ada.id
    assert uuid.UUID(body["id"])
    assert body["email"] == ada.email
    assert body["full_name"] == "Ada Lovelace"
    assert body["role"] == "student"
    assert body["email_verified"] is False
    assert RFC3339.match(body["created_at"]), body["created_at"]
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None


async def test_me_never_shows_a_password_or_its_hash(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)

    response = await client.get(f"{API}/users/me", headers=ada.headers)

    assert response.status_code == 200
    assert not {k for k in keys_anywhere(response.json()) if "password" in k}
    assert "$2b$" not in response.text
    assert PASSWORD not in response.text


async def test_me_shows_the_email_as_verified_after_the_mailed_link_is_used(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)
    token = await mailed_token(db, ada.email, "welcome")

    verified = await client.post(f"{API}/auth/verify-email", json={"token": token})

    assert verified.status_code == 204
    response = await client.get(f"{API}/users/me", headers=ada.headers)
    assert response.json()["email_verified"] is True


async def test_me_without_a_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/users/me")

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- editing ---------------------------------------------------------------------------


async def test_patch_me_changes_name_bio_and_specialization(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, full_name="Ada")
    changes = {"full_name": "Ada King", "bio": "Wrote the first program.", "specialization": "Math"}

    response = await client.patch(f"{API}/users/me", json=changes, headers=ada.headers)

    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in changes} == changes
    again = await client.get(f"{API}/users/me", headers=ada.headers)
    assert {k: again.json()[k] for k in changes} == changes


async def test_patch_me_leaves_fields_it_does_not_name_as_they_were(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, full_name="Ada")
    await client.patch(
        f"{API}/users/me", json={"bio": "Old bio", "specialization": "Math"}, headers=ada.headers
    )

    response = await client.patch(f"{API}/users/me", json={"bio": "New"}, headers=ada.headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["full_name"], body["bio"], body["specialization"]) == ("Ada", "New", "Math")


async def test_patch_me_ignores_role_email_and_unknown_fields(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, full_name="Ada")
    sneaky = {
        "full_name": "Ada K",
        "role": "admin",
        "email": "someone-else@example.com",
        "email_verified": True,
        "is_active": False,
        "favourite_colour": "green",
    }

    response = await client.patch(f"{API}/users/me", json=sneaky, headers=ada.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["full_name"] == "Ada K"
    assert body["role"] == "student"
    assert body["email"] == ada.email
    assert body["email_verified"] is False
    assert "favourite_colour" not in body
    # The stored role is what permission checks read: still not an admin.
    assert_problem(await client.get(f"{API}/users", headers=ada.headers), 403, "forbidden")
    stored = await db.get(User, uuid.UUID(ada.id), populate_existing=True)
    assert stored is not None
    assert (stored.role, stored.email, stored.is_active) == ("student", ada.email, True)


async def test_patch_me_refuses_an_empty_or_blank_full_name(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, full_name="Ada")

    for name in ("", "   "):
        response = await client.patch(
            f"{API}/users/me", json={"full_name": name}, headers=ada.headers
        )
        body = assert_problem(response, 422, "validation_error")
        assert any("full_name" in error["loc"] for error in body["errors"])

    me = await client.get(f"{API}/users/me", headers=ada.headers)
    assert me.json()["full_name"] == "Ada"


async def test_patch_me_refuses_a_full_name_over_100_characters(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db, full_name="Ada")

    too_long = await client.patch(
        f"{API}/users/me", json={"full_name": "x" * 101}, headers=ada.headers
    )
    just_fits = await client.patch(
        f"{API}/users/me", json={"full_name": "y" * 100}, headers=ada.headers
    )

    body = assert_problem(too_long, 422, "validation_error")
    assert any("full_name" in error["loc"] for error in body["errors"])
    assert just_fits.status_code == 200
    assert just_fits.json()["full_name"] == "y" * 100


# --- deleting --------------------------------------------------------------------------


async def test_delete_me_with_a_fresh_token_is_204_and_every_old_token_stops_working(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)
    other_login = await login(client, ada.email)

    response = await client.delete(f"{API}/users/me", headers=ada.headers)

    assert response.status_code == 204
    assert response.content == b""
    for access in (ada.access, other_login["access_token"]):
        gone = await client.get(f"{API}/users/me", headers=bearer(access))
        assert gone.status_code == 401
        assert gone.headers["WWW-Authenticate"].startswith("Bearer")
    refreshed = await refresh(client, ada.refresh)
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    password_login = await token_request(
        client, grant_type="password", username=ada.email, password=ada.password
    )
    assert password_login.status_code == 400
    assert password_login.json()["error"] == "invalid_grant"


async def test_delete_me_with_a_refreshed_token_is_401_fresh_token_required(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)
    stale = (await refresh(client, ada.refresh)).json()["access_token"]

    response = await client.delete(f"{API}/users/me", headers=bearer(stale))

    assert_problem(response, 401, "fresh_token_required")
    assert (await client.get(f"{API}/users/me", headers=ada.headers)).status_code == 200


async def test_deleted_account_is_gone_from_admin_views_and_the_database(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    name = f"Gone {uuid.uuid4().hex[:8]}"
    ada = await member(client, db, full_name=name)

    assert (await client.delete(f"{API}/users/me", headers=ada.headers)).status_code == 204

    assert_problem(
        await client.get(f"{API}/users/{ada.id}", headers=admin.headers), 404, "not_found"
    )
    for q in (name, ada.email, "Deleted user"):
        listing = await client.get(f"{API}/users", params={"q": q}, headers=admin.headers)
        assert listing.status_code == 200
        assert ada.id not in {item["id"] for item in listing.json()["items"]}
        assert ada.email not in listing.text
        assert name not in listing.text
    stored = await db.get(User, uuid.UUID(ada.id), populate_existing=True)
    assert stored is not None  # the row stays, so purchases stay whole
    assert stored.email is None
    assert stored.full_name != name
    assert stored.password_hash is None
    assert stored.deleted_at is not None


async def test_deleted_account_email_may_register_again(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)
    assert (await client.delete(f"{API}/users/me", headers=ada.headers)).status_code == 204

    again = await register(client, email=ada.email, full_name="Ada Again")

    assert again["id"] != ada.id
    assert again["email"] == ada.email
    tokens = await login(client, ada.email)
    me = await client.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["id"] == again["id"]


async def test_deleted_account_leaves_no_mail_in_the_outbox(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)
    reset = await client.post(f"{API}/auth/password-reset", json={"email": ada.email})
    assert reset.status_code == 202
    assert await outbox_for(db, ada.email, "welcome")
    assert await outbox_for(db, ada.email, "password_reset")

    assert (await client.delete(f"{API}/users/me", headers=ada.headers)).status_code == 204

    db.expire_all()
    left = await db.scalars(
        select(OutboxMessage).where(
            (OutboxMessage.user_id == uuid.UUID(ada.id)) | (OutboxMessage.recipient == ada.email)
        )
    )
    assert list(left) == []
