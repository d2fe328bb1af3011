"""Checkout benchmark: purchases per second and latency of `POST /api/v1/purchases`.

Makes a fresh PostgreSQL database, migrates it with the project's migrations, bulk-fills it
(COPY) with instructors, published courses, advisory slots and buyers, and mints an access
token per buyer with the project's own `issue_tokens`. Then it starts the real server
(`techtribe serve`, uvicorn, one worker, sandbox gateway) as a subprocess and drives it over
TCP with httpx from C concurrent asyncio workers, each request with its own
`Idempotency-Key`. Scenarios:

1. course purchases, one course per purchase, every request a (buyer, course) pair never
   bought before, at each concurrency level; every answer must be 201;
2. idempotent replays: keys of scenario 1 sent again with the same body; every answer must
   be 201 with the first answer's body, and nothing new may be bought;
3. advisory seats: a few slots of large capacity, every request a seat for a new buyer
   (each seat purchase updates its slot row, so the slots are hot rows);
4. races: 20 buyers at once for a capacity-1 slot, several rounds; exactly one 201 per
   slot, the others 409 `sold_out`.

It reports per scenario the status counts, 201 answers per second, latency percentiles,
and CPU per request of the server process, of the PostgreSQL backends of the bench
database, and of this load generator (they share the machine's cores). After the run it
checks the database (purchases, charges, enrollments, seats, receipts). It exits 1 when a
check fails. The server is stopped and the database dropped at the end, whatever happens.

    .venv/bin/python bench/purchases.py                 # ~2 minutes
    .venv/bin/python bench/purchases.py --quick         # smoke test, ~10 s
    .venv/bin/python bench/purchases.py --concurrency 1,4,16 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.auth.models import AuthSession
from techtribe.auth.service import issue_tokens
from techtribe.config import Settings
from techtribe.migrations import upgrade_engine
from techtribe.users.models import User

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
API = "/api/v1"
INSTRUCTORS = 20
RACERS = 20  # buyers racing for one capacity-1 slot
PRICES = [999, 1499, 1999, 2499, 2999, 3999, 4999, 7999, 9999, 14999]  # all paid: every
# purchase goes through the gateway
CARD = {
    "card_number": "4242424242424242",  # the sandbox's paying card
    "exp_month": 12,
    "exp_year": datetime.now(UTC).year + 3,
    "cvc": "123",
    "holder_name": "Bench Buyer",
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the database (as in catalog_listing.py) ----------------------------------------------


def _database_dsn(admin_dsn: str, name: str) -> str:
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


def _sqlalchemy_url(dsn: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if dsn.startswith(plain):
            return "postgresql+asyncpg://" + dsn[len(plain) :]
    return dsn


async def _admin(admin_dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@dataclass
class Data:
    """What was filled: ids, and the prices the checks compare against."""

    courses: list[uuid.UUID]
    buyers: list[uuid.UUID]
    logins: list[uuid.UUID]  # auth_sessions.id per buyer
    seat_slots: list[uuid.UUID]  # large capacity
    race_slots: list[uuid.UUID]  # capacity 1


async def fill(dsn: str, *, courses: int, buyers: int, seat_slots: int, race_slots: int) -> Data:
    """Instructors, published courses, buyers with a login each, advisory slots; by COPY."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    instructors = [uuid.uuid4() for _ in range(INSTRUCTORS)]
    data = Data(
        courses=[uuid.uuid4() for _ in range(courses)],
        buyers=[uuid.uuid4() for _ in range(buyers)],
        logins=[uuid.uuid4() for _ in range(buyers)],
        seat_slots=[uuid.uuid4() for _ in range(seat_slots)],
        race_slots=[uuid.uuid4() for _ in range(race_slots)],
    )
    connection = await asyncpg.connect(dsn)
    try:
        flags = (True, True, now, now)  # is_active, email_verified, created_at, updated_at
        users = [
            (user_id, f"bench-instructor-{n}@example.com", f"Instructor {n}", "instructor", *flags)
            for n, user_id in enumerate(instructors)
        ] + [
            (user_id, f"bench-buyer-{n}@example.com", f"Buyer {n}", "student", *flags)
            for n, user_id in enumerate(data.buyers)
        ]
        await connection.copy_records_to_table(
            "users",
            columns=[
                "id",
                "email",
                "full_name",
                "role",
                "is_active",
                "email_verified",
                "created_at",
                "updated_at",
            ],
            records=users,
        )
        await connection.copy_records_to_table(
            "auth_sessions",
            columns=["id", "user_id", "created_at"],
            records=[(s, u, now) for s, u in zip(data.logins, data.buyers, strict=True)],
        )
        await connection.copy_records_to_table(
            "courses",
            columns=[
                "id",
                "instructor_id",
                "title",
                "description",
                "price_cents",
                "currency",
                "level",
                "published",
                "archived",
                "reviews_count",
                "rating_sum",
                "rating_avg",
                "created_at",
                "updated_at",
            ],
            records=[
                (
                    course_id,
                    instructors[n % INSTRUCTORS],
                    f"Bench course #{n}",
                    "A course to buy.",
                    rng.choice(PRICES),
                    "USD",
                    "beginner",
                    True,
                    False,
                    0,
                    0,
                    0.0,
                    now,
                    now,
                )
                for n, course_id in enumerate(data.courses)
            ],
        )
        # One instructor, one hour apart: the slots must not overlap (exclusion constraint).
        slots = [(slot, buyers) for slot in data.seat_slots] + [(s, 1) for s in data.race_slots]
        start = now.replace(microsecond=0) + timedelta(days=7)
        await connection.copy_records_to_table(
            "advisory_slots",
            columns=[
                "id",
                "instructor_id",
                "topic",
                "description",
                "starts_at",
                "ends_at",
                "duration_minutes",
                "price_cents",
                "currency",
                "capacity",
                "seats_taken",
                "created_at",
                "updated_at",
            ],
            records=[
                (
                    slot_id,
                    instructors[0],
                    f"Bench advisory #{n}",
                    "",
                    start + timedelta(hours=n),
                    start + timedelta(hours=n, minutes=60),
                    60,
                    4000,
                    "USD",
                    capacity,
                    0,
                    now,
                    now,
                )
                for n, (slot_id, capacity) in enumerate(slots)
            ],
        )
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()
    return data


async def mint_tokens(settings: Settings, data: Data) -> list[str]:
    """An access token per buyer, for the login filled above, by the project's `issue_tokens`."""
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    tokens = []
    try:
        async with AsyncSession(engine) as session:  # nothing is flushed: no query at all
            for user_id, login_id in zip(data.buyers, data.logins, strict=True):
                user = User(id=user_id, role="student")
                login = AuthSession(id=login_id, user_id=user_id)
                issued = await issue_tokens(session, settings, user, login, fresh=True)
                tokens.append(issued.access_token)
            session.expunge_all()
    finally:
        await engine.dispose()
    return tokens


# --- the server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`techtribe serve` in a subprocess, in an empty directory (no `.env` is read)."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = workdir / "server.stdout"  # the console e-mail transport writes here
        self.stderr_path = workdir / "server.stderr"  # logs, uvicorn's access log included
        script = Path(sys.executable).with_name("techtribe")
        command = (
            [str(script)]
            if script.exists()
            else [sys.executable, "-c", "from techtribe.cli import app; app()"]
        )
        command += ["serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", "1"]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, env=env, cwd=workdir, stdout=out, stderr=err)

    async def wait_ready(self, limit_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + limit_seconds
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited ({self.process.returncode})")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the server was not ready after {limit_seconds:.0f}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: uvicorn shuts down gracefully
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stderr_tail(self, lines: int = 40) -> str:
        text = self.stderr_path.read_text(errors="replace").splitlines()
        interesting = [line for line in text if "uvicorn.access" not in line]
        return "\n".join(interesting[-lines:])


def server_env(settings: Settings, database_url: str) -> dict[str, str]:
    """This process's environment without any TechTribe setting, then the bench's."""
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    env.update(
        DATABASE_URL=database_url,
        ENVIRONMENT="development",
        BCRYPT_ROUNDS="4",
        PAYMENT_GATEWAY="sandbox",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        JWT_SECRET=settings.jwt_secret.get_secret_value(),
        JWT_ALGORITHM=settings.jwt_algorithm,
        ACCESS_TOKEN_MINUTES=str(settings.access_token_minutes),
    )
    return env


# --- CPU accounting -----------------------------------------------------------------------


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process, from /proc; None if it can't be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


@dataclass
class CpuSample:
    server: float | None
    backends: dict[int, float]
    generator: float
    machine: tuple[int, int]
    database: dict[str, float]  # pg_stat_database counters of the bench database


DB_COUNTERS = """
SELECT xact_commit + xact_rollback AS xacts, sessions, active_time, idle_in_transaction_time
FROM pg_stat_database WHERE datname = $1
"""


class CpuMeter:
    """CPU of the server process, of the PostgreSQL backends serving the bench database
    (found in pg_stat_activity; PostgreSQL must run on this machine), and of this process."""

    def __init__(self, server_pid: int, monitor: asyncpg.Connection, database: str) -> None:
        self.server_pid = server_pid
        self.monitor = monitor
        self.database = database

    async def sample(self) -> CpuSample:
        pids = await self.monitor.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.database,
        )
        backends = {}
        for row in pids:
            cpu = _process_cpu(row["pid"])
            if cpu is not None:
                backends[row["pid"]] = cpu
        counters = await self.monitor.fetchrow(DB_COUNTERS, self.database)
        return CpuSample(
            _process_cpu(self.server_pid),
            backends,
            time.process_time(),
            _machine_cpu(),
            {key: float(value) for key, value in counters.items()},
        )


@dataclass
class CpuUse:
    """CPU seconds used between two samples."""

    server: float | None
    postgres: float | None  # backends that closed meanwhile are missed (pool overflow)
    generator: float
    busy: float  # share of all cores busy, whoever used them
    other: float  # share of all cores busy with anything but the three above
    database: dict[str, float]  # pg_stat_database counters used (reported with a lag <= 1 s)

    @classmethod
    def between(cls, before: CpuSample, after: CpuSample) -> CpuUse:
        server = (
            after.server - before.server
            if after.server is not None and before.server is not None
            else None
        )
        postgres = (
            sum(cpu - before.backends.get(pid, 0.0) for pid, cpu in after.backends.items())
            if after.backends
            else None
        )
        busy = after.machine[0] - before.machine[0]
        total = max(after.machine[1] - before.machine[1], 1)
        generator = after.generator - before.generator
        ours = (server or 0.0) + (postgres or 0.0) + generator
        cores = total / CLOCK_TICKS  # core-seconds that passed, all cores
        database = {key: after.database[key] - before.database[key] for key in after.database}
        return cls(
            server,
            postgres,
            generator,
            busy / total,
            max(0.0, busy / total - ours / cores),
            database,
        )


# --- load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One request to send."""

    buyer: int
    items: tuple[tuple[str, uuid.UUID], ...]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    expected: dict[str, Any] | None = None  # for a replay: the first answer's body

    def body(self) -> bytes:
        items = [{"kind": kind, "id": str(item_id)} for kind, item_id in self.items]
        return json.dumps({"items": items, "payment": CARD}).encode()


@dataclass
class Outcome:
    job: Job
    status: int
    ms: float
    answer: dict[str, Any] | None


@dataclass
class Result:
    name: str
    concurrency: int
    outcomes: list[Outcome]
    seconds: float
    cpu: CpuUse
    problems: list[str] = field(default_factory=list)

    @property
    def statuses(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for outcome in self.outcomes:
            code = (outcome.answer or {}).get("code") if outcome.status != 201 else None
            counts[f"{outcome.status} {code}" if code else str(outcome.status)] += 1
        return counts

    @property
    def created(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 201]

    def percentile(self, p: float) -> float:
        ordered = sorted(o.ms for o in self.outcomes)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


class Load:
    """Sends jobs to the server from `concurrency` asyncio workers, over keep-alive TCP."""

    def __init__(self, base_url: str, tokens: list[str], meter: CpuMeter) -> None:
        self.base_url = base_url
        self.auth = [{"Authorization": f"Bearer {token}"} for token in tokens]
        self.meter = meter

    async def _send(self, client: httpx.AsyncClient, job: Job) -> Outcome:
        headers = {
            **self.auth[job.buyer],
            "Content-Type": "application/json",
            "Idempotency-Key": job.key,
        }
        started = time.perf_counter()
        response = await client.post(f"{API}/purchases", content=job.body(), headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        try:
            answer = response.json()
        except ValueError:
            answer = {"text": response.text[:500]}
        return Outcome(job, response.status_code, elapsed, answer)

    def _client(self, concurrency: int) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=60.0)

    async def run(
        self,
        name: str,
        jobs: Iterator[Job],
        *,
        concurrency: int,
        seconds: float | None,
        requests: int | None,
    ) -> Result:
        """Workers take jobs until the time or the request count is up, or jobs run out."""
        outcomes: list[Outcome] = []
        sent = 0

        async with self._client(concurrency) as client:
            # Open the connections before the clock starts.
            await asyncio.gather(*(client.get("/healthz") for _ in range(concurrency)))
            deadline = time.perf_counter() + seconds if seconds is not None else math.inf

            async def worker() -> None:
                nonlocal sent
                while time.perf_counter() < deadline and (requests is None or sent < requests):
                    job = next(jobs, None)
                    if job is None:
                        return
                    sent += 1
                    outcomes.append(await self._send(client, job))

            before = await self.meter.sample()
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            after = await self.meter.sample()
        return Result(name, concurrency, outcomes, elapsed, CpuUse.between(before, after))

    async def race(self, name: str, rounds: list[list[Job]]) -> Result:
        """Each round: all its jobs sent at once (one connection each)."""
        outcomes: list[Outcome] = []
        width = max(len(jobs) for jobs in rounds)
        async with self._client(width) as client:
            await asyncio.gather(*(client.get("/healthz") for _ in range(width)))
            before = await self.meter.sample()
            started = time.perf_counter()
            for jobs in rounds:
                outcomes += await asyncio.gather(*(self._send(client, job) for job in jobs))
            elapsed = time.perf_counter() - started
            after = await self.meter.sample()
        return Result(name, width, outcomes, elapsed, CpuUse.between(before, after))


def course_jobs(data: Data, start: int = 0) -> Iterator[Job]:
    """Request n buys course (b + k) mod C for buyer b = n mod B, k = n div B: no (buyer,
    course) pair twice for n < B*C, and neighbouring requests differ in buyer and course."""
    buyers, courses = len(data.buyers), len(data.courses)
    for n in range(start, buyers * courses):
        buyer, k = n % buyers, n // buyers
        yield Job(buyer, (("course", data.courses[(buyer + k) % courses]),))


def seat_jobs(data: Data) -> Iterator[Job]:
    """Seats round-robin over the slots; each buyer once per slot."""
    slots = len(data.seat_slots)
    for n in range(slots * len(data.buyers)):
        yield Job(n // slots, (("advisory", data.seat_slots[n % slots]),))


def replay_jobs(firsts: list[Outcome]) -> Iterator[Job]:
    """The same keys and bodies again, over and over; each must answer its first body."""
    while True:
        for first in firsts:
            job = first.job
            yield Job(job.buyer, job.items, key=job.key, expected=first.answer)


# --- checks -------------------------------------------------------------------------------


def check_all_created(result: Result) -> None:
    bad = [o for o in result.outcomes if o.status != 201]
    for outcome in bad[:5]:
        result.problems.append(f"{outcome.status}: {json.dumps(outcome.answer)[:300]}")
    if bad:
        result.problems.insert(0, f"{len(bad)} of {len(result.outcomes)} answers were not 201")


def check_replays(result: Result) -> None:
    check_all_created(result)
    differ = [o for o in result.created if o.answer != o.job.expected]
    if differ:
        result.problems.append(f"{len(differ)} replays answered another body than the first")


def check_race(result: Result, rounds: int) -> None:
    per_slot: Counter[uuid.UUID] = Counter()
    for outcome in result.outcomes:
        if outcome.status == 201:
            per_slot[outcome.job.items[0][1]] += 1
        elif outcome.status != 409 or (outcome.answer or {}).get("code") != "sold_out":
            result.problems.append(f"unexpected {outcome.status}: {outcome.answer}")
    wrong = {slot: n for slot, n in per_slot.items() if n != 1}
    if len(per_slot) != rounds or wrong:
        result.problems.append(
            f"expected one 201 per slot for {rounds} slots; got {len(per_slot)} slots sold, "
            f"oversold: {len(wrong)}"
        )


async def check_database(dsn: str, purchases: int, courses: int, seats: int) -> list[str]:
    """The database agrees with the answers: one purchase, charge, enrollment or booking,
    idempotency key and receipt per 201; seats taken = bookings <= capacity."""
    connection = await asyncpg.connect(dsn)
    problems = []
    try:
        facts = await connection.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM purchases) AS purchases,
              (SELECT count(DISTINCT gateway_charge_id) FROM purchases) AS charges,
              (SELECT count(*) FROM enrollments) AS enrollments,
              (SELECT count(*) FROM bookings) AS bookings,
              (SELECT count(*) FROM idempotency_keys WHERE response_status = 201) AS keys,
              (SELECT count(*) FROM outbox WHERE kind = 'purchase_receipt') AS receipts,
              (SELECT count(*) FROM outbox WHERE kind = 'purchase_receipt'
                 AND status = 'sent') AS receipts_sent,
              (SELECT count(*) FROM purchase_items i JOIN courses c ON c.id = i.course_id
                 WHERE i.price_cents <> c.price_cents) AS mispriced,
              (SELECT count(*) FROM purchases p WHERE total_cents <>
                 (SELECT sum(price_cents) FROM purchase_items i WHERE i.purchase_id = p.id))
                 AS bad_totals,
              (SELECT count(*) FROM advisory_slots s WHERE seats_taken > capacity
                 OR seats_taken <> (SELECT count(*) FROM bookings b WHERE b.slot_id = s.id))
                 AS bad_slots
            """
        )
    finally:
        await connection.close()
    expected = {
        "purchases": purchases,
        "charges": purchases,
        "enrollments": courses,
        "bookings": seats,
        "keys": purchases,
        "receipts": purchases,
        "mispriced": 0,
        "bad_totals": 0,
        "bad_slots": 0,
    }
    for name, want in expected.items():
        if facts[name] != want:
            problems.append(f"database: {name} = {facts[name]}, expected {want}")
    print(
        f"\ndatabase after the run: {facts['purchases']} purchases, {facts['charges']} distinct "
        f"charges, {facts['enrollments']} enrollments, {facts['bookings']} bookings, "
        f"{facts['keys']} idempotency keys, {facts['receipts']} receipts "
        f"({facts['receipts_sent']} already sent by the outbox deliverer)"
    )
    return problems


# --- report -------------------------------------------------------------------------------


def _per_request(seconds: float | None, count: int) -> str:
    return f"{seconds * 1000 / count:6.2f}" if seconds is not None and count else f"{'-':>6}"


def print_table(results: list[Result]) -> None:
    header = (
        f"{'scenario':<24} {'conc':>4} {'reqs':>6}  {'statuses':<22} {'201/s':>7} | "
        f"{'p50':>6} {'p95':>6} {'p99':>6} {'max':>6} | {'server':>6} {'pg':>6} {'loadgen':>7} "
        f"{'busy':>5} {'other':>5}"
    )
    print("\nLatency in ms (client side, HTTP over TCP); CPU in ms per request:")
    print(header)
    print("-" * len(header))
    for r in results:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items()))
        rate = f"{len(r.created) / r.seconds:7.1f}" if not r.name.startswith("race") else "      -"
        n = len(r.outcomes)
        print(
            f"{r.name:<24} {r.concurrency:>4} {n:>6}  {statuses:<22} {rate} | "
            f"{r.percentile(0.50):6.1f} {r.percentile(0.95):6.1f} {r.percentile(0.99):6.1f} "
            f"{r.percentile(1.0):6.1f} | {_per_request(r.cpu.server, n)} "
            f"{_per_request(r.cpu.postgres, n)} {_per_request(r.cpu.generator, n):>7} "
            f"{r.cpu.busy * 100:4.0f}% {r.cpu.other * 100:4.0f}%"
        )
    print(
        "\nconc: concurrent client workers; 201/s: created (or replayed) answers per second;\n"
        "server: CPU of the uvicorn process; pg: CPU of the PostgreSQL backends of the bench\n"
        "database (missing any that closed during the scenario); loadgen: CPU of this process\n"
        "(httpx); busy: all cores, whoever used them; other: busy, but not by those three\n"
        "(other processes on the machine, PostgreSQL's WAL writer, the kernel).\n"
        f"This machine has {os.cpu_count()} cores, shared by the server, PostgreSQL and the "
        "load generator."
    )
    header = (
        f"{'scenario':<24} {'conc':>4} | {'xacts/req':>9} {'sessions':>8} "
        f"{'active ms/req':>13} {'idle in xact ms/req':>19}"
    )
    print("\nPostgreSQL's view (pg_stat_database of the bench database, flushed with <= 1 s lag):")
    print(header)
    print("-" * len(header))
    for r in results:
        n, db = len(r.outcomes), r.cpu.database
        print(
            f"{r.name:<24} {r.concurrency:>4} | {db['xacts'] / n:9.2f} {db['sessions']:8.0f} "
            f"{db['active_time'] / n:13.2f} {db['idle_in_transaction_time'] / n:19.2f}"
        )
    print(
        "xacts/req: transactions per request; sessions: connections opened to the database;\n"
        "active: time backends spent running statements; idle in xact: time a transaction\n"
        "stayed open waiting for the server between statements (its row locks held)."
    )


# --- main ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    admin_dsn: str = args.database_url
    name = f"techtribe_bench_{secrets.token_hex(4)}"
    dsn = _database_dsn(admin_dsn, name)
    url = _sqlalchemy_url(dsn)
    await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    print(f"database {name} created")
    server: Server | None = None
    try:
        started = time.perf_counter()
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            await upgrade_engine(engine)
        finally:
            await engine.dispose()
        print(f"migrated in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        data = await fill(
            dsn,
            courses=args.courses,
            buyers=args.buyers,
            seat_slots=args.slots,
            race_slots=args.races,
        )
        settings = Settings(
            environment="development",
            database_url=url,
            redis_url=None,
            bcrypt_rounds=4,
            jwt_secret=secrets.token_urlsafe(48),
            jwt_algorithm="HS256",
            access_token_minutes=240,
        )
        tokens = await mint_tokens(settings, data)
        print(
            f"filled {args.courses:,} courses, {args.buyers:,} buyers (tokens minted), "
            f"{args.slots} large slots, {args.races} capacity-1 slots "
            f"in {time.perf_counter() - started:.1f}s"
        )
        with tempfile.TemporaryDirectory(prefix="techtribe-bench-") as workdir:
            server = Server(server_env(settings, url), Path(workdir))
            try:
                await server.wait_ready()
                print(f"server ready on {server.base_url} (pid {server.process.pid})")
                return await _bench(args, server, dsn, name, data, tokens)
            except BaseException:
                print(f"\nserver log (last lines, access log left out):\n{server.stderr_tail()}")
                raise
            finally:
                server.stop()
                # uvicorn shuts down gracefully, then re-raises the signal: -15 is normal.
                print(f"server stopped (exit status {server.process.returncode})")
    finally:
        await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"database {name} dropped")


async def _bench(
    args: argparse.Namespace, server: Server, dsn: str, name: str, data: Data, tokens: list[str]
) -> int:
    monitor = await asyncpg.connect(dsn)
    try:
        meter = CpuMeter(server.process.pid, monitor, name)
        load = Load(server.base_url, tokens, meter)
        timing = {"seconds": args.duration, "requests": args.requests}
        results: list[Result] = []
        checks: list[tuple[Result, Callable[[Result], None]]] = []
        courses = course_jobs(data)  # one sequence: pairs stay unique over the run

        warm = await load.run("warm-up", courses, concurrency=4, seconds=None, requests=args.warmup)
        check_all_created(warm)
        if warm.problems:
            print("warm-up failed:\n  " + "\n  ".join(warm.problems))
            print(f"\nserver log (last lines, access log left out):\n{server.stderr_tail()}")
            return 1
        print(f"warm-up: {len(warm.outcomes)} purchases")

        for concurrency in args.concurrency:
            result = await load.run("course", courses, concurrency=concurrency, **timing)
            _progress(result)
            results.append(result)
            checks.append((result, check_all_created))

        firsts = [o for r in results for o in r.created][: args.replay_keys]
        top = max(args.concurrency)
        if firsts:
            result = await load.run(
                "replay (same key)", replay_jobs(firsts), concurrency=top, **timing
            )
            _progress(result)
            results.append(result)
            checks.append((result, check_replays))

        if data.seat_slots:
            result = await load.run(
                f"advisory, {len(data.seat_slots)} slots",
                seat_jobs(data),
                concurrency=top,
                **timing,
            )
            _progress(result)
            results.append(result)
            checks.append((result, check_all_created))

        if data.race_slots:
            buyers = len(data.buyers)
            rounds = [
                [Job((r * RACERS + i) % buyers, (("advisory", slot),)) for i in range(RACERS)]
                for r, slot in enumerate(data.race_slots)
            ]
            result = await load.race(f"race, {RACERS} for 1 seat", rounds)
            _progress(result)
            results.append(result)
            checks.append((result, lambda res: check_race(res, len(rounds))))
    finally:
        await monitor.close()

    print_table(results)
    for result, check in checks:
        check(result)
    created_courses = len(warm.created) + sum(len(r.created) for r in results if r.name == "course")
    seats = sum(len(r.created) for r in results if r.name.startswith(("advisory", "race")))
    await asyncio.sleep(0.5)  # let the outbox deliverer catch up a little (reported, not checked)
    problems = [f"{r.name} (c={r.concurrency}): {p}" for r in results for p in r.problems]
    problems += await check_database(dsn, created_courses + seats, created_courses, seats)
    if problems:
        print("\nFAIL:\n  " + "\n  ".join(problems))
        print(f"\nserver log (last lines, access log left out):\n{server.stderr_tail()}")
        return 1
    print("\nPASS: every purchase 201, replays answered the first body, races sold one seat")
    return 0


def _progress(result: Result) -> None:
    statuses = " ".join(f"{k}:{v}" for k, v in sorted(result.statuses.items()))
    print(
        f"  {result.name:<24} c={result.concurrency:<3} {len(result.outcomes):>6} requests "
        f"in {result.seconds:5.1f}s  [{statuses}]  p99 {result.percentile(0.99):.1f} ms"
    )


def _levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return levels


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=DEFAULT_ADMIN_DSN,
        help="admin DSN: the bench database is created next to this one (default: %(default)s)",
    )
    parser.add_argument("--buyers", type=int, default=2_000, help="students who buy")
    parser.add_argument("--courses", type=int, default=3_000, help="published courses")
    parser.add_argument(
        "--concurrency",
        type=_levels,
        help="client concurrency levels of the course scenario (default 1,8,32; --quick: 1,8); "
        "the replay and advisory scenarios run at the highest",
    )
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    amount.add_argument("--requests", type=int, help="requests per scenario instead of a duration")
    parser.add_argument("--warmup", type=int, default=200, help="untimed purchases first")
    parser.add_argument("--slots", type=int, default=4, help="large advisory slots (0: skip)")
    parser.add_argument("--races", type=int, default=10, help="capacity-1 slots raced for")
    parser.add_argument(
        "--replay-keys", type=int, default=2_000, help="keys of scenario 1 to replay"
    )
    parser.add_argument("--quick", action="store_true", help="smoke test, about 10 seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.buyers, args.courses, args.warmup, args.races = 200, 300, 20, 3
        args.concurrency = args.concurrency or [1, 8]
        if args.requests is None:
            args.duration = 1.0
    args.concurrency = args.concurrency or [1, 8, 32]
    if args.requests is not None:
        args.duration = None
    if args.buyers < RACERS or args.courses < 1:
        parser.error(f"--buyers must be at least {RACERS}, --courses at least 1")
    args.database_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return args


def main() -> None:
    sys.exit(asyncio.run(run(parse_args())))


if __name__ == "__main__":
    main()
