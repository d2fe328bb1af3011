"""E-mails as data: every kind renders text and HTML from its data alone, with its words
from the templates and its links built from PUBLIC_BASE_URL; escaping; old rows."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.notifications import rendering
from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.outbox import enqueue
from techtribe.notifications.rendering import Email, kinds, render, subject_of
from techtribe.notifications.sealing import Sealer, opened

BASE = "https://school.example/techtribe"
TEMPLATES = Path(rendering.__file__).parent / "templates"

# The data each kind's service queues (tokens: the sealed part, opened by the sender).
KINDS: dict[str, dict[str, Any]] = {
    "welcome": {"token": "tok-123", "name": "Ada", "valid_hours": 48},
    "password_reset": {"token": "tok-456", "name": "Ada", "valid_minutes": 60},
    "purchase_receipt": {
        "purchase_id": "p-1",
        "name": "Ada",
        "items": [{"title": "Async Python", "price": "EUR 49.00"}],
        "total": "EUR 49.00",
        "card": "visa card ending in 4242",
    },
    "purchase_refunded": {
        "purchase_id": "p-1",
        "name": "Ada",
        "amount": "EUR 49.00",
        "card": "visa card ending in 4242",
    },
    "advisory_cancelled": {
        "slot_id": "s-1",
        "name": "Ada",
        "topic": "Code review",
        "starts_at": "2026-12-01 10:00 UTC",
    },
    "poem_rated": {
        "name": "Ada",
        "poem_id": "poem-9",
        "poem_title": "Ode to asyncio",
        "score": 4,
        "comment": "Lovely",
        "rater_name": "Grace",
    },
}
LINKS = {
    "welcome": f"{BASE}/#/verify-email?token=tok-123",
    "password_reset": f"{BASE}/#/reset-password?token=tok-456",
    "purchase_receipt": f"{BASE}/#/purchases/p-1",
    "purchase_refunded": f"{BASE}/#/purchases/p-1",
    "advisory_cancelled": f"{BASE}/#/advisories",
    "poem_rated": f"{BASE}/#/poems/poem-9",
}
SUBJECTS = {
    "welcome": "Welcome to TechTribe: please confirm your e-mail",
    "password_reset": "Reset your TechTribe password",
    "purchase_receipt": "Your TechTribe receipt",
    "purchase_refunded": "Your TechTribe purchase was refunded",
    "advisory_cancelled": "Cancelled: Code review",
    "poem_rated": 'Your poem "Ode to asyncio" was rated',
}


def message(kind: str, payload: dict[str, Any]) -> OutboxMessage:
    data = {name: value for name, value in payload.items() if name != "token"}
    return OutboxMessage(
        id=uuid.uuid4(),
        kind=kind,
        recipient="ada@example.com",
        subject=subject_of(kind, data),
        payload=data,
    )


def rendered(kind: str, **data: Any) -> Email:
    return render(
        message(kind, data), sender="TechTribe <no-reply@t.dev>", base_url=BASE, data=data
    )


def test_every_kind_with_templates_is_tested_here_and_has_both() -> None:
    assert kinds() == sorted(KINDS)
    for kind in kinds():
        assert (TEMPLATES / f"{kind}.txt").is_file()
        assert (TEMPLATES / f"{kind}.html").is_file()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_text_and_html_from_data_with_links_from_the_base_url(
    kind: str,
) -> None:
    email = rendered(kind, **KINDS[kind])

    assert LINKS[kind] in email.text
    assert f'href="{LINKS[kind]}"' in email.html
    assert email.html.startswith("<!DOCTYPE html>")
    assert f'href="{BASE}/"' in email.html  # the base layout's header and footer
    assert email.text.startswith("Hello Ada,\n")
    assert f"TechTribe · {BASE}/" in email.text
    assert email.subject == SUBJECTS[kind]
    assert email.recipient == "ada@example.com"


def test_no_template_builds_a_link_itself() -> None:
    # Links come from `links.py` only: a template writing a URL would miss PUBLIC_BASE_URL.
    for path in TEMPLATES.iterdir():
        source = path.read_text()
        assert "#/" not in source, path.name
        assert "base_url" not in source, path.name
        assert "http" not in source, path.name


def test_details_fill_the_templates() -> None:
    receipt = rendered("purchase_receipt", **KINDS["purchase_receipt"])
    assert "- Async Python: EUR 49.00" in receipt.text
    assert "Total: EUR 49.00, paid with visa card ending in 4242." in receipt.text

    rated = rendered("poem_rated", **KINDS["poem_rated"])
    assert 'Grace rated your poem "Ode to asyncio": 4 out of 5.' in rated.text
    assert '"Lovely"' in rated.text


def test_a_poem_title_with_a_script_tag_is_escaped_in_html() -> None:
    data = {**KINDS["poem_rated"], "poem_title": "<script>alert(1)</script>"}
    data["comment"] = "<b>bold</b> & more"

    email = rendered("poem_rated", **data)

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in email.html
    # Plain text is not HTML: it shows the title as written, in the body and the subject.
    assert '"<script>alert(1)</script>"' in email.text
    assert email.subject == 'Your poem "<script>alert(1)</script>" was rated'


def test_a_rating_without_comment_leaves_the_quote_out() -> None:
    email = rendered("poem_rated", **{**KINDS["poem_rated"], "comment": None})
    assert "<blockquote" not in email.html
    assert '""' not in email.text


def test_a_kind_without_templates_fails_loudly() -> None:
    with pytest.raises(TemplateNotFound):
        subject_of("brand_new_kind", {})
    msg = OutboxMessage(id=uuid.uuid4(), kind="brand_new_kind", recipient="a@t.dev", subject="s")
    with pytest.raises(TemplateNotFound):
        render(msg, sender="x@t.dev", base_url=BASE, data={})


def test_data_missing_a_field_fails_loudly_instead_of_printing_nothing() -> None:
    msg = message("purchase_receipt", KINDS["purchase_receipt"])
    data = {name: value for name, value in KINDS["purchase_receipt"].items() if name != "total"}
    with pytest.raises(UndefinedError):
        render(msg, sender="x@t.dev", base_url=BASE, data=data)


def test_a_row_queued_before_the_templates_owned_the_words_renders_from_its_data() -> None:
    # The old shape: a plain-text `text` beside the data, or sealed with the token and link.
    sealer = Sealer("k" * 32)
    old_link = "http://old.example/#/verify-email?token=tok-123"
    old_text = f"Hello Ada,\n\nThe stored text: {old_link}\n"
    old_welcome = OutboxMessage(
        id=uuid.uuid4(),
        kind="welcome",
        recipient="ada@example.com",
        subject="Welcome to TechTribe: please confirm your e-mail",
        payload={
            "name": "Ada",
            "valid_hours": 48,
            "sealed": sealer.seal({"text": old_text, "token": "tok-123", "link": old_link}),
        },
    )
    old_rating = message("poem_rated", {**KINDS["poem_rated"], "text": "The stored text.\n"})

    welcome = render(
        old_welcome, sender="x@t.dev", base_url=BASE, data=opened(old_welcome.payload, sealer)
    )
    rating = render(old_rating, sender="x@t.dev", base_url=BASE, data=old_rating.payload)

    for email in (welcome, rating):
        assert "The stored text" not in email.text + email.html
    assert LINKS["welcome"] in welcome.text
    assert "old.example" not in welcome.text
    assert LINKS["poem_rated"] in rating.text


def test_the_mailed_token_is_known_so_errors_can_hide_it() -> None:
    assert rendered("welcome", **KINDS["welcome"]).secret == "tok-123"
    assert rendered("poem_rated", **KINDS["poem_rated"]).secret is None


async def test_a_queued_message_holds_its_data_and_subject_not_its_words(
    migrated: None, db: AsyncSession
) -> None:
    queued = await enqueue(
        db,
        kind="welcome",
        recipient="ada@example.com",
        data={"name": "Ada", "valid_hours": 48},
        token="tok-123",
        sealer=Sealer("k" * 32),
    )
    await db.rollback()

    assert queued.subject == SUBJECTS["welcome"]
    assert set(queued.payload) == {"name", "valid_hours", "sealed"}
    assert "tok-123" not in str(queued.payload)
    assert opened(queued.payload, Sealer("k" * 32))["token"] == "tok-123"
    with pytest.raises(TemplateNotFound):
        await enqueue(db, kind="brand_new_kind", recipient="ada@example.com", data={})
