"""E-mail addresses are compared in one normal form: NFC, Unicode domain, lower case."""

from __future__ import annotations

import unicodedata
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.helpers import API, PASSWORD, assert_problem, login, outbox_for, register


def addresses() -> tuple[str, str]:
    """One address in its composed (NFC) and decomposed (NFD) forms."""
    nfc = f"jos\u00e9.{uuid.uuid4().hex[:8]}@b\u00fccher.example"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    return nfc, nfd


async def test_address_typed_in_nfd_signs_in_to_the_account_registered_in_nfc(
    client: httpx.AsyncClient,
) -> None:
    nfc, nfd = addresses()
    user = await register(client, email=nfc)

    tokens = await login(client, nfd)

    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert (me.json()["id"], me.json()["email"]) == (user["id"], nfc)


async def test_account_registered_in_nfd_is_stored_in_nfc_and_signs_in_either_way(
    client: httpx.AsyncClient,
) -> None:
    nfc, nfd = addresses()

    user = await register(client, email=nfd)

    assert user["email"] == nfc
    await login(client, nfc)
    await login(client, nfd)
    await login(client, nfd.upper())


async def test_registering_the_nfd_twin_of_an_address_is_409_email_taken(
    client: httpx.AsyncClient,
) -> None:
    nfc, nfd = addresses()
    await register(client, email=nfc)

    twin = await client.post(
        f"{API}/auth/register",
        json={"email": nfd, "password": PASSWORD, "full_name": "Twin"},
    )

    assert_problem(twin, 409, "email_taken")


async def test_ascii_encoded_domain_is_the_same_address(client: httpx.AsyncClient) -> None:
    local = f"ana.{uuid.uuid4().hex[:8]}"
    user = await register(client, email=f"{local}@b\u00fccher.example")

    await login(client, f"{local.upper()}@XN--BCHER-KVA.example")

    assert_problem(
        await client.post(
            f"{API}/auth/register",
            json={
                "email": f"{local}@xn--bcher-kva.example",
                "password": PASSWORD,
                "full_name": "A",
            },
        ),
        409,
        "email_taken",
    )
    assert user["email"] == f"{local}@b\u00fccher.example"


async def test_password_reset_for_the_nfd_form_mails_the_account(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    nfc, nfd = addresses()
    await register(client, email=nfc)

    answer = await client.post(f"{API}/auth/password-reset", json={"email": nfd})

    assert answer.status_code == 202
    assert len(await outbox_for(db, nfc, "password_reset")) == 1
