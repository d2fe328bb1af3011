"""The web client's files: served at `/` and `/web`, with a strict CSP that /docs doesn't get."""

from __future__ import annotations

import httpx

from techtribe.web import CONTENT_SECURITY_POLICY


async def test_home_page_is_the_web_client_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/js/app.js">' in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_client_modules_are_served_as_javascript_with_the_csp(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/web/js/app.js", "/web/js/api.js", "/web/styles.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "content-security-policy" in response.headers
    assert (
        (await client.get("/web/js/app.js")).headers["content-type"].startswith("text/javascript")
    )


async def test_only_the_static_folder_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/web/__init__.py")).status_code == 404
    assert (await client.get("/web/../__init__.py")).status_code == 404


async def test_no_inline_script_or_style_in_the_page(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert "<script>" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert " onclick=" not in page


async def test_the_client_never_renders_html_from_data(client: httpx.AsyncClient) -> None:
    for module in (
        "app",
        "api",
        "dom",
        "ui",
        "pages-auth",
        "pages-shop",
        "pages-poems",
        "pages-manage",
    ):
        source = (await client.get(f"/web/js/{module}.js")).text
        assert "innerHTML" not in source, module
        assert "insertAdjacentHTML" not in source, module
        assert "document.write" not in source, module


async def test_docs_and_api_keep_their_own_answers(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers  # Swagger UI needs inline bits
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
