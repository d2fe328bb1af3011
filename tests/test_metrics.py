"""Prometheus metrics: route templates for every mount, the business's figures, the token,
and true counts across the workers of a real `techtribe serve`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.config import Settings
from techtribe.worker_metrics import with_metrics
from tests.catalog import create_course
from tests.conftest import client_for, make_settings, running_app
from tests.helpers import API, assert_problem, member, token_request, unique_email
from tests.purchasing import DECLINED_CARD, buy, card
from tests.served import environment, free_port, process

TOKEN = "scrape-" + uuid.uuid4().hex
ROOT = Path(__file__).resolve().parents[1]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition: (name, labels) -> value."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
            found[(match[1], labels)] = float(match[3])
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def guarded(migrated: None) -> AsyncIterator[FastAPI]:
    async for app in running_app(make_settings(metrics_token=TOKEN)):
        yield app


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


# --- labels -----------------------------------------------------------------------------


async def test_every_mounted_path_is_labelled_with_its_template_not_none(
    client: httpx.AsyncClient,
) -> None:
    paths = {
        "/openapi.json": "/openapi.json",
        "/docs": "/docs",
        "/static/swagger/swagger-ui.css": "/static/swagger/{path}",
        "/web/styles.css": "/web/{path}",
        "/": "/",
    }
    before = (await client.get("/metrics")).text
    unmatched = value(before, "http_requests_total", handler="none", method="GET", status="404")
    for path in paths:
        assert (await client.get(path)).status_code == 200, path

    after = (await client.get("/metrics")).text
    for template in paths.values():
        labels = {"handler": template, "method": "GET", "status": "200"}
        counted = value(after, "http_requests_total", **labels)
        assert counted == value(before, "http_requests_total", **labels) + 1, template
    assert value(after, "http_requests_total", handler="none", method="GET", status="404") == (
        unmatched
    )


async def test_head_metrics_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.head("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


# --- METRICS_TOKEN ------------------------------------------------------------------------


async def test_metrics_token_is_required_when_set(guarded: FastAPI) -> None:
    async with client_for(guarded) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        basic = await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        head = await client.head("/metrics")
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    for refused in (missing, wrong, basic):
        assert_problem(refused, 401, "not_authenticated")
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "http_requests_total" not in refused.text
    assert head.status_code == 401
    assert right.status_code == 200
    assert "# TYPE http_requests_total counter" in right.text


# --- business metrics -------------------------------------------------------------------


async def test_purchases_refunds_and_gateway_calls_are_counted_by_outcome(
    guarded: FastAPI, db: AsyncSession
) -> None:
    async with client_for(guarded) as client:
        teacher = await member(client, db, role="instructor")
        admin = await member(client, db, role="admin")
        buyer = await member(client, db)
        first = await create_course(client, teacher)
        second = await create_course(client, teacher)
        before = await scrape(client)

        paid = await buy(client, buyer, ("course", first["id"]))
        declined = await buy(client, buyer, ("course", second["id"]), payment=card(DECLINED_CARD))
        owned = await buy(client, buyer, ("course", first["id"]))
        refunded = await client.post(
            f"{API}/purchases/{paid.json()['id']}/refund", headers=admin.headers
        )
        after = await scrape(client)

    assert (paid.status_code, declined.status_code, owned.status_code) == (201, 402, 409)
    assert refunded.status_code == 200

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("techtribe_purchases_total", status="paid") == 1
    assert grew("techtribe_purchases_total", status="declined") == 1
    assert grew("techtribe_purchases_total", status="rejected") == 1
    assert grew("techtribe_checkout_duration_seconds_count", status="paid") == 1
    assert grew("techtribe_refunds_total", status="refunded") == 1
    gateway = "techtribe_payment_gateway_duration_seconds_count"
    assert grew(gateway, operation="charge", outcome="ok") == 1
    assert grew(gateway, operation="charge", outcome="declined") == 1
    assert grew(gateway, operation="refund", outcome="ok") == 1


async def test_outbox_backlog_is_read_from_the_database_at_scrape_time(guarded: FastAPI) -> None:
    async with client_for(guarded) as client:
        text = await scrape(client)

    assert "# TYPE techtribe_outbox_pending_messages gauge" in text
    assert value(text, "techtribe_outbox_pending_messages") >= 0
    assert value(text, "techtribe_outbox_oldest_pending_age_seconds") >= 0


async def test_login_throttle_refusals_are_counted(migrated: None) -> None:
    throttled = make_settings(metrics_token=TOKEN, login_max_failures_per_account=1)
    async for app in running_app(throttled):
        async with client_for(app) as client:
            before = await scrape(client)
            email = unique_email()
            for _ in range(3):
                await token_request(client, grant_type="password", username=email, password="x1")
            after = await scrape(client)

    grown = value(after, "techtribe_login_throttled_total") - value(
        before, "techtribe_login_throttled_total"
    )
    assert grown == 2


# --- the served process: two workers, and the worker's endpoint --------------------------


def counters(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        key: number
        for key, number in samples(text).items()
        if key[0].endswith(("_total", "_count", "_bucket"))
    }


async def test_two_worker_server_counts_every_request_and_never_goes_backwards(
    settings: Settings, migrated: None, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(settings, METRICS_TOKEN=TOKEN)
    args = ["serve", "--port", str(port), "--workers", "2", "--no-migrate"]
    if settings.is_sqlite:
        # A file of its own: SQLite takes one writer at a time, and both workers' e-mail
        # senders would compete with this process's tests for the shared test file.
        env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
        args.remove("--no-migrate")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # Scrapes on a new connection each, so the kernel hands them to either worker.
    scrape_headers = {**auth, "Connection": "close"}
    label = {"handler": f"{API}/instructors/{{user_id}}", "method": "GET", "status": "404"}
    unknown = f"{API}/instructors/{uuid.uuid4()}"
    async with (
        process(*args, env=env, ready_url=f"{base}/healthz"),
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        refused = await client.get("/metrics", headers={"Connection": "close"})
        text = (await client.get("/metrics", headers=scrape_headers)).text
        start, sent = value(text, "http_requests_total", **label), 0
        previous = counters(text)
        for _ in range(10):
            answers = await asyncio.gather(*(client.get(unknown) for _ in range(4)))
            assert {answer.status_code for answer in answers} == {404}
            sent += 4
            text = (await client.get("/metrics", headers=scrape_headers)).text
            now = counters(text)
            backwards = {k: (previous[k], v) for k, v in now.items() if v < previous.get(k, 0)}
            assert not backwards, backwards
            assert set(previous) <= set(now), set(previous) - set(now)
            # Every worker's requests, whichever worker answered the scrape: a request is
            # counted just after its answer is sent, so the last few may not be in yet.
            counted = value(text, "http_requests_total", **label)
            assert start + sent - 4 <= counted <= start + sent
            previous = now
        for _ in range(50):  # and then, all of them
            text = (await client.get("/metrics", headers=scrape_headers)).text
            if value(text, "http_requests_total", **label) == start + sent:
                break
            await asyncio.sleep(0.1)
        assert value(text, "http_requests_total", **label) == start + sent

    assert_problem(refused, 401, "not_authenticated")
    assert str(uuid.UUID(unknown.rsplit("/", 1)[1])) not in text


async def test_worker_serves_its_metrics_behind_the_token(
    settings: Settings, migrated: None, tmp_path: Path
) -> None:
    port = free_port()
    # As the Kubernetes ConfigMap gives it: a directory that doesn't exist yet.
    multiproc = tmp_path / "prometheus"
    env = environment(
        settings,
        METRICS_TOKEN=TOKEN,
        WORKER_METRICS_PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        # A queue of its own: it takes no job of another test's.
        REDIS_KEY_PREFIX=f"{settings.redis_key_prefix}-worker",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    async with (
        process("worker", env=env, ready_url=url, graceful=False),
        httpx.AsyncClient(timeout=10) as client,
    ):
        refused = await client.get(url)
        head = await client.head(url, headers={"Authorization": f"Bearer {TOKEN}"})
        answered = await client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})

    assert_problem(refused, 401, "not_authenticated")
    assert head.status_code == 200
    assert answered.status_code == 200
    assert "# TYPE techtribe_emails_total counter" in answered.text
    assert list(multiproc.glob("*.db")), "the worker wrote no multiprocess files"


async def test_the_grafana_dashboard_queries_only_metrics_the_service_exposes(
    guarded: FastAPI,
) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "techtribe.json").read_text())
    queried = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:http|techtribe)_[a-z_]+", target["expr"])
    }
    async with client_for(guarded) as client:
        text = await scrape(client)
    exposed = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    exposed |= {name.removesuffix("_total") for name in exposed}

    assert len(queried) >= 10
    assert queried <= exposed, queried - exposed


async def test_a_taken_worker_metrics_port_costs_the_metrics_not_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran = []

    async def work() -> None:
        ran.append(True)

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings = make_settings(worker_metrics_port=port)
        with caplog.at_level(logging.ERROR, logger="techtribe.worker"):
            await with_metrics(settings, work())

    assert ran == [True]
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
