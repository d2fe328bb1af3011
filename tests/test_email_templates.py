"""Rendered e-mails: every kind in HTML and plain text, links from PUBLIC_BASE_URL, escaping."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from techtribe.notifications.models import OutboxMessage
from techtribe.notifications.rendering import Email, render

BASE = "https://techtribe.example"

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


def message(kind: str, subject: str = "A subject", **payload: Any) -> OutboxMessage:
    return OutboxMessage(
        id=uuid.uuid4(),
        kind=kind,
        recipient="ada@example.com",
        subject=subject,
        payload={"text": "Hello Ada,\n\nThe stored text.\n", **payload},
    )


def rendered(kind: str, **payload: Any) -> Email:
    return render(message(kind, **payload), sender="TechTribe <no-reply@t.dev>", base_url=BASE)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_html_and_text_with_its_link_and_layout(kind: str) -> None:
    email = rendered(kind, **KINDS[kind])

    assert LINKS[kind] in email.text
    assert f'href="{LINKS[kind]}"' in email.html
    assert email.html.startswith("<!DOCTYPE html>")
    assert f'href="{BASE}/"' in email.html  # the base layout's header and footer
    assert f"TechTribe · {BASE}/" in email.text
    assert "The stored text." not in email.text  # the template, not the fallback
    assert email.subject == "A subject"
    assert email.recipient == "ada@example.com"


def test_recipient_name_and_details_fill_the_templates() -> None:
    receipt = rendered("purchase_receipt", **KINDS["purchase_receipt"])
    assert receipt.text.startswith("Hello Ada,\n")
    assert "- Async Python: EUR 49.00" in receipt.text
    assert "Total: EUR 49.00, paid with visa card ending in 4242." in receipt.text

    rated = rendered("poem_rated", **KINDS["poem_rated"])
    assert 'Grace rated your poem "Ode to asyncio": 4 out of 5.' in rated.text
    assert '"Lovely"' in rated.text


def test_a_poem_title_with_a_script_tag_is_escaped_in_html() -> None:
    payload = {**KINDS["poem_rated"], "poem_title": "<script>alert(1)</script>"}
    payload["comment"] = "<b>bold</b> & more"

    email = rendered("poem_rated", **payload)

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in email.html
    # Plain text is not HTML: it shows the title as written.
    assert '"<script>alert(1)</script>"' in email.text


def test_a_rating_without_comment_leaves_the_quote_out() -> None:
    email = rendered("poem_rated", **{**KINDS["poem_rated"], "comment": None})
    assert "<blockquote" not in email.html
    assert '""' not in email.text


def test_an_unknown_kind_sends_its_stored_text_in_the_layout() -> None:
    email = rendered("brand_new_kind")

    assert "The stored text." in email.text
    assert "The stored text." in email.html
    assert email.text.count("Hello") == 1  # the layout's greeting, not the text's too
    assert f"TechTribe · {BASE}/" in email.text


def test_a_payload_missing_fields_falls_back_to_the_stored_text() -> None:
    # E.g. a row written before the payload had these fields: sent, never stuck.
    email = rendered("purchase_receipt", purchase_id="p-1")

    assert "The stored text." in email.text
    assert "The stored text." in email.html


def test_html_in_the_fallback_text_is_escaped() -> None:
    msg = message("brand_new_kind")
    msg.payload = {"text": "Hello,\n\n<script>x()</script>\n"}
    email = render(msg, sender="x@t.dev", base_url=BASE)
    assert "&lt;script&gt;" in email.html
    assert "<script>" not in email.html


def test_the_mailed_token_is_known_so_errors_can_hide_it() -> None:
    assert rendered("welcome", **KINDS["welcome"]).secret == "tok-123"
    assert rendered("poem_rated", **KINDS["poem_rated"]).secret is None
