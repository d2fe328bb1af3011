"""Ways out for rendered e-mails, chosen by EMAIL_TRANSPORT: console, SMTP or Mailgun."""

from __future__ import annotations

import ssl
import sys
from email.message import EmailMessage
from email.policy import SMTPUTF8, default
from email.utils import formatdate, parseaddr
from typing import Protocol

import aiosmtplib
import httpx

from techtribe.config import Settings
from techtribe.notifications.rendering import Email


class TransportError(Exception):
    """The e-mail was not accepted; the message says why (never a secret)."""


class Transport(Protocol):
    async def send(self, email: Email) -> None: ...

    async def aclose(self) -> None: ...


def message_id_header(email: Email, sender: str) -> str:
    """One Message-ID per outbox row, so a re-sent copy is recognisably the same e-mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "techtribe.invalid"
    return f"<{email.message_id}@{domain}>"


class ConsoleTransport:
    """Development transport: prints each e-mail's plain text to standard output."""

    async def send(self, email: Email) -> None:
        sys.stdout.write(
            f"\n----- e-mail {email.message_id} -----\nFrom: {email.sender}\n"
            f"To: {email.recipient}\nSubject: {email.subject}\n\n{email.text}"
            "----- end of e-mail -----\n"
        )
        sys.stdout.flush()

    async def aclose(self) -> None:
        return None


class SmtpTransport:
    """SMTP through aiosmtplib: plain, STARTTLS or implicit TLS, with optional login."""

    def __init__(self, settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        # None: the system's trusted CAs (tests pass a context that trusts their own CA).
        self._tls_context = tls_context

    def build(self, email: Email) -> EmailMessage:
        message = EmailMessage(policy=default if email.recipient.isascii() else SMTPUTF8)
        message["From"] = email.sender
        # An address may have a non-ASCII local part (stored in NFC, not ASCII-folded), which
        # only SMTPUTF8 can carry: aiosmtplib then asks the server for it.
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id_header(email, email.sender)
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message

    async def send(self, email: Email) -> None:
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                self.build(email),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user or None,
                password=password if settings.smtp_user else None,
                use_tls=settings.smtp_tls == "ssl",
                start_tls=settings.smtp_tls == "starttls",
                tls_context=self._tls_context,
                timeout=settings.email_send_timeout_seconds,
            )
        except aiosmtplib.SMTPException as exc:
            raise TransportError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc

    async def aclose(self) -> None:
        return None


class MailgunTransport:
    """Mailgun's HTTP API (POST /v3/<domain>/messages) through httpx."""

    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None) -> None:
        assert settings.mailgun_api_key is not None
        assert settings.mailgun_domain
        self._url = f"{settings.mailgun_base_url}/v3/{settings.mailgun_domain}/messages"
        self._client = client or httpx.AsyncClient(timeout=settings.email_send_timeout_seconds)
        self._auth = ("api", settings.mailgun_api_key.get_secret_value())

    async def send(self, email: Email) -> None:
        data = {
            "from": email.sender,
            "to": email.recipient,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
            "h:Message-Id": message_id_header(email, email.sender),
        }
        try:
            response = await self._client.post(self._url, data=data, auth=self._auth)
        except httpx.HTTPError as exc:
            raise TransportError(f"Mailgun unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            # Mailgun's error bodies are short JSON messages ("Domain not found", ...).
            raise TransportError(f"Mailgun answered {response.status_code}: {response.text[:200]}")

    async def aclose(self) -> None:
        await self._client.aclose()


def make_transport(settings: Settings) -> Transport:
    if settings.email_transport == "smtp":
        return SmtpTransport(settings)
    if settings.email_transport == "mailgun":
        return MailgunTransport(settings)
    return ConsoleTransport()
