"""Transports against real servers: SMTP (aiosmtpd: plain, STARTTLS + login, implicit TLS)
and Mailgun's HTTP API (httpx.MockTransport), failures included."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from techtribe.config import Settings
from techtribe.notifications.rendering import Email
from techtribe.notifications.transports import (
    MailgunTransport,
    SmtpTransport,
    TransportError,
    make_transport,
)
from tests.conftest import make_settings
from tests.mailing import smtp_server

EMAIL = Email(
    message_id="0b5e5e1e-0000-4000-8000-000000000001",
    sender="TechTribe <no-reply@techtribe.dev>",
    recipient="ada@example.com",
    subject="Welcome to TechTribe",
    text="Hello Ada,\n\nPlain body.\n",
    html="<p>Hello Ada,</p><p>HTML body.</p>",
    secret="tok-secret",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the server's), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def smtp_settings(port: int, **overrides: Any) -> Settings:
    return make_settings(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port, **overrides)


# --- SMTP -----------------------------------------------------------------------------


async def test_smtp_delivers_a_multipart_email() -> None:
    async with smtp_server() as (inbox, port):
        await SmtpTransport(smtp_settings(port)).send(EMAIL)

    [mail] = inbox.messages
    assert mail["To"] == "ada@example.com"
    assert mail["From"] == "TechTribe <no-reply@techtribe.dev>"
    assert mail["Subject"] == "Welcome to TechTribe"
    assert mail["Message-ID"] == f"<{EMAIL.message_id}@techtribe.dev>"
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "Plain body." in plain.get_content()  # type: ignore[attr-defined]
    assert "<p>HTML body.</p>" in html.get_content()  # type: ignore[attr-defined]


async def test_smtp_delivers_to_a_non_ascii_address_over_smtputf8() -> None:
    """Addresses keep their Unicode local part (NFC): SMTPUTF8 carries it unchanged."""
    email = dataclasses.replace(EMAIL, recipient="jos\u00e9@example.com")
    async with smtp_server(enable_SMTPUTF8=True) as (inbox, port):
        await SmtpTransport(smtp_settings(port)).send(email)

    [mail] = inbox.messages
    assert mail["To"] == "jos\u00e9@example.com"


async def test_smtp_without_smtputf8_refuses_a_non_ascii_address_as_a_transport_error() -> None:
    email = dataclasses.replace(EMAIL, recipient="jos\u00e9@example.com")
    async with smtp_server() as (inbox, port):
        with pytest.raises(TransportError, match="SMTPUTF8"):
            await SmtpTransport(smtp_settings(port)).send(email)

    assert inbox.messages == []


async def test_smtp_starttls_with_login(certificate: tuple[Path, Path]) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret-pass")

    options = {
        "tls_context": server_context(certificate),
        "require_starttls": True,
        "auth_required": True,
        "authenticator": authenticate,
    }
    async with smtp_server(**options) as (inbox, port):
        settings = smtp_settings(
            port, smtp_tls="starttls", smtp_user="mailer", smtp_password="s3cret-pass"
        )
        await SmtpTransport(settings, tls_context=client_context(certificate)).send(EMAIL)

    assert len(inbox.messages) == 1
    assert logins == [(b"mailer", b"s3cret-pass")]


async def test_smtp_over_implicit_tls(certificate: tuple[Path, Path]) -> None:
    from aiosmtpd.smtp import SMTP

    from tests.mailing import Inbox

    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="mail.test", loop=loop),
        "127.0.0.1",
        0,
        ssl=server_context(certificate),
    )
    port = server.sockets[0].getsockname()[1]
    try:
        settings = smtp_settings(port, smtp_tls="ssl")
        await SmtpTransport(settings, tls_context=client_context(certificate)).send(EMAIL)
    finally:
        server.close()
        await server.wait_closed()
    assert len(inbox.messages) == 1


async def test_smtp_refusal_is_a_transport_error_with_the_reply() -> None:
    async with smtp_server() as (inbox, port):
        inbox.fail("ada@example.com", times=1, reply="451 4.3.0 Try again later")
        with pytest.raises(TransportError, match="451"):
            await SmtpTransport(smtp_settings(port)).send(EMAIL)
    assert inbox.messages == []


async def test_smtp_server_down_is_a_transport_error() -> None:
    async with smtp_server() as (_inbox, port):
        pass  # closed again: nothing listens on the port now
    with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
        await SmtpTransport(smtp_settings(port, email_send_timeout_seconds=2)).send(EMAIL)


# --- Mailgun --------------------------------------------------------------------------


def mailgun_settings() -> Settings:
    return make_settings(
        email_transport="mailgun",
        mailgun_api_key="key-abc123",
        mailgun_domain="mg.techtribe.dev",
        mailgun_base_url="https://api.eu.mailgun.net/",
    )


def mailgun(handler: Any) -> MailgunTransport:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return MailgunTransport(mailgun_settings(), client=client)


async def test_mailgun_posts_the_message_form_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "<x@mg>", "message": "Queued. Thank you."})

    transport = mailgun(handler)
    await transport.send(EMAIL)
    await transport.aclose()

    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.eu.mailgun.net/v3/mg.techtribe.dev/messages"
    assert request.headers["authorization"] == httpx.BasicAuth("api", "key-abc123")._auth_header
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form["from"] == EMAIL.sender
    assert form["to"] == "ada@example.com"
    assert form["subject"] == "Welcome to TechTribe"
    assert form["text"] == EMAIL.text
    assert form["html"] == EMAIL.html
    assert form["h:Message-Id"] == f"<{EMAIL.message_id}@techtribe.dev>"


@pytest.mark.parametrize(
    ("status", "text"), [(401, "Forbidden"), (400, "'to' parameter is not a valid address")]
)
async def test_mailgun_error_answers_are_transport_errors(status: int, text: str) -> None:
    transport = mailgun(lambda request: httpx.Response(status, json={"message": text}))
    with pytest.raises(TransportError, match=f"Mailgun answered {status}"):
        await transport.send(EMAIL)
    await transport.aclose()


async def test_mailgun_unreachable_is_a_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transport = mailgun(handler)
    with pytest.raises(TransportError, match="Mailgun unreachable: ConnectError"):
        await transport.send(EMAIL)
    await transport.aclose()


def test_settings_choose_the_transport() -> None:
    assert type(make_transport(make_settings())).__name__ == "ConsoleTransport"
    assert isinstance(make_transport(smtp_settings(25)), SmtpTransport)
    assert isinstance(make_transport(mailgun_settings()), MailgunTransport)


def test_mailgun_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="MAILGUN_API_KEY and MAILGUN_DOMAIN"):
        make_settings(email_transport="mailgun")


def test_the_sweep_interval_must_divide_a_minute() -> None:
    with pytest.raises(ValueError, match="must divide 60"):
        make_settings(email_sweep_seconds=7)
