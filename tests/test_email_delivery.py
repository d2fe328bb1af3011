"""Delivery end to end: API -> outbox -> (Redis queue + worker | in-process sender) -> SMTP.

Every test runs on both lanes: through the saq worker and real Redis on the PostgreSQL
lane, through the embedded in-process sender on the SQLite lane. The SMTP server is real
(aiosmtpd on a local port); so is the worker process of the crash test.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.notifications.outbox import enqueue
from techtribe.notifications.sealing import SEALED
from tests.conftest import client_for
from tests.faults import wait_for
from tests.helpers import (
    API,
    assert_problem,
    mailed_parts,
    member,
    outbox_for,
    rated_data,
    register,
    unique_email,
)
from tests.mailing import (
    api_and_sender,
    mail_settings,
    row,
    sending,
    settled,
    smtp_server,
    start_worker,
    stop,
)


def body(message: EmailMessage, kind: str = "plain") -> str:
    part = message.get_body((kind,))
    assert part is not None
    content: str = part.get_content()  # type: ignore[attr-defined]
    return content


def verify_token(message: EmailMessage) -> str:
    match = re.search(r"https://techtribe\.test/#/verify-email\?token=([\w-]+)", body(message))
    assert match, body(message)
    return match[1]


async def add_unqueued_message(db: AsyncSession, recipient: str, comment: str) -> uuid.UUID:
    """A row committed outside any request: nobody was told (as if the API died right then).
    `comment` is quoted in the e-mail."""
    message = await enqueue(db, kind="poem_rated", recipient=recipient, data=rated_data(comment))
    await db.commit()
    return message.id


async def test_registration_mails_one_email_with_a_working_verify_link(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port)
        async with api_and_sender(settings) as app, client_for(app) as client:
            user = await register(client, full_name="Ada Lovelace")
            email = user["email"]
            [queued] = await outbox_for(db, email, "welcome")
            sent = await settled(db, queued.id)
            assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)

            [mail] = inbox.to(email)
            assert mail["Subject"] == "Welcome to TechTribe: please confirm your e-mail"
            assert mail["Message-ID"] == f"<{queued.id}@techtribe.dev>"
            assert "Hello Ada Lovelace," in body(mail)
            token = verify_token(mail)
            assert f'href="https://techtribe.test/#/verify-email?token={token}"' in body(
                mail, "html"
            )

            verified = await client.post(f"{API}/auth/verify-email", json={"token": token})
            assert verified.status_code == 204, verified.text
            await asyncio.sleep(1)
            assert len(inbox.to(email)) == 1


async def test_a_server_failing_twice_then_accepting_delivers_once(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        email = unique_email()
        inbox.fail(email, times=2)
        settings = mail_settings(port, email_max_attempts=3)
        async with api_and_sender(settings) as app, client_for(app) as client:
            await register(client, email=email)
            [queued] = await outbox_for(db, email, "welcome")
            sent = await settled(db, queued.id)

            assert (sent.status, sent.attempts) == ("sent", 3)
            assert sent.last_error is not None
            assert "451" in sent.last_error
            assert inbox.refused.count(email) == 2
            assert len(inbox.to(email)) == 1


async def test_a_retry_goes_out_on_time_while_new_messages_keep_coming(
    migrated: None, db: AsyncSession
) -> None:
    # New messages are sent as they commit; the sweep that picks up retries must still run
    # every poll period when such notices never stop (here one every 0.2 s, the period 1 s).
    async with smtp_server() as (inbox, port):
        email = unique_email()
        inbox.fail(email, times=1)
        settings = mail_settings(port, outbox_poll_seconds=1.0)
        async with api_and_sender(settings) as app, client_for(app) as client:
            await register(client, email=email)
            [queued] = await outbox_for(db, email, "welcome")
            deadline = time.monotonic() + 5
            while (await row(db, queued.id)).status == "pending":
                assert time.monotonic() < deadline, "the retry waited for a quiet moment"
                await register(client)
                await asyncio.sleep(0.2)

            assert (await row(db, queued.id)).attempts == 2
            assert inbox.refused.count(email) == 1
            assert len(inbox.to(email)) == 1


async def test_a_server_always_failing_ends_failed_after_the_configured_tries(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        email = unique_email()
        inbox.fail(email, times=-1, reply="550 5.1.1 Mailbox unavailable")
        settings = mail_settings(port, email_max_attempts=3)
        async with api_and_sender(settings) as app, client_for(app) as client:
            await register(client, email=email)
            [queued] = await outbox_for(db, email, "welcome")
            token = str(mailed_parts(queued)["token"])  # read before the last try erases it
            failed = await settled(db, queued.id)

            assert (failed.status, failed.attempts) == ("failed", 3)
            assert failed.last_error is not None
            assert "550" in failed.last_error
            assert token not in failed.last_error
            # Failed for good: the link it carried is erased, never to be sent.
            assert SEALED not in failed.payload
            assert inbox.refused.count(email) == 3
            assert inbox.to(email) == []
            await asyncio.sleep(1)
            assert inbox.refused.count(email) == 3  # no fourth try


async def test_admin_retry_sends_a_failed_message_again(migrated: None, db: AsyncSession) -> None:
    async with smtp_server() as (inbox, port):
        email = unique_email()
        inbox.fail(email, times=-1, reply="550 5.1.1 Mailbox unavailable")
        settings = mail_settings(port, email_max_attempts=2)
        async with api_and_sender(settings) as app, client_for(app) as client:
            admin = await member(client, db, role="admin")
            notice = await enqueue(db, kind="poem_rated", recipient=email, data=rated_data())
            await db.commit()
            assert (await settled(db, notice.id)).status == "failed"
            listed = await client.get(f"{API}/admin/outbox?status=failed", headers=admin.headers)
            assert str(notice.id) in {item["id"] for item in listed.json()["items"]}

            del inbox.rules[email]  # the mailbox works again
            retried = await client.post(
                f"{API}/admin/outbox/{notice.id}/retry", headers=admin.headers
            )
            assert retried.status_code == 200, retried.text
            assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
            sent = await settled(db, notice.id)

            assert (sent.status, sent.attempts) == ("sent", 1)
            assert len(inbox.to(email)) == 1


async def test_a_failed_message_whose_link_was_erased_is_not_retried(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        email = unique_email()
        inbox.fail(email, times=-1, reply="550 5.1.1 Mailbox unavailable")
        settings = mail_settings(port, email_max_attempts=1)
        async with api_and_sender(settings) as app, client_for(app) as client:
            admin = await member(client, db, role="admin")
            await register(client, email=email)
            [welcome] = await outbox_for(db, email, "welcome")
            assert (await settled(db, welcome.id)).status == "failed"

            retried = await client.post(
                f"{API}/admin/outbox/{welcome.id}/retry", headers=admin.headers
            )

            assert_problem(retried, 409, "secret_erased")
            assert (await row(db, welcome.id)).status == "failed"


async def test_rows_pending_before_the_sender_starts_go_out_at_start(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port)
        recipient = unique_email()
        message_id = await add_unqueued_message(db, recipient, "We were waiting.")

        async with sending(settings):
            sent = await settled(db, message_id)

        assert sent.status == "sent"
        [mail] = inbox.to(recipient)
        assert "We were waiting." in body(mail)


async def test_the_sweep_sends_a_row_committed_but_never_queued(
    migrated: None, db: AsyncSession
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port)
        recipient = unique_email()
        async with sending(settings):
            await asyncio.sleep(1.5)  # past the start-up round: only the sweep can find it
            message_id = await add_unqueued_message(db, recipient, "Swept up.")
            sent = await settled(db, message_id)

        assert sent.status == "sent"
        [mail] = inbox.to(recipient)
        assert "Swept up." in body(mail)


async def test_a_worker_killed_mid_send_is_replaced_and_the_email_goes_out_once(
    migrated: None, db: AsyncSession, tmp_path: Path
) -> None:
    async with smtp_server() as (inbox, port):
        settings = mail_settings(port, email_send_timeout_seconds=3)
        recipient = unique_email()
        rule = inbox.hold(recipient)  # the first try hangs in the SMTP conversation
        message_id = await add_unqueued_message(db, recipient, "Survived a crash.")

        first = await start_worker(settings, tmp_path)
        try:

            async def held() -> bool:
                return rule.held.is_set()

            await wait_for(held, seconds=60, what="the first worker to reach the server")
            first.kill()  # SIGKILL: no clean-up, its claim on the row stays
            await first.wait()
        finally:
            await stop(first)
        assert rule.hold is not None
        rule.hold.set()
        claimed = await row(db, message_id)
        assert (claimed.status, claimed.attempts) == ("pending", 1)
        assert claimed.locked_until is not None

        second = await start_worker(settings, tmp_path)
        try:
            sent = await settled(db, message_id)
            assert (sent.status, sent.attempts) == ("sent", 2)
            await asyncio.sleep(1.5)
            assert len(inbox.to(recipient)) == 1
            assert "Survived a crash." in body(inbox.to(recipient)[0])
        finally:
            await stop(second)
