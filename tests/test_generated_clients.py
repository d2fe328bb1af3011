"""Clients generated from the OpenAPI document, driven against the service.

A Python client (openapi-python-client) over the ASGI app, and a TypeScript one
(openapi-typescript types + openapi-fetch, compiled with `tsc --strict`, run by Node) over
a real uvicorn socket. Each signs in, lists courses and tries a declined card, which must
come back as a parsed `Problem` with `code == "card_declined"`.

The npm packages are pinned in `tests/ts_client/package-lock.json` and installed once into
a cache outside the repository (`TECHTRIBE_NPM_CACHE`, default `~/.cache/techtribe`).
Without Node or npm the TypeScript test skips and says why; under `CI=true` it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import create_course
from tests.conftest import _in_ci, client_for
from tests.helpers import PASSWORD, member, register
from tests.purchasing import DECLINED_CARD

TS_CLIENT = Path(__file__).parent / "ts_client"
NPM_CACHE = Path(os.environ.get("TECHTRIBE_NPM_CACHE", Path.home() / ".cache" / "techtribe"))
PACKAGE = "techtribe_client"


def _run(command: list[str], cwd: Path, timeout: float) -> str:
    result = subprocess.run(  # noqa: S603
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory, spec_file: Path) -> Iterator[Any]:
    """The package openapi-python-client generates from the document, imported."""
    out = tmp_path_factory.mktemp("python-client")
    config = out / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = str(Path(sys.executable).with_name("openapi-python-client"))
    _run(
        [generator, "generate", "--path", str(spec_file), "--config", str(config),
         "--output-path", str(out / "client")],
        cwd=out,
        timeout=120,
    )  # fmt: skip
    sys.path.insert(0, str(out / "client"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out / "client"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The document as the code makes it now (`test_openapi` checks the committed copy)."""
    from techtribe.generated import openapi_json

    path = tmp_path_factory.mktemp("spec") / "openapi.json"
    path.write_text(openapi_json(), encoding="utf-8")
    return path


async def _buyer_and_course(client: httpx.AsyncClient, db: AsyncSession) -> tuple[str, str]:
    """A student's e-mail and the title of a published course they could buy."""
    teacher = await member(client, db, role="instructor")
    course = await create_course(client, teacher, title=f"Typed clients {uuid.uuid4().hex[:10]}")
    student = await register(client)
    return student["email"], course["title"]


def _module(client_package: Any, name: str) -> ModuleType:
    return importlib.import_module(f"{client_package.__name__}.{name}")


async def test_generated_python_client_signs_in_lists_and_parses_a_declined_card_problem(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, python_client: Any
) -> None:
    email, title = await _buyer_and_course(client, db)
    models = _module(python_client, "models")
    token_api = _module(python_client, "api.auth.auth_token")
    courses_api = _module(python_client, "api.courses.courses_list")
    purchases_api = _module(python_client, "api.purchases.purchases_create")
    anonymous = python_client.Client(base_url="http://testserver")
    anonymous.set_async_httpx_client(client)

    grant = models.PasswordGrant(grant_type="password", username=email, password=PASSWORD)
    token = await token_api.asyncio(client=anonymous, body=grant)
    page = await courses_api.asyncio(client=anonymous, q=title, limit=10)
    async with client_for(app) as signed_in_http:
        signed_in_http.headers["Authorization"] = f"Bearer {token.access_token}"
        signed_in = python_client.AuthenticatedClient(base_url="http://testserver", token="-")
        signed_in.set_async_httpx_client(signed_in_http)
        (course,) = [item for item in page.items if item.title == title]
        answer = await purchases_api.asyncio_detailed(
            client=signed_in,
            idempotency_key=str(uuid.uuid4()),
            body=models.PurchaseCreate(
                items=[models.ItemIn(kind=models.ItemKind.COURSE, id=course.id)],
                payment=models.CardIn(
                    card_number=DECLINED_CARD,
                    exp_month=12,
                    exp_year=2099,
                    cvc="123",
                    holder_name="Pat Python",
                ),
            ),
        )

    assert isinstance(token, models.TokenResponse)
    assert isinstance(page, models.CoursePage)
    assert answer.status_code == 402
    assert isinstance(answer.parsed, models.Problem)
    assert answer.parsed.code == models.ProblemCode.CARD_DECLINED
    assert answer.parsed.code.value == "card_declined"


def _node_tools() -> Path:
    """`node_modules/` with the pinned packages, installed once per lock file."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed"
        if _in_ci():
            pytest.fail(f"the TypeScript client test can't run in CI: {reason}")
        pytest.skip(f"TypeScript client test skipped: {reason}")
    lock = (TS_CLIENT / "package-lock.json").read_bytes()
    home = NPM_CACHE / f"ts-client-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (home / "node_modules" / ".bin" / "tsc").exists():
        home.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(TS_CLIENT / name, home / name)
        # No skip if the registry can't be reached: `npm ci` failing fails the test.
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], home, timeout=240)
    return home


@contextlib.asynccontextmanager
async def _served(app: FastAPI) -> AsyncIterator[str]:
    """`app` behind a real uvicorn socket on a free loopback port, in this event loop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


async def test_generated_typescript_client_compiles_strict_and_parses_a_declined_card_problem(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession, spec_file: Path
) -> None:
    home = _node_tools()
    work = home / f"work-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        for name in ("main.ts", "tsconfig.json"):
            shutil.copy(TS_CLIENT / name, work / name)
        (work / "package.json").write_text('{"type": "module"}\n')
        bin_dir = home / "node_modules" / ".bin"
        await asyncio.to_thread(
            _run,
            [str(bin_dir / "openapi-typescript"), str(spec_file), "-o", "schema.ts"],
            work,
            60,
        )
        await asyncio.to_thread(_run, [str(bin_dir / "tsc"), "-p", "tsconfig.json"], work, 120)
        email, title = await _buyer_and_course(client, db)

        async with _served(app) as base_url:
            node = await asyncio.create_subprocess_exec(
                "node", "dist/main.js", base_url, email, PASSWORD, title,
                cwd=work, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(node.communicate(), timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    assert node.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["token_type"] == "bearer"
    assert result["status"] == 402
    assert result["code"] == "card_declined"
