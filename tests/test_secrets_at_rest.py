"""Secrets at rest: the database never holds a usable verify or reset token, not even in the
e-mails queued or sent; a queued e-mail's link is sealed, and erased once it is sent."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.config import Settings
from techtribe.models import Base
from techtribe.notifications.sealing import SEALED, SealBroken, Sealer, opened, sealer_for
from tests.conftest import client_for, make_settings
from tests.helpers import API, outbox_for, register, unique_email
from tests.mailing import api_and_sender, mail_settings, settled, smtp_server

NEW_PASSWORD = "fresh-start-2024"
LINK = r"https://techtribe\.test/#/{path}\?token=([\w-]+)"


def mailed_token(mail: EmailMessage, path: str) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    text: str = part.get_content()  # type: ignore[attr-defined]
    match = re.search(LINK.format(path=path), text)
    assert match, text
    return match[1]


# Where a token could end up: mail, one-time tokens, logins, sign-in state.
TABLES = (
    "outbox",
    "one_time_tokens",
    "auth_sessions",
    "refresh_tokens",
    "oidc_states",
    "oidc_login_codes",
)


async def database_text(db: AsyncSession) -> str:
    """Every row of the tables a token could reach, as text: what a dump of them shows."""
    db.expire_all()
    rows = []
    for name in TABLES:
        table = Base.metadata.tables[name]
        rows.extend(repr(tuple(row)) for row in await db.execute(select(table)))
    return "\n".join(rows)


async def test_no_usable_token_is_stored_while_queued_or_after_sending(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        email = unique_email()
        held = inbox.hold(email)  # the mail server keeps the welcome e-mail waiting
        # A send waits while the server holds it: don't let it time out meanwhile.
        settings = mail_settings(port, email_send_timeout_seconds=10)
        async with api_and_sender(settings) as app, client_for(app) as client:
            await register(client, email=email)
            await asyncio.wait_for(held.held.wait(), 20)
            [welcome] = await outbox_for(db, email, "welcome")
            welcome_id, queued_payload = welcome.id, dict(welcome.payload)
            queued = await database_text(db)
            assert held.hold is not None
            held.hold.set()
            await settled(db, welcome_id)
            asked = await client.post(f"{API}/auth/password-reset", json={"email": email})
            assert asked.status_code == 202
            [reset] = await outbox_for(db, email, "password_reset")
            assert (await settled(db, reset.id)).status == "sent"
            stored = await database_text(db)

            welcome_mail, reset_mail = inbox.to(email)
            verify_token = mailed_token(welcome_mail, "verify-email")
            reset_token = mailed_token(reset_mail, "reset-password")
            # While queued, the link was in the row, but sealed.
            assert SEALED in queued_payload
            assert verify_token not in queued
            assert opened(queued_payload, sealer_for(settings))["token"] == verify_token
            # Sent: not even sealed any more.
            assert verify_token not in stored
            assert reset_token not in stored
            for kind in ("welcome", "password_reset"):
                [message] = await outbox_for(db, email, kind)
                assert SEALED not in message.payload
            # And the e-mails work.
            verified = await client.post(f"{API}/auth/verify-email", json={"token": verify_token})
            assert verified.status_code == 204, verified.text
            confirmed = await client.post(
                f"{API}/auth/password-reset/confirm",
                json={"token": reset_token, "new_password": NEW_PASSWORD},
            )
            assert confirmed.status_code == 204, confirmed.text


def test_sealed_parts_open_only_with_the_key_they_were_sealed_with() -> None:
    sealed = Sealer("k" * 32).seal({"token": "abc"})

    assert Sealer("k" * 32).open(sealed) == {"token": "abc"}
    with pytest.raises(SealBroken):
        Sealer("j" * 32).open(sealed)
    with pytest.raises(SealBroken):
        Sealer("k" * 32).open(sealed[:-4] + "AAAA")


def test_data_encryption_key_replaces_the_jwt_secret_as_the_key() -> None:
    default, own = make_settings(), make_settings(data_encryption_key="d" * 40)
    sealed = sealer_for(own).seal({"token": "abc"})

    assert sealer_for(own).open(sealed) == {"token": "abc"}
    with pytest.raises(SealBroken):
        sealer_for(default).open(sealed)


def test_a_short_data_encryption_key_is_refused() -> None:
    with pytest.raises(ValueError, match="DATA_ENCRYPTION_KEY"):
        Settings(data_encryption_key="short")
