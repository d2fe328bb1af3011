"""The web client: static pages at `/` and `/web/...`, served with a strict Content-Security-Policy.

Everything here is package data (HTML, ES modules, CSS): no build step and no Node.js. The
client talks only to the public API under `/api/v1`, like any other client would.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Only this folder is served: never the package's Python files.
WEB_DIR = Path(__file__).parent / "static"
ASSETS = "/web"

# No inline script or style anywhere in the client, so nothing needs 'unsafe-inline'.
# Only the client's own responses carry it: Swagger UI at /docs needs inline bits.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _WebAssets(StaticFiles):
    """Static files with the client's security headers; revalidated so a deploy shows at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_web(app: FastAPI) -> None:
    """`GET /` answers the client's page; its modules, styles and images live under `/web`."""
    app.mount(ASSETS, _WebAssets(directory=WEB_DIR), name="web")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(
            WEB_DIR / "index.html",
            media_type="text/html; charset=utf-8",
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )
