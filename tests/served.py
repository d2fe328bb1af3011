"""Real `techtribe serve` / `techtribe worker` processes on free loopback ports, for tests.

Each is bounded in time and stopped (SIGTERM, then SIGKILL) on the way out, failure or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from techtribe.config import Settings

TECHTRIBE = str(Path(sys.executable).parent / "techtribe")
START_SECONDS = 60.0  # generous: a shared, loaded machine imports slowly


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a process configured like `settings` (plus `extra`)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "BCRYPT_ROUNDS": str(settings.bcrypt_rounds),
        "LOG_FORMAT": "json",
        "EMAIL_TRANSPORT": "console",
        # Test processes run side by side: no worker metrics listener on a fixed port.
        "WORKER_METRICS_PORT": "0",
    }
    env.update(extra)
    return env


async def wait_for(url: str, *, verify: ssl.SSLContext | bool = True) -> None:
    """Until `url` answers (anything), or fail after START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(verify=verify, timeout=2) as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} did not answer in {START_SECONDS} s") from None
                await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def process(
    *args: str,
    env: dict[str, str],
    ready_url: str,
    verify: ssl.SSLContext | bool = True,
    graceful: bool = True,
) -> AsyncIterator[Path]:
    """`techtribe <args>` running until the block ends; yields the file its output goes to.

    `graceful=False` kills it at the end: for tests that don't check how it stops.
    """
    log = Path(tempfile.mkdtemp(prefix="techtribe-served-")) / f"{args[0]}.log"
    with log.open("wb") as output:
        proc = await asyncio.create_subprocess_exec(
            TECHTRIBE, *args, env=env, stdout=output, stderr=output
        )
    try:
        try:
            await wait_for(ready_url, verify=verify)
        except AssertionError:
            raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
        yield log
    finally:
        if not graceful and proc.returncode is None:
            proc.kill()
        await stop(proc)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout=15)
    except TimeoutError:
        proc.kill()
        await proc.wait()
