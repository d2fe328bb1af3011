"""Operations: liveness, readiness, Prometheus metrics, and the self-hosted docs."""

from __future__ import annotations

import contextlib
import gc
import re
import time
import uuid
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from techtribe.app import GC_YOUNG_THRESHOLD, create_served_app
from techtribe.config import Settings
from tests.conftest import TEST_REDIS, client_for, make_settings, running_app
from tests.faults import silent_server
from tests.helpers import API, assert_problem

UNREACHABLE_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@contextlib.asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose lifespan has started (and is stopped on the way out, even on failure)."""
    async with contextlib.aclosing(running_app(settings)) as apps:
        yield await anext(apps)


# --- liveness and readiness -----------------------------------------------------------


async def test_healthz_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_is_200_when_the_database_and_redis_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    if TEST_REDIS:
        assert checks["redis"] == "ok"
    else:
        assert "redis" not in checks


async def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    async with (
        started(make_settings(database_url=UNREACHABLE_DATABASE)) as app,
        client_for(app) as client,
    ):
        alive = await client.get("/healthz")
        response = await client.get("/readyz")

    assert alive.status_code == 200  # the lifespan started and liveness touches nothing
    body = assert_problem(response, 503, "not_ready")
    assert body["checks"]["database"].startswith("error")
    assert "Traceback" not in response.text


async def test_readyz_is_503_within_its_timeout_when_the_database_and_redis_hang() -> None:
    async with (
        silent_server("postgresql+asyncpg://postgres@127.0.0.1:{port}/none") as database_url,
        silent_server() as redis_url,
    ):
        settings = make_settings(
            database_url=database_url,
            redis_url=redis_url,
            redis_timeout_seconds=5,  # longer than /readyz's own: that one is under test
            ready_timeout_seconds=1,
        )
        async with started(settings) as app, client_for(app) as client:
            began = time.monotonic()
            response = await client.get("/readyz")
            waited = time.monotonic() - began

    body = assert_problem(response, 503, "not_ready")
    assert body["checks"] == {"database": "error: TimeoutError", "redis": "error: TimeoutError"}
    # Both asked at once: one timeout, not one after the other (2 s), nor the default (2 s).
    assert 1 <= waited < 1.9


async def test_readyz_is_503_when_configured_redis_does_not_answer(migrated: None) -> None:
    async with (
        started(make_settings(redis_url=UNREACHABLE_REDIS)) as app,
        client_for(app) as client,
    ):
        response = await client.get("/readyz")

    body = assert_problem(response, 503, "not_ready")
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["database"] == "ok"


# --- the served process -----------------------------------------------------------------


async def test_served_app_freezes_what_start_up_built_and_collects_young_garbage_less_often(
    settings: Settings,
) -> None:
    threshold = gc.get_threshold()
    try:
        app = create_served_app(settings)

        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])
        async with client_for(app) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


# --- metrics --------------------------------------------------------------------------


def counter(metrics: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when it isn't there yet)."""
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match[1])) == labels:
            return float(match[2])
    return 0.0


async def sample(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """`counter` of a fresh `/metrics` answer."""
    return counter((await client.get("/metrics")).text, name, **labels)


async def test_metrics_are_prometheus_text_counting_requests_by_route_template(
    client: httpx.AsyncClient,
) -> None:
    labels = {"handler": "/api/v1/users/me", "method": "GET", "status": "401"}
    before = await sample(client, "http_requests_total", **labels)

    await client.get(f"{API}/users/me")
    await client.get(f"{API}/users/me")
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE http_requests_total counter" in response.text
    assert counter(response.text, "http_requests_total", **labels) == before + 2


async def test_metrics_label_requests_with_the_template_not_the_raw_path(
    client: httpx.AsyncClient,
) -> None:
    raw_id = str(uuid.uuid4())
    labels = {"handler": "/api/v1/instructors/{user_id}", "method": "GET", "status": "404"}
    before = await sample(client, "http_requests_total", **labels)

    await client.get(f"{API}/instructors/{raw_id}")
    response = await client.get("/metrics")

    assert counter(response.text, "http_requests_total", **labels) == before + 1
    assert raw_id not in response.text


async def test_metrics_count_paths_no_route_serves_under_one_label(
    client: httpx.AsyncClient,
) -> None:
    labels = {"handler": "none", "method": "GET", "status": "404"}
    before = await sample(client, "http_requests_total", **labels)

    await client.get(f"{API}/no-such-thing-{uuid.uuid4()}")
    await client.get("/another/unknown/path")
    response = await client.get("/metrics")

    assert counter(response.text, "http_requests_total", **labels) == before + 2
    assert "no-such-thing" not in response.text


async def test_metrics_time_each_request_under_its_route_template(
    client: httpx.AsyncClient,
) -> None:
    labels = {"handler": "/api/v1/courses", "method": "GET"}
    name = "http_request_duration_seconds_count"
    before = await sample(client, name, **labels)

    await client.get(f"{API}/courses")
    response = await client.get("/metrics")

    assert counter(response.text, name, **labels) == before + 1
    assert "# TYPE http_request_duration_seconds histogram" in response.text


async def test_metrics_leave_out_the_operations_probes(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/metrics")
    response = await client.get("/metrics")

    assert 'handler="/healthz"' not in response.text
    assert 'handler="/metrics"' not in response.text


# --- docs -----------------------------------------------------------------------------


async def test_docs_reference_only_assets_the_service_serves_itself(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"https?://|//cdn", html), "the docs must work offline"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css"} <= set(assets)
    assert all(asset.startswith("/static/swagger/") for asset in assets), assets
    assert "/openapi.json" in html
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert served.content


async def test_docs_bundle_is_swagger_ui_5_or_newer(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/swagger/swagger-ui-bundle.js")

    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    versions = re.findall(r'PACKAGE_VERSION:"(\d+)\.\d+\.\d+"', response.text)
    assert versions, "no version string in the bundle"
    assert all(int(major) >= 5 for major in versions), versions


async def test_docs_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_openapi_is_3_1_with_a_password_flow_at_the_token_endpoint(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    schemes = schema["components"]["securitySchemes"]
    password_flows = [
        scheme["flows"]["password"]
        for scheme in schemes.values()
        if scheme["type"] == "oauth2" and "password" in scheme.get("flows", {})
    ]
    assert [flow["tokenUrl"] for flow in password_flows] == ["/api/v1/auth/token"]
    me = schema["paths"]["/api/v1/users/me"]["get"]
    assert any(set(requirement) & set(schemes) for requirement in me["security"])


async def test_openapi_declares_every_section_of_the_docs_in_order_with_a_description(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()

    declared = [tag["name"] for tag in schema["tags"]]
    used = {tag for item in schema["paths"].values() for op in item.values() for tag in op["tags"]}
    assert used == set(declared)
    assert declared[:4] == ["auth", "users", "instructors", "courses"]
    assert all(tag["description"] for tag in schema["tags"])
