"""Outbox messages to e-mails: Jinja2 templates (HTML and plain text) in one base layout."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)

from techtribe.notifications.models import OutboxMessage

log = logging.getLogger("techtribe.outbox")

_env = Environment(
    loader=PackageLoader("techtribe.notifications", "templates"),
    # HTML is escaped (a poem titled `<script>` arrives as text); plain text is not.
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    # A template asking for a field the payload lacks fails, and the fallback takes over.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Email:
    """One rendered e-mail, ready for a transport."""

    message_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    html: str
    # A secret the message carries (a one-time token), kept out of logged errors.
    secret: str | None = None


def _link(kind: str, payload: dict[str, Any], base_url: str) -> str:
    """Where the message's button points, built from PUBLIC_BASE_URL of the sender."""
    if kind == "welcome":
        return f"{base_url}/#/verify-email?token={payload['token']}"
    if kind == "password_reset":
        return f"{base_url}/#/reset-password?token={payload['token']}"
    if kind in ("purchase_receipt", "purchase_refunded"):
        return f"{base_url}/#/purchases/{payload['purchase_id']}"
    if kind == "advisory_cancelled":
        return f"{base_url}/#/advisories"
    if kind == "poem_rated":
        return f"{base_url}/#/poems/{payload['poem_id']}"
    return f"{base_url}/"


def render(
    message: OutboxMessage,
    *,
    sender: str,
    base_url: str,
    payload: dict[str, Any] | None = None,
) -> Email:
    """The e-mail for an outbox row; an unknown kind or a broken payload gets the plain text.

    `payload`: the row's payload with its sealed parts opened, when it has any.
    """
    payload = dict(message.payload or {}) if payload is None else payload
    context: dict[str, Any] = {
        "subject": message.subject,
        "base_url": base_url,
        "name": payload.get("name"),
        "p": payload,
    }
    try:
        context["link"] = _link(message.kind, payload, base_url)
        text = _env.get_template(f"{message.kind}.txt").render(context)
        html = _env.get_template(f"{message.kind}.html").render(context)
    except TemplateNotFound:
        text, html = _fallback(context, payload)
    except (TemplateError, KeyError, TypeError, ValueError) as exc:
        # Never stuck on a template bug: send the stored text, say so in the log.
        log.warning(
            "outbox message %s (%s): template failed (%s), sending the plain text",
            message.id,
            message.kind,
            type(exc).__name__,
        )
        text, html = _fallback(context, payload)
    token = payload.get("token")
    return Email(
        message_id=str(message.id),
        sender=sender,
        recipient=message.recipient,
        subject=message.subject,
        text=text,
        html=html,
        secret=str(token) if token else None,
    )


def _fallback(context: dict[str, Any], payload: dict[str, Any]) -> tuple[str, str]:
    body = str(payload.get("text", "")).strip()
    # The stored text already greets the reader: drop its first line if it does.
    first, _, rest = body.partition("\n")
    if first.lower().startswith("hello"):
        body = rest.strip()
    context = {**context, "body": body, "paragraphs": [p for p in body.split("\n\n") if p]}
    return (
        _env.get_template("fallback.txt").render(context),
        _env.get_template("fallback.html").render(context),
    )
