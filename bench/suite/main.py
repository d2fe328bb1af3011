"""`python -m bench`: seed a fresh database, load the floor and the service with wrk, and
print one table against the budget (docs/performance.md).

    .venv/bin/python -m bench                  # 100,000 courses, 10 s per scenario
    .venv/bin/python -m bench --quick          # 5,000 courses, 3 s per scenario
    .venv/bin/python -m bench --duration 20 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import asyncpg
import bcrypt
import httpx
import redis.asyncio as aioredis

from bench.suite import calls, profile, servers
from bench.suite import data as db
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
# Search combinations, one request at a time: a word in every course, common, rare and in
# none; a common, a middling and the rarest tag; two levels and none (4 x 3 x 3 = 36).
COMBO_WORDS = ["projects", "python", "go", "haskell"]
COMBO_TAGS = ["python", "docker", "async"]
COMBO_LEVELS = ["", "beginner", "advanced"]
COMBO_RUNS = 5  # per combination, after one untimed


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
    # bench/stack.py and the floor, in their own turns (`stack_lines`)
    stack: dict[str, WrkResult] = field(default_factory=dict)
    stack_floor: dict[str, WrkResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bcrypt_rate: float = 0.0
    warm_purchases: int = 0  # 201s of the purchases' warm-ups
    first_page_ms: float = 0.0  # one request at a time, idle server
    combos: dict[str, float] = field(default_factory=dict)  # search combination: median ms


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


async def _answers(base_url: str, paths: list[str]) -> list[tuple[int, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return [(r.status_code, r.json()) for r in [await client.get(p) for p in paths]]


async def same_json(floor: servers.Server, other: servers.Server, paths: list[str]) -> list[str]:
    """The floor's answers against another server's, path by path."""
    theirs_all = await _answers(floor.base_url, paths)
    ours_all = await _answers(other.base_url, paths)
    return [
        f"{path}: floor {theirs[0]}, {other.name} {ours[0]}, bodies differ"
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


# (key, wrk script, path, script arguments), measured together in one group
Group = list[tuple[str, str, str, list[str]]]


def catalog_groups(run: Run) -> list[Group]:
    """The four catalog reads in their groups. The first page and the deep page are
    measured in the same turns: their budget compares them."""
    data = run.data
    ids = _write(run.workdir, "courses.txt", data.listed[: run.args.detail_ids])
    first, deep = sample_paths(data)[:2]
    return [
        [("list", "static", first, []), ("deep", "static", deep, [])],
        [("search", "static", SEARCH, [])],
        [("detail", "ids", "/", [ids, f"{API}/courses/"])],
    ]


async def read_lines(run: Run, floor: servers.Server | None, service: servers.Server) -> None:
    """The four catalog reads, on the floor and the service side by side."""
    targets = [service] if floor is None else [floor, service]
    for group in catalog_groups(run):
        lines = [Line(server, *line) for line in group for server in targets]
        with profile.recording(run, service, "+".join(key for key, *_ in group)):
            measured = await side_by_side(run, lines, run.args.connections)
        for line, result in zip(lines, measured, strict=True):
            into = run.floor if line.server is floor else run.results
            into[line.key] = result
            _progress(f"{line.server.name} {line.key}", result)


async def stack_lines(run: Run, database_url: str, jwt_secret: str) -> list[str]:
    """The floor and the stack (bench/stack.py: FastAPI and SQLAlchemy alone) side by side
    on the first page, the deep page and the course page, in turns like the service's. Run
    once the service has stopped: PostgreSQL's 100 connections hold two servers' pools, not
    three. Returns where the stack's answers differ from the floor's."""
    a = run.args
    floor = servers.floor(run.workdir, dsn=run.dsn, workers=a.workers, jwt_secret=jwt_secret)
    stack = servers.stack(
        run.workdir, database_url=database_url, workers=a.workers, jwt_secret=jwt_secret
    )
    try:
        await floor.wait_ready("/healthz")
        await stack.wait_ready("/healthz")
        first, deep, _, detail = sample_paths(run.data)
        mismatch = await same_json(floor, stack, [first, deep, detail])
        # The stack serves the catalog's pages, not its search.
        groups = [[line for line in group if line[0] != "search"] for group in catalog_groups(run)]
        for group in filter(None, groups):
            lines = [Line(server, *line) for line in group for server in (floor, stack)]
            measured = await side_by_side(run, lines, a.connections)
            for line, result in zip(lines, measured, strict=True):
                into = run.stack_floor if line.server is floor else run.stack
                into[line.key] = result
                _progress(f"{line.server.name} {line.key}", result)
    finally:
        for server in (stack, floor):
            server.stop()
    return mismatch


async def purchases(run: Run, floor: servers.Server | None, service: servers.Server) -> None:
    """Distinct buyers, fresh idempotency keys, a quarter also take a seat in a hot slot: on
    the floor (which then stops), then on the service. Each server gets its own request numbers
    (so no pair of buyer and course repeats) and its own slots; each is warmed up untimed
    first, so every pooled connection has prepared the checkout's statements."""
    data, args = run.data, run.args
    buyers = _write(run.workdir, "buyers.txt", data.tokens)
    courses = _write(run.workdir, "buy.txt", data.listed)
    card = json.dumps(CARD, separators=(",", ":"))
    rounds = len(data.tokens)
    # (server, results, its slot group, request numbers of the timed run and the warm-up)
    targets = [(service, run.results, 0, 0, 5 * rounds)]
    if floor is not None:
        targets.insert(0, (floor, run.floor, 1, 2 * rounds, 7 * rounds))
    for server, into, group, first, warm_first in targets:
        hot = data.slots[group * HOT_SLOTS : (group + 1) * HOT_SLOTS]
        warm_slots = data.slots[(group + 2) * HOT_SLOTS : (group + 3) * HOT_SLOTS]

        async def wrk(
            slots: Sequence[object], first: int, seconds: float, url: str = server.base_url
        ) -> WrkResult:
            return await run_wrk(
                url, run.workdir, "purchase",
                args=[buyers, courses, _write(run.workdir, f"slots-{first}.txt", slots),
                      secrets.token_hex(6), card, str(first)],
                connections=args.buyers, threads=args.threads, seconds=seconds,
            )  # fmt: skip

        if args.warmup > 0:
            warm = await wrk(warm_slots, warm_first, args.warmup)
            run.warm_purchases += Counter(warm.statuses)["201"]
        with profile.recording(run, server, "purchase") if server is service else nullcontext():
            into["purchase"] = await wrk(hot, first, args.duration)
        _progress(f"{server.name} purchases", into["purchase"])
        if server is floor:
            # Its idle pools (reads, purchases, its sandbox ledger) would hold connections
            # the service's purchases need: past max_connections, a charge fails.
            floor.stop()
            print(f"floor stopped ({floor.process.returncode})", flush=True)


async def search_combinations(run: Run, service: servers.Server) -> None:
    """Each combination timed alone on the idle service (median of `COMBO_RUNS`), against
    the first page timed the same way."""

    async def median_ms(client: httpx.AsyncClient, path: str, runs: int) -> float:
        await client.get(path)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = await client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        return statistics.median(times)

    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
        run.first_page_ms = await median_ms(client, f"{API}/courses", 6 * COMBO_RUNS)
        for word, tag, level in itertools.product(COMBO_WORDS, COMBO_TAGS, COMBO_LEVELS):
            query = f"q={word}&tag={tag}" + (f"&level={level}" if level else "")
            run.combos[query] = await median_ms(client, f"{API}/courses?{query}", COMBO_RUNS)
    ordered = sorted(run.combos.items(), key=lambda item: item[1])
    print(
        f"  search combinations: first page {run.first_page_ms:.2f} ms, median "
        f"{statistics.median(run.combos.values()):.2f} ms, worst {ordered[-1][1]:.2f} ms "
        f"({ordered[-1][0]})",
        flush=True,
    )


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

    half = len(data.tokens) // 2
    raters = _write(run.workdir, "raters.txt", data.tokens[:half])
    poems = _write(run.workdir, "poems.txt", data.poems)
    with profile.recording(run, server, "rating"):
        res["rating"] = await load(
            run, server, "rating", args=[raters, poems], connections=args.buyers, warm=False
        )
    _progress("service ratings", res["rating"])


async def outbox_drained(dsn: str, limit_seconds: float = 120.0) -> None:
    """Waits until no e-mail is pending in the outbox (or `limit_seconds`), and says how long."""
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        query = "SELECT count(*) FROM outbox WHERE status = 'pending'"
        for _ in range(int(limit_seconds * 2)):
            if not (pending := await connection.fetchval(query)):
                break
            await asyncio.sleep(0.5)
        waited = time.perf_counter() - started
        print(f"outbox: {pending} e-mails pending after waiting {waited:.1f}s", flush=True)
    finally:
        await connection.close()


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
    """The table's lines against the budget of issue 18: rates and p99 as ratios to the
    floor measured in the same turns."""
    r, f, a = run.results, run.floor, run.args
    rows: list[Row] = []

    def ratio_row(key: str, name: str, rate: float, p99: float, conn: int = a.connections) -> Row:
        res, flo = r[key], f.get(key)
        row = Row(name, conn, res, flo, errors=res.errors(("409:sold_out",)))
        if flo is not None:
            row.budget = f"≥{rate:.1f}x floor, p99≤{p99:g}x floor"
            row.passed = (
                res.rate >= rate * flo.rate and res.p99_ms <= p99 * flo.p99_ms and not row.errors
            )
        return row

    rows.append(ratio_row("list", "GET /courses (first page)", 0.6, 1.5))
    deep = f"GET /courses (cursor, {run.data.deep_depth:,} in)"
    rows.append(ratio_row("deep", deep, 0.6, 1.5))
    search = ratio_row("search", "GET /courses?q&tag&level", 0.6, 1e9)
    if "search" in f and "list" in f:
        search.budget = "≥0.6x floor; floor ≥0.5x its list"
        floor_ratio = f["search"].rate / f["list"].rate
        search.passed = bool(search.passed) and floor_ratio >= 0.5
        search.note = f"floor's search / floor's first page: {floor_ratio:.2f}x"
    rows.append(search)
    if run.combos:
        median = statistics.median(run.combos.values())
        worst_query, worst = max(run.combos.items(), key=lambda item: item[1])
        combos = Row(f"search, {len(run.combos)} combinations", 1, None)
        combos.budget = "median≤2x, worst≤4x first page"
        combos.passed = median <= 2 * run.first_page_ms and worst <= 4 * run.first_page_ms
        combos.note = (
            f"one at a time, idle: first page p50 {run.first_page_ms:.2f} ms; combinations "
            f"median {median:.2f} ms ({median / run.first_page_ms:.2f}x), worst "
            f"{worst:.2f} ms ({worst / run.first_page_ms:.2f}x, {worst_query})"
        )
        rows.append(combos)
    rows.append(ratio_row("detail", "GET /courses/{id}", 0.5, 2))
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
    purchase = ratio_row("purchase", "POST /purchases (sandbox)", 0.5, 2, a.buyers)
    real = [p for p in purchase_problems if not p.startswith("(info)")]
    purchase.budget += ", 0 errors, 0 oversell"
    purchase.passed = bool(purchase.passed) and not real
    purchase.note = "; ".join(
        [
            ", ".join(f"{k}: {v}" for k, v in sorted(r["purchase"].statuses.items())),
            *purchase_problems,
        ]
    )
    rows.append(purchase)
    rating = Row("POST /poems/{id}/ratings", a.buyers, r["rating"], errors=r["rating"].errors())
    rating.note = ", ".join(f"{k}: {v}" for k, v in sorted(r["rating"].statuses.items()))
    rows.append(rating)
    return rows


def print_table(run: Run, rows: list[Row]) -> None:
    header = (
        f"{'endpoint':<34} {'conn':>4} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"| {'floor/s':>8} {'p99 ms':>7} {'ratio':>5} {'p99':>5} | {'budget':<36} verdict"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        res, flo = row.result, row.floor
        if res is None:
            measured = f"{'-':>8} {'-':>7} {'-':>7} {'-':>6}"
        else:
            measured = f"{res.rate:8.1f} {res.p50_ms:7.2f} {res.p99_ms:7.2f} {row.errors:>6}"
        if res is not None and flo is not None:
            against = (
                f"{flo.rate:8.0f} {flo.p99_ms:7.2f} {res.rate / flo.rate:4.2f}x "
                f"{res.p99_ms / flo.p99_ms:4.2f}x"
            )
        else:
            against = f"{'-':>8} {'-':>7} {'-':>5} {'-':>5}"
        verdict = "-" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(
            f"{row.name:<34} {row.connections:>4} {measured} | {against} | {row.budget:<36} "
            f"{verdict}"
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
                f"{floor[key].p99_ms:.2f} ms errors {floor[key].errors(('409:sold_out',))}"
                for key in ("list", "deep", "search", "detail", "purchase")
                if key in floor
            )
        )
    if run.stack:
        print("  " + stack_note(run))
    for note in run.notes:
        print(f"  {note}")
    failed = [row.name for row in rows if row.passed is False]
    print(
        f"\nBUDGET: {'all lines PASS' if not failed else 'FAIL on: ' + '; '.join(failed)}"
        f"  ({os.cpu_count()} cores, {run.args.workers} workers, wrk -t{run.args.threads}, "
        f"{run.args.duration:g}s per scenario; server, PostgreSQL and wrk share the cores)"
    )


def stack_note(run: Run) -> str:
    """The stack against the floor (in their own turns), and the service against the stack:
    each side's ratio to the floor of its own turns, so a drift of the machine's speed between
    the two phases cancels out."""
    keys = [key for key in ("list", "deep", "detail") if key in run.stack and key in run.floor]
    ceiling = {key: run.stack[key].rate / run.stack_floor[key].rate for key in keys}
    service = {key: run.results[key].rate / run.floor[key].rate for key in keys}
    return (
        "stack (bench/stack.py: FastAPI and SQLAlchemy alone) ÷ floor: "
        + ", ".join(f"{key} {ceiling[key]:.2f}x" for key in keys)
        + "; the service ÷ the stack: "
        + ", ".join(f"{key} {service[key] / ceiling[key]:.2f}x" for key in keys)
    )


def _progress(label: str, result: WrkResult) -> None:
    statuses = " ".join(f"{k}:{v}" for k, v in sorted(result.statuses.items()))
    print(
        f"  {label:<34} {result.rate:8.1f}/s  p50 {result.p50_ms:7.2f}  p99 {result.p99_ms:7.2f} ms"
        f"  errors {result.errors(('409:sold_out',))}  {statuses}",
        flush=True,
    )


async def calls_table(run: Run, settings: Settings) -> None:
    """Python calls per request of each line, the app in process under cProfile."""
    data = run.data
    get: dict[str, str] = {}
    get["list"], get["deep"], get["search"], _ = sample_paths(data)
    headers = {"authorization": f"Bearer {data.tokens[0]}"}
    login = urlencode(
        {"grant_type": "password", "username": data.emails[0], "password": db.PASSWORD}
    )
    lines: dict[str, Callable[[int], calls.Request]] = {
        **{key: calls.repeated(("GET", path, {}, b"")) for key, path in get.items()},
        "detail": lambda n: ("GET", f"{API}/courses/{data.listed[n % 500]}", {}, b""),
        "me": lambda n: ("GET", f"{API}/users/me", headers, b""),
        "login": lambda n: (
            "POST",
            f"{API}/auth/token",
            {"content-type": "application/x-www-form-urlencoded"},
            login.encode(),
        ),
        # A buyer and a course no scenario paired (courses from the end of the list).
        "purchase": lambda n: calls.purchase(data.tokens[-1 - n], data.listed[-1 - n], CARD),
        "healthz": lambda n: ("GET", "/healthz", {}, b""),
    }
    quiet = settings.model_copy(
        update={"log_level": "WARNING", "payment_gateway": "sandbox", "database_pool_size": 2}
    )
    counted = await calls.count(quiet, lines, {"login": 5, "purchase": 30})
    print(f"\n{'Python calls per request (cProfile, in process)':<48} {'calls':>8}  statuses")
    for name, (per_request, statuses) in counted.items():
        print(f"  {name:<46} {per_request:8.0f}  {statuses}")


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
        jwt_secret = secrets.token_urlsafe(48)
        data = await db.fill(
            dsn, args.sizes, bcrypt_rounds=args.bcrypt_rounds, jwt_secret=jwt_secret
        )
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
            floor = servers.floor(
                run.workdir, dsn=run.dsn, workers=args.workers, jwt_secret=jwt_secret
            )
            started.append(floor)
            await floor.wait_ready("/healthz")
            print(f"floor ready on {floor.base_url}", flush=True)
        await service.wait_ready("/readyz")
        print(f"service ready on {service.base_url} (workers {service.worker_pids()})", flush=True)
        if floor is not None:
            mismatch = await same_json(floor, service, sample_paths(run.data))
        await read_lines(run, floor, service)
        await search_combinations(run, service)
        await purchases(run, floor, service)  # stops the floor after its turn
        if floor is not None:
            started.remove(floor)
        # The purchases queued thousands of receipts; the bcrypt probe and the logins are
        # measured once they are sent, on an idle service: the sender's event loop would
        # otherwise win the cores from the logins' hashing (below the loop's priority).
        await outbox_drained(run.dsn)
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
    if not args.no_floor:
        mismatch += await stack_lines(run, settings.database_url, jwt_secret)
    run.notes.append(
        f"e-mails: {'techtribe worker over Redis' if redis_url else 'embedded (each API worker)'}"
    )
    created = run.warm_purchases + sum(
        Counter(results["purchase"].statuses)["201"]
        for results in (run.results, run.floor)
        if "purchase" in results
    )
    # Every wrk run stops with requests in flight.
    problems = await oversell(run.dsn, created, 4 * args.buyers)
    print_table(run, judge(run, problems))
    profile.report(run)
    await calls_table(run, settings)
    if mismatch:
        print("\nERROR: the floor does not answer the service's JSON:\n  " + "\n  ".join(mismatch))
        return 1
    broken = [key for key, result in run.floor.items() if result.errors(("409:sold_out",))]
    if broken:
        # A failing floor answers fast: its rate, and every ratio to it, would be wrong.
        print(f"\nERROR: the floor answered errors on: {', '.join(broken)}")
        return 1
    return 0


async def _check_redis(url: str) -> None:
    client = aioredis.from_url(url)
    try:
        # redis-py types its commands for both clients (a bool or an awaitable).
        await cast("Awaitable[bool]", client.ping())
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


async def seed(argv: Sequence[str]) -> int:
    """`python -m bench seed --database-url DSN`: the bench data in the named database
    (created if missing), migrated and filled as a run does, left there to explore."""
    parser = argparse.ArgumentParser(prog="python -m bench seed", description=seed.__doc__)
    parser.add_argument("--database-url", required=True, help="the database to fill")
    parser.add_argument("--quick", action="store_true", help="the --quick sizes")
    parser.add_argument("--bcrypt-rounds", type=int, default=12, help="password cost (12)")
    args = parser.parse_args(argv)
    dsn = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = dsn.rsplit("/", 1)[1].split("?")[0]
    admin = db.database_dsn(dsn, "postgres")
    connection = await asyncpg.connect(admin)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
            print(f"database {name} created")
    finally:
        await connection.close()
    started = time.perf_counter()
    await db.migrate(dsn)
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT count(*) FROM courses"):
            print(f"database {name} already has courses: not seeded again")
            return 1
    finally:
        await connection.close()
    sizes = _sizes(args.quick)
    data = await db.fill(
        dsn, sizes, bcrypt_rounds=args.bcrypt_rounds, jwt_secret=secrets.token_urlsafe(48)
    )
    print(
        f"seeded {sizes.courses:,} courses ({len(data.listed):,} listed), {sizes.users:,} "
        f"students (password {db.PASSWORD!r}, e.g. {data.emails[0]}), {sizes.instructors} "
        f"instructors, {sizes.slots} slots, {sizes.poems:,} poems in "
        f"{time.perf_counter() - started:.1f}s; serve it with DATABASE_URL="
        f"{db.sqlalchemy_url(dsn)}"
    )
    return 0


def main() -> None:
    try:
        if sys.argv[1:2] == ["seed"]:
            sys.exit(asyncio.run(seed(sys.argv[2:])))
        sys.exit(asyncio.run(run(parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)
