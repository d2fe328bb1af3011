"""`techtribe`: serve, migrate, create-admin, seed, worker, reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from techtribe import migrations
from techtribe.auth.models import Role, User
from techtribe.auth.schemas import Email, Password
from techtribe.config import get_settings
from techtribe.db import (
    create_autocommit_sessionmaker,
    create_engine,
    create_sessionmaker,
    database_unavailable,
)
from techtribe.logs import logging_config, setup_logging
from techtribe.security import hash_password

# Not imported from techtribe.metrics: that would import prometheus-client too early.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_HEALTHCHECK_SECONDS = 30

app = typer.Typer(help="TechTribe: courses, advisories and poems.", no_args_is_help=True)


@app.command()
def migrate() -> None:
    """Apply the database migrations (alembic upgrade head) to DATABASE_URL."""
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    typer.echo("database is at the latest migration")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0: all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default: WEB_CONCURRENCY, else 1).", min=1),
    ] = None,
    demo: Annotated[bool, typer.Option(help="Add the demo data before serving.")] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply the migrations first.")
    ] = True,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(help="Serve HTTPS with this PEM certificate (chain); needs --ssl-keyfile."),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="The certificate's PEM private key.")
    ] = None,
) -> None:
    """Apply migrations, then serve the API with uvicorn."""
    settings = get_settings()
    setup_logging(settings)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise typer.BadParameter("--ssl-certfile and --ssl-keyfile go together")
    workers = workers or settings.web_concurrency
    with metrics_directory(workers):
        if migrate_first:
            migrations.upgrade(settings.database_url)
        if demo:
            seed(force=False)
        scheme = "https" if ssl_certfile else "http"
        shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host  # noqa: S104
        base = f"{scheme}://{shown_host}:{port}"
        typer.echo(f"TechTribe on {base}  (API docs: {base}/docs)")
        uvicorn.run(
            "techtribe.app:create_served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            # A dict, not None: uvicorn applies it in each worker process as well.
            log_config=logging_config(settings),
            access_log=False,  # techtribe.logs.log_access writes one with fields
            # uvicorn kills a worker that doesn't answer its supervisor's ping within this
            # many seconds, also while it starts: a worker starting on a busy or
            # CPU-limited machine took over 5 s (the default) and was killed in a loop.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )


@contextlib.contextmanager
def metrics_directory(workers: int) -> Iterator[None]:
    """Prometheus multiprocess mode for more than one worker (or a PROMETHEUS_MULTIPROC_DIR).

    The workers are fresh interpreters that inherit the environment, so setting it here
    comes before their import of prometheus-client.
    """
    if prepare_metrics_directory() or workers == 1:
        # Given, or one process: its own registry holds everything (and CPU, memory figures).
        yield
        return
    with tempfile.TemporaryDirectory(prefix="techtribe-metrics-") as temporary:
        os.environ[MULTIPROC_ENV] = temporary
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]


def prepare_metrics_directory() -> bool:
    """A PROMETHEUS_MULTIPROC_DIR given by the operator, made if missing and emptied.

    prometheus-client writes there from its first metric on (an error if it is missing),
    and files of a previous run would add its counts to this one's. False when not given.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        return False
    directory = Path(given)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()
    return True


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="The admin's e-mail.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="8-72 bytes, a letter and a digit. Visible in shell history and `ps`: "
            "prefer --password-stdin or the prompt."
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    full_name: Annotated[str, typer.Option(help="Name for a new account.")] = "Administrator",
) -> None:
    """Create an admin, or promote, re-activate and set the password of an existing account.

    The password comes from --password-stdin, --password, or else a prompt (typed twice,
    not shown).
    """
    if password is not None and password_stdin:
        raise typer.BadParameter("give --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        email = TypeAdapter(Email).validate_python(email)
        password = TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"]) from None
    settings = get_settings()
    migrations.upgrade(settings.database_url)

    async def run() -> str:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                password_hash = await hash_password(password, settings.bcrypt_rounds)
                user = await session.scalar(select(User).where(User.email == email))
                if user is None:
                    session.add(
                        User(
                            email=email,
                            full_name=full_name,
                            role=Role.admin,
                            password_hash=password_hash,
                            email_verified=True,
                        )
                    )
                    return "created"
                user.role, user.is_active, user.password_hash = Role.admin, True, password_hash
                return "updated"
        finally:
            await engine.dispose()

    typer.echo(f"admin {email} {asyncio.run(run())}")


@app.command()
def seed(
    force: Annotated[bool, typer.Option(help="Seed even when ENVIRONMENT=production.")] = False,
) -> None:
    """Add the demo data; running it twice adds nothing twice."""
    from techtribe.seed import ADMIN_PASSWORD, INSTRUCTOR_PASSWORD, STUDENT_PASSWORD
    from techtribe.seed import seed as run_seed

    settings = get_settings()
    if settings.environment == "production" and not force:
        raise typer.BadParameter("refusing to add demo accounts in production (use --force)")
    migrations.upgrade(settings.database_url)

    async def run() -> int:
        engine = create_engine(settings)
        try:
            return await run_seed(create_sessionmaker(engine), settings)
        finally:
            await engine.dispose()

    added = asyncio.run(run())
    typer.echo(f"demo data: {added} records added")
    typer.echo(
        "demo logins: admin@techtribe.dev / "
        f"{ADMIN_PASSWORD}, ana.torres@techtribe.dev / {INSTRUCTOR_PASSWORD}, "
        f"student@techtribe.dev / {STUDENT_PASSWORD}"
    )


@app.command()
def worker() -> None:
    """Run the background job worker: e-mail delivery from the Redis queue (REDIS_URL).

    Without REDIS_URL it sends the outbox in-process, like the API's embedded mode.
    """
    prepare_metrics_directory()  # before the imports below create the metrics
    from techtribe.notifications.delivery import OutboxDeliverer, Sender
    from techtribe.notifications.jobs import build_worker
    from techtribe.notifications.transports import make_transport
    from techtribe.redis_client import REDIS_ERRORS
    from techtribe.worker_metrics import with_metrics

    settings = get_settings()
    setup_logging(settings)

    async def run_queue() -> None:
        job_worker = build_worker(settings)
        try:
            await job_worker.start()
        finally:
            # A Redis that is down at shutdown has nothing left to close.
            with contextlib.suppress(*REDIS_ERRORS):
                await job_worker.queue.disconnect()

    async def run_embedded() -> None:
        engine = create_engine(settings)
        transport = make_transport(settings)
        sender = Sender(create_autocommit_sessionmaker(engine), transport, settings)
        try:
            await OutboxDeliverer(sender, poll_seconds=settings.outbox_poll_seconds).run()
        finally:
            await transport.aclose()
            await engine.dispose()

    if settings.redis_url:
        typer.echo(
            f"worker: queue {settings.job_queue_name}, e-mail via {settings.email_transport} "
            "(Ctrl+C to stop)"
        )
        asyncio.run(with_metrics(settings, run_queue()))
    else:
        typer.echo("worker: no REDIS_URL, sending the outbox in-process (Ctrl+C to stop)")
        asyncio.run(with_metrics(settings, run_embedded()))


@app.command()
def reconcile() -> None:
    """List every disagreement between purchases and the payment gateway's charges.

    One tab-separated line per disagreement on stdout (kind, purchase, charge, detail), a
    summary on stderr. Exit status: 0 when they agree, 1 when anything disagrees, 2 when
    the gateway or the database could not be asked. Reads only; safe to run at any time.
    """
    from techtribe.purchases.payments import GatewayUnavailable, make_gateway
    from techtribe.purchases.reconcile import Disagreement
    from techtribe.purchases.reconcile import reconcile as disagreements

    settings = get_settings()
    # The sandbox keeps its ledger in the database on PostgreSQL; on SQLite in the memory
    # of each serving process, which this process can't see.
    in_memory = settings.payment_gateway == "sandbox" and settings.is_sqlite

    async def run() -> tuple[list[Disagreement], int | None]:
        engine = create_engine(settings)
        gateway = make_gateway(settings)
        try:
            charges = None if in_memory else await gateway.list_charges()
            async with create_sessionmaker(engine)() as session:
                found = await disagreements(session, charges)
            return found, None if charges is None else len(charges)
        finally:
            await gateway.aclose()
            await engine.dispose()

    try:
        found, charge_count = asyncio.run(run())
    except GatewayUnavailable as exc:
        typer.echo(f"reconcile: the payment gateway could not be asked: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        typer.echo(f"reconcile: the database could not be asked: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None
    for disagreement in found:
        typer.echo(disagreement.line())
    if in_memory:
        typer.echo(
            "reconcile: on SQLite the sandbox keeps its charges in the serving processes' "
            "memory; checked only what the database tells (no paid purchase on a voided charge)",
            err=True,
        )
    seen = "" if charge_count is None else f" ({charge_count} charges at the gateway)"
    if found:
        typer.echo(f"reconcile: {len(found)} disagreement(s){seen}", err=True)
        raise typer.Exit(1)
    typer.echo(f"reconcile: purchases and charges agree{seen}", err=True)
