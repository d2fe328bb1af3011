"""HTTPS end to end: `techtribe serve` with a certificate the test made, HSTS, and the client
address behind a trusted proxy (X-Forwarded-For)."""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import course_body
from tests.conftest import make_settings
from tests.faults import wait_for
from tests.helpers import API, PASSWORD, bearer, set_role, unique_email
from tests.purchasing import order
from tests.served import environment, free_port, process
from tests.tls import TLSFiles, make_certificates

ADDRESS_LIMIT = 3


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@dataclass(frozen=True)
class Served:
    base: str
    log: Path


@pytest.fixture(scope="module")
async def served(migrated: None, tls: TLSFiles) -> AsyncIterator[Served]:
    """A one-worker `techtribe serve` over TLS, believing X-Forwarded-For from 127.0.0.1."""
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    env = environment(
        make_settings(),
        PUBLIC_BASE_URL=f"https://localhost:{port}",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        LOGIN_MAX_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT),
    )
    args = ("serve", "--port", str(port), "--no-migrate")
    tls_args = ("--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key))
    ready = f"{base}/healthz"
    async with process(*args, *tls_args, env=env, ready_url=ready, verify=trust(tls)) as log:
        yield Served(base, log)


@pytest.fixture
def https_base(served: Served) -> str:
    return served.base


def trust(tls: TLSFiles) -> ssl.SSLContext:
    """Trusts our CA and nothing else (no system certificates)."""
    return ssl.create_default_context(cafile=str(tls.ca))


async def test_a_client_trusting_only_our_ca_logs_in_and_buys_over_tls(
    https_base: str, tls: TLSFiles, db: AsyncSession
) -> None:
    async with httpx.AsyncClient(base_url=https_base, verify=trust(tls), timeout=30) as client:
        teacher_email, buyer_email = unique_email("teacher"), unique_email("buyer")
        answers = []
        for email in (teacher_email, buyer_email):
            body = {"email": email, "password": PASSWORD, "full_name": "Over TLS"}
            answers.append(await client.post(f"{API}/auth/register", json=body))
        assert [answer.status_code for answer in answers] == [201, 201]
        await set_role(db, answers[0].json()["id"], "instructor")

        async def token(email: str) -> str:
            form = {"grant_type": "password", "username": email, "password": PASSWORD}
            response = await client.post(f"{API}/auth/token", data=form)
            assert response.status_code == 200, response.text
            answers.append(response)
            access: str = response.json()["access_token"]
            return access

        course = await client.post(
            f"{API}/courses", json=course_body(), headers=bearer(await token(teacher_email))
        )
        assert course.status_code == 201, course.text
        headers = {**bearer(await token(buyer_email)), "Idempotency-Key": str(uuid.uuid4())}
        bought = await client.post(
            f"{API}/purchases", json=order(("course", course.json()["id"])), headers=headers
        )
        missing = await client.get(f"{API}/no-such-path")

    assert bought.status_code == 201, bought.text
    assert bought.json()["status"] == "paid"
    for response in (*answers, course, bought, missing):
        assert response.url.scheme == "https"
        assert response.headers["strict-transport-security"].startswith("max-age=")
    assert missing.status_code == 404


async def test_a_client_without_our_ca_is_refused(https_base: str) -> None:
    async with httpx.AsyncClient(base_url=https_base, timeout=30) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get("/healthz")


async def test_throttling_counts_the_forwarded_client_not_the_proxy(
    served: Served, tls: TLSFiles
) -> None:
    https_base = served.base

    async def failed_login(client_address: str) -> int:
        form = {"grant_type": "password", "username": unique_email(), "password": "wrong-1"}
        response = await client.post(
            f"{API}/auth/token", data=form, headers={"X-Forwarded-For": client_address}
        )
        return response.status_code

    # Documentation addresses (RFC 5737), as a proxy on 127.0.0.1 would forward them.
    first, second = "203.0.113.7", "203.0.113.8"
    async with httpx.AsyncClient(base_url=https_base, verify=trust(tls), timeout=30) as client:
        within = [await failed_login(first) for _ in range(ADDRESS_LIMIT)]
        past = await failed_login(first)
        other = await failed_login(second)

    assert within == [400] * ADDRESS_LIMIT
    assert past == 429
    assert other == 400

    # uvicorn's access line is off; ours names the forwarded client, with its fields. A line
    # is written once its response is sent, so wait for the last request's line.
    def logged() -> list[dict[str, Any]]:
        text = served.log.read_text()
        complete = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line[:1] == "{"]

    def token_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            line
            for line in lines
            if line.get("name") == "techtribe.access" and line["path"] == f"{API}/auth/token"
        ]

    async def both_clients_logged() -> bool:
        return {line["client"] for line in token_lines(logged())} >= {first, second}

    await wait_for(both_clients_logged, seconds=10, what="the second client's access line")
    lines = logged()
    assert {line["status"] for line in token_lines(lines)} >= {400, 429}
    for line in token_lines(lines):
        assert line["method"] == "POST"
        assert isinstance(line["duration_ms"], float)
        assert len(line["request_id"]) == 32 or len(line["request_id"]) == 36
        assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    assert not any("color_message" in line or line["name"] == "uvicorn.access" for line in lines)


async def test_no_hsts_while_the_public_base_url_is_http(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
