"""`GET /instructors/{id}`: a public profile anyone may read, never with an e-mail address."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.helpers import API, assert_problem, member


def keys_anywhere(value: Any) -> set[str]:
    """Every key of every object in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


async def test_anyone_reads_an_instructor_profile_without_an_email_anywhere(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    grace = await member(client, db, role="instructor", full_name="Grace Hopper")
    await client.patch(
        f"{API}/users/me",
        json={"bio": "Compilers and COBOL.", "specialization": "Compilers"},
        headers=grace.headers,
    )

    response = await client.get(f"{API}/instructors/{grace.id}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == grace.id
    assert body["full_name"] == "Grace Hopper"
    assert body["bio"] == "Compilers and COBOL."
    assert body["specialization"] == "Compilers"
    assert "email" not in keys_anywhere(body)
    assert grace.email not in response.text
    assert "$2b$" not in response.text


async def test_a_signed_in_caller_sees_no_email_either(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    grace = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")

    response = await client.get(f"{API}/instructors/{grace.id}", headers=admin.headers)

    assert response.status_code == 200
    assert "email" not in keys_anywhere(response.json())
    assert grace.email not in response.text


async def test_a_student_has_no_instructor_profile(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ada = await member(client, db)

    assert_problem(await client.get(f"{API}/instructors/{ada.id}"), 404, "not_found")


async def test_an_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{API}/instructors/{uuid.uuid4()}"), 404, "not_found")


async def test_a_non_uuid_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/instructors/grace-hopper")

    body = assert_problem(response, 422, "validation_error")
    assert any("user_id" in error["loc"] for error in body["errors"])


async def test_a_deleted_instructor_profile_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    grace = await member(client, db, role="instructor")
    assert (await client.get(f"{API}/instructors/{grace.id}")).status_code == 200

    assert (await client.delete(f"{API}/users/me", headers=grace.headers)).status_code == 204

    assert_problem(await client.get(f"{API}/instructors/{grace.id}"), 404, "not_found")


async def test_a_deactivated_instructor_profile_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    grace = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")

    deactivated = await client.patch(
        f"{API}/users/{grace.id}", json={"is_active": False}, headers=admin.headers
    )

    assert deactivated.status_code == 200
    assert_problem(await client.get(f"{API}/instructors/{grace.id}"), 404, "not_found")
