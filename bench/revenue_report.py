"""Revenue report benchmark: `GET /api/v1/admin/revenue` and `/instructors/me/earnings`.

Makes a fresh PostgreSQL database, migrates it with the project's migrations, and bulk-fills
it (COPY) with instructors, courses, students and `--sales` sold course lines, consistently:
purchases and their lines, one `sale` ledger entry per line (fee = price * 30 // 100, share
the rest), about 5% of purchases refunded whole (a `refund` entry per line, negated fee and
share, the line's and the purchase's `refunded_at` set, no enrollment left), and an
enrollment per line still owned. Three currencies, sales spread over 24 months, a few
instructors selling much more than the rest. Then it runs the real app in-process (httpx
over ASGI, inside its lifespan), signs in an admin and the busiest instructor through
`POST /api/v1/auth/token`, and times each report (warm-up, then median/p95/p99), checks
that the figures add up, and prints EXPLAIN (ANALYZE, BUFFERS) of the group=month and the
instructor_id queries (and of every query of a report slower than --slow-ms). The database
is dropped at the end, whatever happens.

    .venv/bin/python bench/revenue_report.py                 # 100,000 sales, 50 runs
    .venv/bin/python bench/revenue_report.py --quick         # 5,000 sales, 10 runs
    .venv/bin/python bench/revenue_report.py --sql "CREATE INDEX ..."   # try a fix
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import secrets
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.app import API_PREFIX, create_app
from techtribe.config import Settings
from techtribe.migrations import upgrade_engine
from techtribe.revenue.ledger import split
from techtribe.revenue.service import SALE_ORDER
from techtribe.security import hash_password

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
FEE_PERCENT = 30  # Settings.platform_fee_percent's default, which the app runs with here
PASSWORD = "bench-password-1"
BCRYPT_ROUNDS = 4

INSTRUCTORS = 50
COURSES = 3_000
BUYERS = 10_000
MONTHS = 24
REFUND_PERCENT = 5.0
CURRENCIES = ["USD", "EUR", "GBP"]
CURRENCY_WEIGHTS = [70, 20, 10]
PRICE_TIERS = [999, 1499, 1999, 2499, 2999, 3999, 4999, 7999, 9999, 14999, 19999]
LINES_PER_PURCHASE = [1, 2, 3]
LINES_WEIGHTS = [70, 20, 10]

USER_COLUMNS = [
    "id",
    "email",
    "password_hash",
    "full_name",
    "role",
    "is_active",
    "email_verified",
    "created_at",
    "updated_at",
]
COURSE_COLUMNS = [
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
]
PURCHASE_COLUMNS = [
    "id",
    "user_id",
    "status",
    "total_cents",
    "currency",
    "card_brand",
    "card_last4",
    "card_exp_month",
    "card_exp_year",
    "gateway_charge_id",
    "created_at",
    "refunded_at",
]
ITEM_COLUMNS = [
    "id",
    "purchase_id",
    "position",
    "kind",
    "course_id",
    "slot_id",
    "instructor_id",
    "title",
    "price_cents",
    "currency",
    "platform_fee_cents",
    "instructor_share_cents",
    "created_at",
    "refunded_at",
]
ENTRY_COLUMNS = [
    "id",
    "kind",
    "purchase_item_id",
    "instructor_id",
    "currency",
    "gross_cents",
    "refunded_cents",
    "platform_fee_cents",
    "instructor_share_cents",
    "occurred_at",
    "month",
]


# --- the database -------------------------------------------------------------------------
# The three helpers below are bench/catalog_listing.py's, duplicated: bench/ is no package.


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
    """What was filled, and what the reports must add up to."""

    now: datetime
    admin_email: str
    instructor_emails: dict[uuid.UUID, str]
    busiest: uuid.UUID = field(default_factory=uuid.uuid4)
    lines: int = 0
    refunded_lines: int = 0
    purchases: int = 0
    # currency -> [gross, refunded, fee, share]
    totals: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 4))
    lines_per_instructor: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))


def _month(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


async def fill(dsn: str, sales: int, seed: int) -> Data:
    """Users, courses, purchases, lines, ledger entries and enrollments by COPY; then ANALYZE."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    span = timedelta(days=MONTHS * 30.44).total_seconds()
    password_hash = await hash_password(PASSWORD, BCRYPT_ROUNDS)

    admin = uuid.uuid4()
    instructors = [uuid.uuid4() for _ in range(INSTRUCTORS)]
    buyers = [uuid.uuid4() for _ in range(BUYERS)]
    data = Data(
        now=now,
        admin_email="bench-admin@example.com",
        instructor_emails={
            i: f"bench-instructor-{n}@example.com" for n, i in enumerate(instructors)
        },
    )
    flags = (True, True, now - timedelta(days=800), now)  # active, verified, created, updated
    users: list[tuple[Any, ...]] = [
        (admin, data.admin_email, password_hash, "Bench Admin", "admin", *flags)
    ]
    users += [
        (user_id, email, password_hash, f"Instructor {n}", "instructor", *flags)
        for n, (user_id, email) in enumerate(data.instructor_emails.items())
    ]
    users += [
        (user_id, f"bench-buyer-{n}@example.com", None, f"Buyer {n}", "student", *flags)
        for n, user_id in enumerate(buyers)
    ]

    # Courses: a few instructors own many (Zipf-like), so their reports cover many lines.
    owner_weights = [1 / (n + 1) ** 0.9 for n in range(INSTRUCTORS)]
    courses = []
    by_currency: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    popularity: dict[str, list[float]] = defaultdict(list)
    for n in range(COURSES):
        currency = rng.choices(CURRENCIES, CURRENCY_WEIGHTS)[0]
        created = now - timedelta(days=800 + rng.randrange(200))
        row = (
            uuid.uuid4(),
            rng.choices(instructors, owner_weights)[0],
            f"Revenue bench course #{n}",
            "A course that sells.",
            rng.choice(PRICE_TIERS),
            currency,
            "beginner",
            True,
            False,
            0,
            0,
            0.0,
            created,
            created,
        )
        courses.append(row)
        by_currency[currency].append(row)
        popularity[currency].append(rng.paretovariate(1.3))  # a few best-sellers
    cumulative = {c: list(_accumulate(w)) for c, w in popularity.items()}

    purchases: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    enrollments: list[tuple[Any, ...]] = []
    owned: set[tuple[uuid.UUID, uuid.UUID]] = set()
    while data.lines < sales:
        buyer = rng.choice(buyers)
        currency = rng.choices(CURRENCIES, CURRENCY_WEIGHTS)[0]
        wanted = min(rng.choices(LINES_PER_PURCHASE, LINES_WEIGHTS)[0], sales - data.lines)
        chosen: list[tuple[Any, ...]] = []
        for _ in range(wanted * 4):  # a buyer never buys a course twice
            course = rng.choices(by_currency[currency], cum_weights=cumulative[currency])[0]
            if (buyer, course[0]) not in owned and course not in chosen:
                chosen.append(course)
                if len(chosen) == wanted:
                    break
        if not chosen:
            continue
        purchase_id = uuid.uuid4()
        sold_at = now - timedelta(seconds=int(rng.random() * span))
        refunded_at = None
        if rng.random() * 100 < REFUND_PERCENT:
            refunded_at = min(now, sold_at + timedelta(seconds=rng.randrange(14 * 86400)))
        total = sum(course[4] for course in chosen)
        purchases.append(
            (
                purchase_id,
                buyer,
                "refunded" if refunded_at else "paid",
                total,
                currency,
                "visa",
                "4242",
                12,
                now.year + 2,
                f"ch_bench_{purchase_id.hex}",
                sold_at,
                refunded_at,
            )
        )
        data.purchases += 1
        for position, course in enumerate(chosen):
            course_id, instructor_id, title, price = course[0], course[1], course[2], course[4]
            fee, share = split(price, FEE_PERCENT)
            item_id = uuid.uuid4()
            items.append(
                (
                    item_id,
                    purchase_id,
                    position,
                    "course",
                    course_id,
                    None,
                    instructor_id,
                    title,
                    price,
                    currency,
                    fee,
                    share,
                    sold_at,
                    refunded_at,
                )
            )
            common = (item_id, instructor_id, currency)
            entries.append(
                (uuid.uuid4(), "sale", *common, price, 0, fee, share, sold_at, _month(sold_at))
            )
            sums = data.totals[currency]
            sums[0] += price
            sums[2] += fee
            sums[3] += share
            data.lines += 1
            data.lines_per_instructor[instructor_id] += 1
            owned.add((buyer, course_id))
            if refunded_at:
                entries.append(
                    (
                        uuid.uuid4(),
                        "refund",
                        *common,
                        0,
                        price,
                        -fee,
                        -share,
                        refunded_at,
                        _month(refunded_at),
                    )
                )
                sums[1] += price
                sums[2] -= fee
                sums[3] -= share
                data.refunded_lines += 1
            else:
                enrollments.append((uuid.uuid4(), buyer, course_id, sold_at))
    data.busiest = max(data.lines_per_instructor, key=data.lines_per_instructor.__getitem__)

    # Ledger rows in the order they were written: by time, as the table grows in production.
    entries.sort(key=lambda row: row[9])
    items.sort(key=lambda row: row[12])
    purchases.sort(key=lambda row: row[10])
    connection = await asyncpg.connect(dsn)
    try:
        for table, columns, records in (
            ("users", USER_COLUMNS, users),
            ("courses", COURSE_COLUMNS, courses),
            ("purchases", PURCHASE_COLUMNS, purchases),
            ("purchase_items", ITEM_COLUMNS, items),
            ("revenue_entries", ENTRY_COLUMNS, entries),
            ("enrollments", ["id", "user_id", "course_id", "created_at"], enrollments),
        ):
            await connection.copy_records_to_table(table, columns=columns, records=records)
        # VACUUM as well as ANALYZE: a settled table (visibility map set), as in production.
        await connection.execute(
            "VACUUM (ANALYZE) users, courses, purchases, purchase_items, revenue_entries, "
            "enrollments"
        )
    finally:
        await connection.close()
    return data


def _accumulate(weights: Sequence[float]) -> list[float]:
    out, running = [], 0.0
    for weight in weights:
        running += weight
        out.append(running)
    return out


# --- measuring ----------------------------------------------------------------------------


class SqlClock:
    """Time spent in the database driver per request, and the statements it ran."""

    def __init__(self, engine: Any) -> None:
        self.elapsed = 0.0
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.elapsed = 0.0
        self.statements = []

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()
        self.statements.append((statement, params))

    def _after(self, conn: Any, *_: Any) -> None:
        self.elapsed += time.perf_counter() - conn.info.pop("bench_started")


def _percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Case:
    label: str
    path: str
    params: dict[str, Any]
    who: str  # "admin" or "instructor"
    explain: bool = False  # always print its plans


@dataclass
class Result:
    case: Case
    total: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    statements: list[tuple[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.total)

    def p(self, percent: float) -> float:
        return _percentile(self.total, percent)

    @property
    def sql_median(self) -> float:
        return statistics.median(self.sql)


async def _get(
    client: httpx.AsyncClient, clock: SqlClock, case: Case, headers: dict[str, str]
) -> tuple[float, float, dict[str, Any]]:
    clock.reset()
    started = time.perf_counter()
    response = await client.get(f"{API_PREFIX}{case.path}", params=case.params, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{case.label}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return elapsed * 1000, clock.elapsed * 1000, body


async def measure(
    client: httpx.AsyncClient,
    clock: SqlClock,
    case: Case,
    headers: dict[str, str],
    *,
    runs: int,
    warmup: int,
) -> Result:
    result = Result(case)
    _, _, result.body = await _get(client, clock, case, headers)
    result.statements = list(clock.statements)
    for _ in range(warmup):
        await _get(client, clock, case, headers)
    for _ in range(runs):
        total, sql, _ = await _get(client, clock, case, headers)
        result.total.append(total)
        result.sql.append(sql)
    return result


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        f"{API_PREFIX}/auth/token",
        data={"grant_type": "password", "username": email, "password": PASSWORD},
    )
    if response.status_code != 200:
        raise RuntimeError(f"sign-in of {email}: {response.status_code} {response.text}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def deep_cursor(dsn: str, instructor_id: uuid.UUID, rows_in: int) -> tuple[str, int]:
    """A `SALE_ORDER` cursor after `rows_in` of the instructor's lines (clamped), made by the
    project's own `Ordering.encode`; and the rows before it."""
    connection = await asyncpg.connect(dsn)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM purchase_items WHERE instructor_id = $1", instructor_id
        )
        rows_in = max(1, min(rows_in, count - 50))
        row = await connection.fetchrow(
            "SELECT created_at, id FROM purchase_items WHERE instructor_id = $1 "
            "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            instructor_id,
            rows_in - 1,
        )
    finally:
        await connection.close()
    return SALE_ORDER.encode([row["created_at"], row["id"]]), rows_in


def _cases(data: Data, cursor: str, rows_in: int) -> list[Case]:
    # A 3-month window in the middle of the 24 months: [now - 12 months, now - 9 months).
    start = (data.now - timedelta(days=365)).replace(day=1, hour=0, minute=0, second=0)
    end = (start + timedelta(days=92)).replace(day=1) - timedelta(microseconds=1)
    window = {"from": start.isoformat(), "to": end.isoformat()}
    busiest = str(data.busiest)
    report, earnings = "/admin/revenue", "/instructors/me/earnings"
    return [
        Case("admin, no group", report, {}, "admin"),
        Case("admin, group=month", report, {"group": "month"}, "admin", explain=True),
        Case("admin, group=instructor", report, {"group": "instructor"}, "admin"),
        Case("admin, 3 months, group=month", report, {**window, "group": "month"}, "admin"),
        Case(
            "admin, instructor_id, group=month",
            report,
            {"instructor_id": busiest, "group": "month"},
            "admin",
            explain=True,
        ),
        Case(
            "admin, instructor_id, 3 months", report, {**window, "instructor_id": busiest}, "admin"
        ),
        Case("earnings, first page", earnings, {"limit": 20}, "instructor"),
        Case(
            f"earnings, cursor at {rows_in}",
            earnings,
            {"limit": 20, "cursor": cursor},
            "instructor",
        ),
    ]


# --- checks -------------------------------------------------------------------------------


def check(results: list[Result], data: Data) -> list[str]:
    """The unfiltered report must equal what was filled; groups must add up to the totals."""
    problems = []
    keys = ("gross_cents", "refunded_cents", "platform_fee_cents", "instructor_share_cents")
    expected = [
        {
            "currency": currency,
            "gross_cents": sums[0],
            "refunded_cents": sums[1],
            "platform_fee_cents": sums[2],
            "instructor_share_cents": sums[3],
        }
        for currency, sums in sorted(data.totals.items())
    ]
    for result in results:
        body, label = result.body, result.case.label
        unfiltered = not {"from", "to", "instructor_id"} & result.case.params.keys()
        if result.case.who == "admin" and unfiltered and body["currency_totals"] != expected:
            problems.append(f"{label}: totals {body['currency_totals']} != filled {expected}")
        for row in body["currency_totals"] + body["groups"]:
            fee, share = row["platform_fee_cents"], row["instructor_share_cents"]
            if fee + share != row["gross_cents"] - row["refunded_cents"]:
                problems.append(f"{label}: unbalanced row {row}")
        if body["groups"]:
            summed: dict[str, list[int]] = defaultdict(lambda: [0] * 4)
            for row in body["groups"]:
                for n, key in enumerate(keys):
                    summed[row["currency"]][n] += row[key]
            for row in body["currency_totals"]:
                if summed[row["currency"]] != [row[key] for key in keys]:
                    problems.append(f"{label}: groups of {row['currency']} don't add up")
        if "items" in body and len(body["items"]) != 20:
            problems.append(f"{label}: {len(body['items'])} sale lines, expected 20")
    return problems


# --- EXPLAIN ------------------------------------------------------------------------------


async def explain(dsn: str, statement: str, params: Any, *, generic: bool = False) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement as the app sent it to asyncpg.

    `generic`: the plan PostgreSQL caches for the prepared statement after five runs if it
    thinks a plan for unknown parameter values is good enough (plan_cache_mode = auto).
    """
    connection = await asyncpg.connect(dsn)
    try:
        if not generic:
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *params)
        else:
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE bench_report AS {statement}")
            args = ", ".join(_literal(value) for value in params)
            rows = await connection.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_report({args})"
            )
    finally:
        await connection.close()
    return "\n".join(row[0] for row in rows)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def _report_statements(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The statements of the report itself (not the sign-in look-ups)."""
    return [
        (sql, params)
        for sql, params in statements
        if "FROM revenue_entries" in sql or "FROM purchase_items" in sql
    ]


def _short(sql: str) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= 160 else sql[:157] + "..."


# --- output -------------------------------------------------------------------------------


def print_table(results: list[Result], data: Data, slow_ms: float) -> None:
    header = f"{'request':<36} {'median':>7} {'p95':>7} {'p99':>7} {'sql':>7} | {'rows':>5} | note"
    print(
        f"\nLatency per request in ms over {data.lines:,} sales "
        f"(httpx over ASGI, in-process), {len(results[0].total)} runs each:"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rows = len(r.body["groups"]) + len(r.body.get("items", []))
        note = "SLOW" if r.median > slow_ms else ""
        print(
            f"{r.case.label:<36} {r.median:>7.2f} {r.p(95):>7.2f} {r.p(99):>7.2f} "
            f"{r.sql_median:>7.2f} | {rows:>5} | {note}"
        )
    print(
        "\nmedian/p95/p99: the whole request (auth included); sql: median time in the database\n"
        "driver per request (every statement); rows: groups (+ sale lines) in the answer;\n"
        f"SLOW: median over {slow_ms:g} ms."
    )


# --- main ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    admin_dsn: str = args.database_url
    name = f"techtribe_bench_{secrets.token_hex(4)}"
    dsn = _database_dsn(admin_dsn, name)
    url = _sqlalchemy_url(dsn)
    await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    print(f"database {name} created")
    try:
        started = time.perf_counter()
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            await upgrade_engine(engine)
        finally:
            await engine.dispose()
        print(f"migrated in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        data = await fill(dsn, args.sales, args.seed)
        print(
            f"filled {data.lines:,} sold lines in {data.purchases:,} purchases "
            f"({data.refunded_lines:,} lines refunded), {INSTRUCTORS} instructors, "
            f"{COURSES:,} courses, {BUYERS:,} buyers in {time.perf_counter() - started:.1f}s; "
            f"busiest instructor: {data.lines_per_instructor[data.busiest]:,} lines"
        )
        if args.sql:
            await _try_sql(dsn, [sql.format(database=name) for sql in args.sql])
        return await _bench(args, url, dsn, data)
    finally:
        await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"database {name} dropped")


async def _try_sql(dsn: str, statements: list[str]) -> None:
    """Extra SQL to try a fix without touching the project (an index, a setting), then ANALYZE."""
    connection = await asyncpg.connect(dsn)
    try:
        for sql in statements:
            print(f"--sql: {sql}")
            await connection.execute(sql)
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


async def _bench(args: argparse.Namespace, url: str, dsn: str, data: Data) -> int:
    settings = Settings(
        environment="test",
        database_url=url,
        redis_url=None,
        bcrypt_rounds=BCRYPT_ROUNDS,
        jwt_secret="bench-secret-0123456789abcdef0123456789",
        outbox_poll_seconds=3600,  # keep the outbox poller quiet during the timings
        log_format="text",
        log_level="WARNING",
    )
    if settings.platform_fee_percent != FEE_PERCENT:
        raise RuntimeError(f"the app's fee is {settings.platform_fee_percent}%, filled with 30%")
    cursor, rows_in = await deep_cursor(dsn, data.busiest, args.depth)
    cases = _cases(data, cursor, rows_in)
    app = create_app(settings)
    clock = SqlClock(app.state.engine)
    results: list[Result] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {
                "admin": await sign_in(client, data.admin_email),
                "instructor": await sign_in(client, data.instructor_emails[data.busiest]),
            }
            for case in cases:
                result = await measure(
                    client, clock, case, headers[case.who], runs=args.runs, warmup=args.warmup
                )
                results.append(result)
                print(
                    f"  {case.label:<36} median {result.median:7.2f} ms  "
                    f"p95 {result.p(95):7.2f} ms  sql {result.sql_median:7.2f} ms"
                )
    print_table(results, data, args.slow_ms)
    for result in results:
        if not (result.case.explain or result.median > args.slow_ms or args.explain_all):
            continue
        for statement, params in _report_statements(result.statements):
            plan = await explain(dsn, statement, params)
            print(f"\n=== {result.case.label}: {_short(statement)}\n{plan}")
            if result.case.explain and "instructor_id =" in statement:
                plan = await explain(dsn, statement, params, generic=True)
                print(f"\n=== {result.case.label}, generic plan (after 5 runs):\n{plan}")
    problems = check(results, data)
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if problems:
        return 1
    print("\nchecks passed: totals equal the filled ledger; groups add up; rows balance")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=100_000, help="sold lines to fill")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_ADMIN_DSN,
        help="admin DSN: the bench database is created next to this one (default: %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=50, help="timed requests per report")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per report first")
    parser.add_argument(
        "--depth", type=int, default=5_000, help="instructor's lines before the cursor page"
    )
    parser.add_argument("--slow-ms", type=float, default=50.0, help="EXPLAIN reports over this")
    parser.add_argument("--seed", type=int, default=9, help="random seed of the data")
    parser.add_argument(
        "--sql",
        action="append",
        default=[],
        metavar="STATEMENT",
        help="SQL to run on the bench database after filling, to try a fix "
        '(repeatable; {database} is its name), e.g. "CREATE INDEX ..."',
    )
    parser.add_argument("--explain-all", action="store_true", help="EXPLAIN every report")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5,000 sales, 10 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.sales, args.runs, args.warmup, args.depth = 5_000, 10, 2, 200
    if args.sales < 1 or args.runs < 1:
        parser.error("--sales and --runs must be positive")
    args.database_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
