"""`/docs` (Swagger UI 5) and `/redoc` (ReDoc 2), served from the package itself (no CDN).

Swagger UI's Authorize signs in through the token endpoint.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_DIR = Path(__file__).parent / "static" / "swagger"
ASSETS = "/static/swagger"
REDOC_DIR = Path(__file__).parent / "static" / "redoc"
REDOC_ASSETS = "/static/redoc"


def mount_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_DIR), name="swagger")
    app.mount(REDOC_ASSETS, StaticFiles(directory=REDOC_DIR), name="redoc")
    oauth2_redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=oauth2_redirect_url,
            swagger_ui_parameters={"persistAuthorization": True},
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API reference",
            redoc_js_url=f"{REDOC_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
            with_google_fonts=False,
        )
