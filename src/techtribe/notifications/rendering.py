"""Outbox messages to e-mails: the templates own every word.

Each kind has `<kind>.txt` and `<kind>.html` (Jinja2) in `templates/`, both extending one
layout; the text template's `subject` block is the subject. A template gets the message's
data as `p`, the recipient's `name`, and `links` (every URL, built from PUBLIC_BASE_URL).
HTML is autoescaped. A kind without templates, or data a template can't render, raises:
a kind's test catches it, and at send time the try fails like any other (retried, then
`failed`, the error in the row).

Rows queued before the words moved here also carry a `text` (and a sealed `link`): both
are ignored, the data they carry beside them is what the templates read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from techtribe.notifications.links import Links
from techtribe.notifications.models import OutboxMessage

_env = Environment(
    loader=PackageLoader("techtribe.notifications", "templates"),
    # HTML is escaped (a poem titled `<script>` arrives as text); plain text is not.
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    # A template asking for data the message lacks fails instead of printing nothing.
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


def kinds() -> list[str]:
    """Every kind with templates (a `.txt` that isn't a layout)."""
    return sorted(
        name.removesuffix(".txt")
        for name in _env.list_templates(extensions=["txt"])
        if name != "base.txt"
    )


def subject_of(kind: str, data: Mapping[str, Any]) -> str:
    """The subject, from the `subject` block of the kind's text template (no links)."""
    template = _env.get_template(f"{kind}.txt")
    block = template.blocks["subject"]
    context = template.new_context({"p": data, "name": data.get("name")})
    return " ".join("".join(block(context)).split())


def render(message: OutboxMessage, *, sender: str, base_url: str, data: Mapping[str, Any]) -> Email:
    """The e-mail for an outbox row; `data`: its payload with the sealed parts opened."""
    context: dict[str, Any] = {
        "subject": message.subject,
        "links": Links(base_url),
        "name": data.get("name"),
        "p": data,
    }
    text = _env.get_template(f"{message.kind}.txt").render(context)
    html = _env.get_template(f"{message.kind}.html").render(context)
    token = data.get("token")
    return Email(
        message_id=str(message.id),
        sender=sender,
        recipient=message.recipient,
        subject=message.subject,
        text=text,
        html=html,
        secret=str(token) if token else None,
    )
