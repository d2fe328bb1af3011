"""The servers under load, as subprocesses: the service (`techtribe serve`, and `techtribe
worker` beside it with Redis) and the floor."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from techtribe.config import Settings

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server process (a uvicorn master and its workers) in its own process group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        command = [part.replace("{port}", str(self.port)) for part in command]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=workdir, stdout=log, stderr=log, start_new_session=True
            )

    async def wait_ready(self, path: str, limit_seconds: float = 90.0) -> None:
        deadline = time.monotonic() + limit_seconds
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited ({self.process.returncode}):\n{self.tail()}"
                    )
                try:
                    if (await client.get(path)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {limit_seconds:.0f}s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the master)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        """SIGTERM to the master (uvicorn stops its workers); the group is killed if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        kept = [line for line in text if "uvicorn.access" not in line and '"GET ' not in line]
        return "\n".join(kept[-lines:])


def _clean_env() -> dict[str, str]:
    """This process's environment without any TechTribe setting (no `.env` is read either:
    the servers run in an empty directory)."""
    names = {name.upper() for name in Settings.model_fields}
    return {key: value for key, value in os.environ.items() if key.upper() not in names}


def service_env(
    *,
    database_url: str,
    jwt_secret: str,
    log_level: str,
    pool_size: int,
    redis_url: str | None,
    key_prefix: str,
) -> dict[str, str]:
    """Production settings for `techtribe serve` and `techtribe worker`: JSON logs with the
    access log, the sandbox gateway, and Redis with its own key prefix (no Redis: the
    embedded mode, where each API worker sends the e-mails itself). The pool
    (`DATABASE_POOL_SIZE`) holds as many connections as one worker may have requests in
    flight: the workers share the listening socket and the kernel's split of wrk's
    keep-alive connections is uneven (18/14 of 32, seen). Past the pool, SQLAlchemy opens an
    overflow connection per checkout and closes it on return, a new PostgreSQL backend
    per request: with the pool at connections / workers, that churn made the catalog
    lines swing by a third from run to run."""
    env = _clean_env()
    env.update(
        DATABASE_URL=database_url,
        ENVIRONMENT="production",
        JWT_SECRET=jwt_secret,
        ACCESS_TOKEN_MINUTES="240",
        PAYMENT_GATEWAY="sandbox",
        LOG_FORMAT="json",
        LOG_LEVEL=log_level,
        DATABASE_POOL_SIZE=str(pool_size),
        REDIS_KEY_PREFIX=key_prefix,
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _techtribe(*arguments: str) -> list[str]:
    script = Path(sys.executable).with_name("techtribe")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from techtribe.cli import app; app()"]
    )
    return command + list(arguments)


def service(workdir: Path, env: dict[str, str], *, workers: int) -> Server:
    """`techtribe serve` as production runs it (Dockerfile): uvicorn, `--workers`, with
    uvloop and httptools (uvicorn[standard] picks both)."""
    command = _techtribe("serve", "--no-migrate", "--host", "127.0.0.1", "--port", "{port}")
    return Server("service", [*command, "--workers", str(workers)], env, workdir)


def worker(workdir: Path, env: dict[str, str]) -> Server:
    """`techtribe worker`, as compose.yaml runs it beside the API: sends the queued e-mails."""
    return Server("worker", _techtribe("worker"), env, workdir)


def floor(workdir: Path, *, dsn: str, workers: int, jwt_secret: str) -> Server:
    """bench/floor.py, the same SQL on bare asyncpg."""
    env = {"FLOOR_DSN": dsn, "FLOOR_JWT_SECRET": jwt_secret}
    return _bench_app("floor", ["bench.floor:app"], workdir, workers, env)


def stack(workdir: Path, *, database_url: str, workers: int, jwt_secret: str) -> Server:
    """bench/stack.py, FastAPI and SQLAlchemy alone."""
    env = {"STACK_DATABASE_URL": database_url, "STACK_JWT_SECRET": jwt_secret}
    return _bench_app("stack", ["--factory", "bench.stack:create"], workdir, workers, env)


def _bench_app(
    name: str, uvicorn_app: list[str], workdir: Path, workers: int, settings: dict[str, str]
) -> Server:
    """One of the bench's own apps under uvicorn as the service is served: the same worker
    count, uvloop and httptools, no access log; `settings` its environment variables."""
    env = _clean_env()
    env.update(settings, PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    command = [
        sys.executable, "-m", "uvicorn", *uvicorn_app, "--host", "127.0.0.1", "--port", "{port}",
        "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return Server(name, command, env, workdir)
