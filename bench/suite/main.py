"""`python -m bench`: seed a fresh database, load the floor and the service with wrk, and
print one table against the budget of issue 7. See docs/performance.md.

    .venv/bin/python -m bench                  # 100,000 courses, 10 s per scenario
    .venv/bin/python -m bench --quick          # 5,000 courses, 3 s per scenario
    .venv/bin/python -m bench --duration 20 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import bcrypt
import httpx
import redis.asyncio as aioredis

from bench.suite import data as db
from bench.suite import profile, servers
from bench.suite.wrk import WrkResult, require_wrk, run_wrk
from techtribe.config import Settings

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
API = "/api/v1"
CARD = {
    "card_number": "4242424242424242",
    "exp_month": 12,
    "exp_year": datetime.now(UTC).year + 3,
    "cvc": "123",
    "holder_name": "Bench Buyer",
}
PROBE_GAP_MS = 50  # /healthz during logins: ~40 requests/s, a latency probe that takes no CPU
SETTLE_SECONDS = 2.0  # after the login storm, for the logins still hashing to finish
HOT_SLOTS = 8  # every 4th purchase takes a seat in one of these: hot rows, sold out in time
SEARCH = f"{API}/courses?q=python&tag=web&level=beginner"


@dataclass
class Row:
    """One line of the table."""

    name: str
    connections: int
    result: WrkResult | None
    floor: WrkResult | None = None
    budget: str = ""
    passed: bool | None = None  # None: no budget line
    errors: int = 0
    note: str = ""


@dataclass
class Run:
    args: argparse.Namespace
    workdir: Path
    data: db.Data
    dsn: str
    rows: list[Row] = field(default_factory=list)
    results: dict[str, WrkResult] = field(default_factory=dict)
    floor: dict[str, WrkResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bcrypt_rate: float = 0.0
    warm_purchases: int = 0  # 201s of the purchases' warm-up


def _write(workdir: Path, name: str, lines: Sequence[object]) -> str:
    path = workdir / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path)


# --- bcrypt ---------------------------------------------------------------------------------


def bcrypt_rate(rounds: int, threads: int, seconds: float) -> float:
    """Verifies per second of a cost-`rounds` hash, one thread per core (bcrypt drops the GIL)."""
    hashed = bcrypt.hashpw(db.PASSWORD.encode(), bcrypt.gensalt(rounds))
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(i: int) -> None:
        while time.perf_counter() < deadline:
            bcrypt.checkpw(db.PASSWORD.encode(), hashed)
            counts[i] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


# --- scenarios ------------------------------------------------------------------------------


async def load(
    run: Run,
    server: servers.Server,
    kind: str,
    *,
    path: str = "/",
    args: list[str] | None = None,
    connections: int,
    seconds: float | None = None,
    warm: bool = True,
) -> WrkResult:
    threads = run.args.threads
    if warm and run.args.warmup > 0:
        await run_wrk(
            server.base_url,
            run.workdir,
            kind,
            path=path,
            args=args,
            connections=connections,
            threads=threads,
            seconds=run.args.warmup,
        )
    return await run_wrk(
        server.base_url,
        run.workdir,
        kind,
        path=path,
        args=args,
        connections=connections,
        threads=threads,
        seconds=seconds or run.args.duration,
    )


def sample_paths(data: db.Data) -> list[str]:
    return [
        f"{API}/courses",
        f"{API}/courses?cursor={data.deep_cursor}",
        SEARCH,
        f"{API}/courses/{data.listed[0]}",
    ]


async def _answers(base_url: str, paths: list[str]) -> list[object]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return [(r.status_code, r.json()) for r in [await client.get(p) for p in paths]]


async def same_json(run: Run, floor: servers.Server, service: servers.Server) -> list[str]:
    """The floor's answers against the service's, path by path."""
    paths = sample_paths(run.data)
    theirs_all = await _answers(floor.base_url, paths)
    ours_all = await _answers(service.base_url, paths)
    return [
        f"{path}: floor {theirs[0]}, service {ours[0]}, bodies differ"
        for path, theirs, ours in zip(paths, theirs_all, ours_all, strict=True)
        if theirs != ours
    ]


@dataclass(frozen=True)
class Line:
    """One line of load on one server (wrk script `kind`, its URL and arguments)."""

    server: servers.Server
    key: str
    kind: str
    path: str
    args: list[str]


async def side_by_side(run: Run, lines: list[Line], connections: int) -> list[WrkResult]:
    """Lines measured in turns: each warmed up, then `--rounds` slices each, the order
    flipped every round (a, b, b, a, ...), so a drift of the machine's speed weighs on all
    of them alike. One result per line, its slices pooled."""
    a = run.args

    async def slice_of(line: Line, seconds: float) -> WrkResult:
        return await run_wrk(
            line.server.base_url, run.workdir, line.kind, path=line.path, args=line.args,
            connections=connections, threads=a.threads, seconds=seconds,
        )  # fmt: skip

    if a.warmup > 0:
        for line in lines:
            await slice_of(line, a.warmup)
    slices: list[list[WrkResult]] = [[] for _ in lines]
    for turn in range(a.rounds):
        order = list(enumerate(lines))
        for index, line in order if turn % 2 == 0 else order[::-1]:
            slices[index].append(await slice_of(line, a.duration / a.rounds))
    return [WrkResult.merged(parts) for parts in slices]


async def read_lines(run: Run, floor: servers.Server | None, service: servers.Server) -> None:
    """The four catalog reads, on the floor and the service side by side. The first page
    and the deep page are measured in the same turns too: their budget compares them."""
    data = run.data
    ids = _write(run.workdir, "courses.txt", data.listed[: run.args.detail_ids])
    first, deep = sample_paths(data)[:2]
    targets = [service] if floor is None else [floor, service]
    groups = [
        [("list", "static", first, []), ("deep", "static", deep, [])],
        [("search", "static", SEARCH, [])],
        [("detail", "ids", "/", [ids, f"{API}/courses/"])],
    ]
    for group in groups:
        lines = [Line(server, *line) for line in group for server in targets]
        with profile.recording(run, service, "+".join(key for key, *_ in group)):
            measured = await side_by_side(run, lines, run.args.connections)
        for line, result in zip(lines, measured, strict=True):
            into = run.floor if line.server is floor else run.results
            into[line.key] = result
            _progress(f"{line.server.name} {line.key}", result)


async def service_scenarios(run: Run, server: servers.Server) -> None:
    data, args, res = run.data, run.args, run.results
    tokens = _write(run.workdir, "tokens.txt", data.tokens)
    with profile.recording(run, server, "me"):
        res["me"] = await load(
            run,
            server,
            "bearer",
            path=f"{API}/users/me",
            args=[tokens],
            connections=args.connections,
        )
    _progress("service users/me", res["me"])

    # Logins at the production cost, and /healthz latency meanwhile.
    emails = _write(run.workdir, "emails.txt", data.emails)
    probe = asyncio.create_task(
        load(
            run,
            server,
            "probe",
            path="/healthz",
            args=[str(PROBE_GAP_MS)],
            connections=2,
            seconds=max(args.duration, args.login_seconds),
            warm=False,
        )
    )
    with profile.recording(run, server, "login"):
        res["login"] = await load(
            run,
            server,
            "login",
            args=[emails, db.PASSWORD],
            connections=args.login_connections,
            seconds=max(args.duration, args.login_seconds),
            warm=False,
        )
    res["healthz"] = await probe
    # wrk stops with logins in flight; their hashing would eat into the next scenario.
    await asyncio.sleep(SETTLE_SECONDS)
    _progress("service login", res["login"])
    _progress("service /healthz during logins", res["healthz"])

    # Purchases: distinct buyers, fresh idempotency keys; a quarter take a seat in a hot slot.
    half = len(data.tokens) // 2
    buyers = _write(run.workdir, "buyers.txt", data.tokens)
    courses = _write(run.workdir, "buy.txt", data.listed)
    slots = _write(run.workdir, "slots.txt", data.slots[:HOT_SLOTS])
    card = json.dumps(CARD, separators=(",", ":"))
    if args.warmup > 0:
        # Untimed, as for the reads: every pooled connection prepares the checkout's
        # statements once. Other (buyer, course) pairs (its requests are numbered from the
        # fifth round of buyers on) and other slots, so the timed run starts the same.
        other_slots = _write(run.workdir, "warm-slots.txt", data.slots[HOT_SLOTS : 2 * HOT_SLOTS])
        first = str(5 * len(data.tokens))
        warm = await run_wrk(
            server.base_url, run.workdir, "purchase",
            args=[buyers, courses, other_slots, secrets.token_hex(6), card, first],
            connections=args.buyers, threads=args.threads, seconds=args.warmup,
        )  # fmt: skip
        run.warm_purchases = Counter(warm.statuses)["201"]
    with profile.recording(run, server, "purchase"):
        res["purchase"] = await load(
            run,
            server,
            "purchase",
            args=[buyers, courses, slots, secrets.token_hex(6), card, "0"],
            connections=args.buyers,
            warm=False,
        )
    _progress("service purchases", res["purchase"])

    raters = _write(run.workdir, "raters.txt", data.tokens[:half])
    poems = _write(run.workdir, "poems.txt", data.poems)
    with profile.recording(run, server, "rating"):
        res["rating"] = await load(
            run, server, "rating", args=[raters, poems], connections=args.buyers, warm=False
        )
    _progress("service ratings", res["rating"])


async def oversell(dsn: str, created: int, in_flight: int) -> list[str]:
    """Purchases against the database: one purchase per 201, seats within capacity."""
    connection = await asyncpg.connect(dsn)
    try:
        facts = await connection.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM purchases) AS purchases,
              (SELECT count(*) FROM advisory_slots WHERE seats_taken > capacity) AS oversold,
              (SELECT count(*) FROM advisory_slots s WHERE seats_taken <>
                 (SELECT count(*) FROM bookings b WHERE b.slot_id = s.id)) AS miscounted,
              (SELECT count(*) FROM (SELECT slot_id FROM bookings GROUP BY slot_id
                 HAVING count(*) > (SELECT capacity FROM advisory_slots WHERE id = slot_id))
                 x) AS overbooked,
              (SELECT count(*) FROM advisory_slots WHERE seats_taken = capacity) AS sold_out
            """
        )
    finally:
        await connection.close()
    problems = []
    # wrk stops with requests in flight: those commit, but their 201 is never counted.
    if not created <= facts["purchases"] <= created + in_flight:
        problems.append(f"{facts['purchases']} purchases stored for {created} answers 201")
    for name in ("oversold", "miscounted", "overbooked"):
        if facts[name]:
            problems.append(f"{facts[name]} slots {name}")
    problems.append(f"(info) {facts['sold_out']} hot slots sold out")
    return problems


# --- the table ------------------------------------------------------------------------------


def judge(run: Run, purchase_problems: list[str]) -> list[Row]:
    r, f, a = run.results, run.floor, run.args
    rows: list[Row] = []

    def ratio_row(key: str, name: str, budgeted: bool) -> Row:
        res, flo = r[key], f.get(key)
        row = Row(name, a.connections, res, flo, errors=res.errors())
        if budgeted and flo is not None:
            ratio = res.rate / flo.rate if flo.rate else 0.0
            row.budget = "≥0.50x floor, p99≤50ms"
            row.passed = ratio >= 0.5 and res.p99_ms <= 50 and row.errors == 0
        return row

    rows.append(ratio_row("list", "GET /courses (first page)", True))
    deep = ratio_row("deep", f"GET /courses (cursor, {run.data.deep_depth:,} in)", False)
    limit = 1.2 * r["list"].p50_ms
    deep.budget = f"p50≤1.2x first ({limit:.1f}ms)"
    deep.passed = r["deep"].p50_ms <= limit and deep.errors == 0
    rows.append(deep)
    rows.append(ratio_row("search", "GET /courses?q&tag&level", False))
    rows.append(ratio_row("detail", "GET /courses/{id}", True))
    me = Row("GET /users/me (bearer)", a.connections, r["me"], errors=r["me"].errors())
    need = 0.5 * r["detail"].rate
    me.budget = f"≥0.5x detail ({need:.0f}/s)"
    me.passed = r["me"].rate >= need and me.errors == 0
    rows.append(me)
    login = Row(
        f"POST /auth/token (bcrypt {a.bcrypt_rounds})",
        a.login_connections,
        r["login"],
        errors=r["login"].errors(),
    )
    need = 0.9 * run.bcrypt_rate
    login.budget = f"≥0.9x bcrypt ({need:.1f}/s)"
    login.passed = r["login"].rate >= need and login.errors == 0
    login.note = f"bcrypt verify rate, {a.workers} threads: {run.bcrypt_rate:.2f}/s"
    rows.append(login)
    health = Row("GET /healthz during logins", 2, r["healthz"], errors=r["healthz"].errors())
    health.budget = "p99≤20ms"
    health.passed = r["healthz"].p99_ms <= 20 and health.errors == 0
    rows.append(health)
    buy = r["purchase"]
    purchase = Row("POST /purchases (sandbox)", a.buyers, buy, errors=buy.errors(("409:sold_out",)))
    real = [p for p in purchase_problems if not p.startswith("(info)")]
    purchase.budget = "p99≤100ms, 0 errors, 0 oversell"
    purchase.passed = buy.p99_ms <= 100 and purchase.errors == 0 and not real
    purchase.note = "; ".join(
        [", ".join(f"{k}: {v}" for k, v in sorted(buy.statuses.items())), *purchase_problems]
    )
    rows.append(purchase)
    rating = Row("POST /poems/{id}/ratings", a.buyers, r["rating"], errors=r["rating"].errors())
    rating.note = ", ".join(f"{k}: {v}" for k, v in sorted(r["rating"].statuses.items()))
    rows.append(rating)
    return rows


def print_table(run: Run, rows: list[Row]) -> None:
    header = (
        f"{'endpoint':<34} {'conn':>4} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"| {'floor/s':>8} {'ratio':>5} | {'budget':<32} {'verdict':<4}"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        res = row.result
        assert res is not None
        if row.floor is not None:
            floor = f"{row.floor.rate:8.0f} {res.rate / row.floor.rate:4.2f}x"
        else:
            floor = f"{'-':>8} {'-':>5}"
        verdict = "-" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(
            f"{row.name:<34} {row.connections:>4} {res.rate:8.1f} {res.p50_ms:7.2f} "
            f"{res.p99_ms:7.2f} {row.errors:>6} | {floor} | {row.budget:<32} {verdict:<4}"
        )
    print()
    for row in rows:
        if row.note:
            print(f"  {row.name}: {row.note}")
    if run.floor:
        floor = run.floor
        print(
            "  floor (bench/floor.py, same SQL): "
            + ", ".join(
                f"{key} {floor[key].rate:.0f}/s p50 {floor[key].p50_ms:.2f} p99 "
                f"{floor[key].p99_ms:.2f} ms errors {floor[key].errors()}"
                for key in ("list", "deep", "search", "detail")
                if key in floor
            )
        )
    for note in run.notes:
        print(f"  {note}")
    failed = [row.name for row in rows if row.passed is False]
    print(
        f"\nBUDGET: {'all lines PASS' if not failed else 'FAIL on: ' + '; '.join(failed)}"
        f"  ({os.cpu_count()} cores, {run.args.workers} workers, wrk -t{run.args.threads}, "
        f"{run.args.duration:g}s per scenario; server, PostgreSQL and wrk share the cores)"
    )


def _progress(label: str, result: WrkResult) -> None:
    statuses = " ".join(f"{k}:{v}" for k, v in sorted(result.statuses.items()))
    print(
        f"  {label:<34} {result.rate:8.1f}/s  p50 {result.p50_ms:7.2f}  p99 {result.p99_ms:7.2f} ms"
        f"  errors {result.errors(('409:sold_out',))}  {statuses}",
        flush=True,
    )


# --- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    require_wrk()
    if args.redis_url:
        await _check_redis(args.redis_url)
    name = db.new_name()
    dsn = db.database_dsn(args.database_url, name)
    await db.admin(args.database_url, f'CREATE DATABASE "{name}"')
    print(f"database {name} created")
    try:
        started = time.perf_counter()
        await db.migrate(dsn)
        data = await db.fill(dsn, args.sizes, bcrypt_rounds=args.bcrypt_rounds)
        jwt_secret = secrets.token_urlsafe(48)
        settings = Settings(
            environment="production",
            database_url=db.sqlalchemy_url(dsn),
            jwt_secret=jwt_secret,
            access_token_minutes=240,
        )
        await db.mint_tokens(settings, data)
        sizes = args.sizes
        print(
            f"seeded {sizes.courses:,} courses ({len(data.listed):,} listed) with tags and "
            f"lessons, {sizes.users:,} students (bcrypt cost {args.bcrypt_rounds}, tokens "
            f"minted), {sizes.instructors} instructors, {sizes.slots} advisory slots, "
            f"{sizes.poems:,} poems with {sizes.seed_ratings:,} ratings "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="techtribe-bench-") as tmp:
            current = Run(args, Path(tmp), data, dsn)
            return await _bench(current, settings, jwt_secret)
    finally:
        await db.admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"database {name} dropped")


async def _bench(run: Run, settings: Settings, jwt_secret: str) -> int:
    args = run.args
    key_prefix = f"bench-{secrets.token_hex(4)}"
    redis_url = args.redis_url
    env = servers.service_env(
        database_url=settings.database_url,
        jwt_secret=jwt_secret,
        log_level=args.log_level,
        # Any worker may hold most of the connections (see servers.service_env).
        pool_size=max(args.connections, args.buyers),
        redis_url=redis_url,
        key_prefix=key_prefix,
    )
    started: list[servers.Server] = []
    mismatch: list[str] = []
    try:
        if redis_url:
            started.append(servers.worker(run.workdir, env))
        service = servers.service(run.workdir, env, workers=args.workers)
        started.append(service)
        floor = None
        if not args.no_floor:
            floor = servers.floor(run.workdir, dsn=run.dsn, workers=args.workers)
            started.append(floor)
            await floor.wait_ready("/healthz")
            from bench import floor as floor_app

            print(f"floor ready on {floor.base_url} ({floor_app.JSON_LIBRARY})", flush=True)
            run.notes.append(f"floor JSON: {floor_app.JSON_LIBRARY}")
        await service.wait_ready("/readyz")
        print(f"service ready on {service.base_url} (workers {service.worker_pids()})", flush=True)
        if floor is not None:
            mismatch = await same_json(run, floor, service)
        await read_lines(run, floor, service)
        if floor is not None:
            started.remove(floor)
            floor.stop()
            print(f"floor stopped ({floor.process.returncode})")
        print(f"bcrypt: measuring {args.workers} threads for {args.bcrypt_seconds:g}s", flush=True)
        run.bcrypt_rate = await asyncio.to_thread(
            bcrypt_rate, args.bcrypt_rounds, args.workers, args.bcrypt_seconds
        )
        print(f"  bcrypt cost {args.bcrypt_rounds}: {run.bcrypt_rate:.2f} verifies/s")
        await service_scenarios(run, service)
    except BaseException:
        for process in started:
            print(f"\n{process.name} log (last lines, access log left out):\n{process.tail()}")
        raise
    finally:
        for process in reversed(started):
            process.stop()
            print(f"{process.name} stopped ({process.process.returncode})")
        if redis_url:
            await _drop_redis_keys(redis_url, key_prefix)
    run.notes.append(
        f"e-mails: {'techtribe worker over Redis' if redis_url else 'embedded (each API worker)'}"
    )
    created = Counter(run.results["purchase"].statuses)["201"] + run.warm_purchases
    # Both runs stop with requests in flight.
    problems = await oversell(run.dsn, created, 2 * args.buyers)
    print_table(run, judge(run, problems))
    profile.report(run)
    if mismatch:
        print("\nERROR: the floor does not answer the service's JSON:\n  " + "\n  ".join(mismatch))
        return 1
    broken = [key for key, result in run.floor.items() if result.errors()]
    if broken:
        # A failing floor answers fast: its rate, and every ratio to it, would be wrong.
        print(f"\nERROR: the floor answered errors on: {', '.join(broken)}")
        return 1
    return 0


async def _check_redis(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        await client.ping()
    except OSError as exc:
        raise SystemExit(
            f"Redis does not answer at {url} ({exc}): start it, or leave out --redis-url"
        ) from None
    finally:
        await client.aclose()


async def _drop_redis_keys(url: str, key_prefix: str) -> None:
    """The run's queue and throttle keys: every key naming its own prefix."""
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{key_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def _sizes(quick: bool) -> db.Sizes:
    if quick:
        return db.Sizes(
            courses=5_000, users=1_000, instructors=40, poems=200, seed_ratings=1_000, slots=40
        )
    return db.Sizes()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_DSN, help="admin DSN (%(default)s)")
    parser.add_argument("--quick", action="store_true", help="small data, 3 s per scenario")
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 10)")
    parser.add_argument("--warmup", type=float, help="untimed seconds before reads (default 2)")
    parser.add_argument(
        "--rounds", type=int, help="catalog reads: floor/service turns per line (default 5)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="per server")
    parser.add_argument("--threads", type=int, help="wrk threads (default: --workers)")
    parser.add_argument("--connections", type=int, default=32, help="reads (default 32)")
    parser.add_argument("--buyers", type=int, default=16, help="purchases/ratings (16)")
    parser.add_argument("--login-connections", type=int, help="logins (2 per worker)")
    parser.add_argument("--login-seconds", type=float, help="login storm (default 20, quick 6)")
    parser.add_argument("--bcrypt-rounds", type=int, default=12, help="production cost (12)")
    parser.add_argument("--bcrypt-seconds", type=float, default=5.0, help="bcrypt probe time")
    parser.add_argument("--detail-ids", type=int, default=5_000, help="distinct ids asked")
    parser.add_argument("--log-level", default="INFO", help="service LOG_LEVEL (INFO: access log)")
    parser.add_argument(
        "--redis-url",
        help="e-mails over this Redis and `techtribe worker` (default: each API worker sends them)",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the floor")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy each service scenario (slows it down)"
    )
    args = parser.parse_args(argv)
    args.sizes = _sizes(args.quick)
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 2.0
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    # wrk runs whole seconds: at least one per slice.
    args.rounds = max(1, min(args.rounds, int(args.duration)))
    if args.quick:
        args.bcrypt_seconds = min(args.bcrypt_seconds, 2.0)
    args.threads = args.threads or args.workers
    args.login_connections = args.login_connections or 2 * args.workers
    if args.login_seconds is None:
        args.login_seconds = 6.0 if args.quick else 20.0
    args.database_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return args


def main() -> None:
    try:
        sys.exit(asyncio.run(run(parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)
