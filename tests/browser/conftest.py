"""Browser tests: a real `techtribe serve` on the test lane's database, driven in Chromium.

Chromium is Debian's package (`/usr/bin/chromium`, `.ci/run` installs it), driven by
Playwright through `executable_path`: Playwright's own browser download doesn't work here.
Without Chromium or Playwright the tests skip and say why; under `CI=true` they fail.
Screenshots of the main pages, at desktop and phone widths, go to `artifacts/screenshots/`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATABASE_URL, RUN_KEY_PREFIX, TEST_REDIS, _in_ci

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ADMIN_EMAIL = f"admin-{uuid.uuid4().hex[:8]}@example.com"
ADMIN_PASSWORD = "admin-pass-1"
# Where the server (and, on the Redis lane, its worker) print the e-mails they deliver
# (EMAIL_TRANSPORT=console): tests follow the links of the messages really sent.
MAIL_LOGS: list[Path] = []


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"browser tests can't run in CI: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="package")
def server(browser_ready: None, migrated: None) -> Iterator[str]:
    """`techtribe serve` in a subprocess, on the lane's (already migrated) database.

    Per package (this folder), not per session: once the browser tests are done it must
    stop, or its outbox deliverer would take other tests' messages (and, on SQLite, hold
    the file's lock). One server for all the browser modules: each start costs seconds.
    """
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": DATABASE_URL,
        "BCRYPT_ROUNDS": "4",
        "JWT_SECRET": "browser-test-secret-0123456789abcdef0123",
        "PUBLIC_BASE_URL": base,
        "OUTBOX_POLL_SECONDS": "0.5",
        # Under the run's prefix, so the session's clean-up drops its queue keys too.
        "REDIS_KEY_PREFIX": f"{RUN_KEY_PREFIX}-browser-{uuid.uuid4().hex[:12]}",
        "LOG_FORMAT": "text",
        # Test processes run side by side: no worker metrics listener on a fixed port.
        "WORKER_METRICS_PORT": "0",
    }
    if TEST_REDIS:
        env["REDIS_URL"] = TEST_REDIS
    else:
        env.pop("REDIS_URL", None)
    workdir = tempfile.mkdtemp(prefix="techtribe-browser-")  # no stray .env is read
    techtribe = str(Path(sys.executable).with_name("techtribe"))
    subprocess.run(  # noqa: S603
        [techtribe, "create-admin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    log = Path(workdir) / "server.log"
    worker_log = Path(workdir) / "worker.log"
    processes = []
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [techtribe, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    processes.append(process)
    if TEST_REDIS:  # e-mails go through the job queue: its worker sends them
        with worker_log.open("wb") as out:
            processes.append(
                subprocess.Popen(  # noqa: S603
                    [techtribe, "worker"],
                    env=env,
                    cwd=workdir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    MAIL_LOGS[:] = [log, worker_log]
    try:
        # Generous: on a loaded CI machine the start (imports, bcrypt warm-up) takes long.
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        for each in processes:
            each.terminate()
        for each in processes:
            # The worker may sit out a queue poll before it stops: it holds nothing to save.
            try:
                each.wait(timeout=10 if each is process else 2)
            except subprocess.TimeoutExpired:
                each.kill()
                each.wait()
        MAIL_LOGS.clear()
        shutil.rmtree(workdir, ignore_errors=True)


async def mailed_link(recipient: str, subject: str, pattern: str, within: float = 40) -> str:
    """The first link matching `pattern` in an e-mail to `recipient` whose subject starts
    with `subject`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for path in MAIL_LOGS:
            text = path.read_text(errors="replace") if path.exists() else ""
            for message in text.split("----- e-mail ")[1:]:
                sent_to = f"To: {recipient}\nSubject: {subject}" in message
                if sent_to and (found := re.search(pattern, message)):
                    return found.group(0)
        await asyncio.sleep(0.25)
    pytest.fail(f"no e-mail to {recipient} with a link like {pattern!r} within {within} s")


@pytest.fixture(scope="package")
async def browser(server: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any, server: str) -> AsyncIterator[Any]:
    """A fresh browser profile (its own localStorage) on the client's home page."""
    context = await browser.new_context(viewport=DESKTOP, base_url=server)
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
async def new_page(browser: Any, server: str) -> AsyncIterator[Any]:
    """Opens more, independent browser profiles (a second member, an admin)."""
    contexts: list[Any] = []

    async def open_page() -> Any:
        context = await browser.new_context(viewport=DESKTOP, base_url=server)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return await context.new_page()

    yield open_page
    for context in contexts:
        await context.close()


@pytest.fixture
async def api(server: str) -> AsyncIterator[httpx.AsyncClient]:
    """The same server over plain HTTP, for setting up data and checking outcomes."""
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        yield client


async def snap(page: Any, name: str) -> None:
    """Screenshots of the current page at desktop and phone widths (CI artefacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(100)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(before)
