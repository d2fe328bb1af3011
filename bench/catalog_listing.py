"""Catalog listing benchmark: first page vs. a page deep in `GET /api/v1/courses`.

Makes a fresh PostgreSQL database, migrates it with the project's migrations, bulk-fills it
with courses (COPY), and runs the real app in-process (httpx over ASGI). For each sort order
and a few filtered listings it times the first page and a page deep in the listing, reached
with a keyset cursor made by the project's own `Ordering.encode` (no walk through the API),
then page 2 on the same connection (it shows the plan the deep page left cached). Every
cursor page must cost no more than twice the first page (issue 3); the script exits 1 if any
listing misses that. The database is dropped at the end, whatever happens.

    .venv/bin/python bench/catalog_listing.py                 # 100,000 courses, 50 runs
    .venv/bin/python bench/catalog_listing.py --quick         # 5,000 courses, 10 runs
    .venv/bin/python bench/catalog_listing.py --database-url postgresql://postgres@host/postgres
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.app import API_PREFIX, create_app
from techtribe.config import Settings
from techtribe.courses import catalog
from techtribe.courses.models import Course
from techtribe.migrations import upgrade_engine

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BOUND = 2.0  # the deep page may cost at most this many times the first page

INSTRUCTORS = 8
TAGS = ["python", "javascript", "sql", "web", "data", "devops", "go", "rust", "security", "ml"]
TAG_WEIGHTS = [30, 20, 12, 10, 8, 6, 5, 4, 3, 2]
PRICE_TIERS = [0, 999, 1499, 1999, 2499, 2999, 3999, 4999, 7999, 9999, 14999, 19999]
LEVELS = ["beginner", "intermediate", "advanced"]
LEVEL_WEIGHTS = [45, 35, 20]
TOPICS = [
    "Python",
    "FastAPI",
    "SQL",
    "PostgreSQL",
    "React",
    "TypeScript",
    "Docker",
    "Kubernetes",
    "Rust",
    "Go",
    "Machine Learning",
    "Security",
    "Testing",
    "Linux",
    "Git",
]
ADJECTIVES = ["Practical", "Modern", "Complete", "Hands-on", "Advanced", "Intro to", "Mastering"]


@dataclass(frozen=True)
class Case:
    """One listing to measure: a sort and its query filters."""

    label: str
    sort: str
    filters: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timings:
    """Per request: the whole request, and the time spent in the database driver (ms)."""

    total: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.total)

    @property
    def p95(self) -> float:
        ordered = sorted(self.total)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def sql_median(self) -> float:
        return statistics.median(self.sql)


@dataclass
class Result:
    case: Case
    total: int
    depth: int
    first: Timings = field(default_factory=Timings)
    deep: Timings = field(default_factory=Timings)
    # Page 2, timed after the deep page: same SQL text, so it shows the plan the deep page
    # left cached on the connection (see README, "generic plans").
    page2: Timings = field(default_factory=Timings)

    @property
    def ratio(self) -> float:
        return self.deep.median / self.first.median

    @property
    def page2_ratio(self) -> float:
        return self.page2.median / self.first.median if self.page2.total else 0.0

    @property
    def passed(self) -> bool:
        return self.ratio <= BOUND and self.page2_ratio <= BOUND


def _cases(instructor_id: uuid.UUID) -> list[Case]:
    narrow = {"level": "intermediate", "tag": "python", "min_price": 1000, "max_price": 5000}
    return [
        Case("newest", "newest"),
        Case("price", "price"),
        Case("-price", "-price"),
        Case("rating", "rating"),
        Case("newest, level+tag+price range", "newest", narrow),
        Case("-price, level+tag+price range", "-price", narrow),
        Case("newest, instructor_id", "newest", {"instructor_id": str(instructor_id)}),
        Case("newest, q=python", "newest", {"q": "python"}),
    ]


# --- the database -------------------------------------------------------------------------


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


def _percent(rng: random.Random, percent: float) -> bool:
    return rng.random() * 100 < percent


def _course_rows(
    count: int, instructors: Sequence[uuid.UUID], rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    span = timedelta(days=3 * 365).total_seconds()
    for i in range(count):
        # Times to the second: many courses share a created_at, so ties are broken by id.
        created = now - timedelta(seconds=int(rng.random() * span))
        # Mostly price tiers: big groups of equal prices, ties again.
        price = rng.choice(PRICE_TIERS) if _percent(rng, 70) else rng.randrange(0, 30_000, 100)
        if _percent(rng, 35):
            reviews, rating_sum = 0, 0  # a third of the catalog ties at rating 0
        else:
            reviews = max(1, int(rng.paretovariate(1.2)))
            reviews = min(reviews, 2_000)
            rating_sum = round(reviews * rng.uniform(2.5, 5.0))
        rating_avg = rating_sum / reviews if reviews else 0.0
        archived = _percent(rng, 3)
        published = not archived and _percent(rng, 94)
        topic = rng.choice(TOPICS)
        title = f"{rng.choice(ADJECTIVES)} {topic} #{i}"
        description = f"Learn {topic} step by step: projects, exercises and a final review."
        yield (
            uuid.uuid4(),
            rng.choice(instructors),
            title,
            description,
            price,
            "USD",
            rng.choices(LEVELS, LEVEL_WEIGHTS)[0],
            published,
            archived,
            reviews,
            rating_sum,
            rating_avg,
            created,
            created,
        )


async def fill(dsn: str, courses: int, seed: int) -> None:
    """Instructors, tags, `courses` courses with 1-3 tags each, by COPY; then VACUUM ANALYZE."""
    rng = random.Random(seed)
    connection = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        instructors = [uuid.uuid4() for _ in range(INSTRUCTORS)]
        flags = (True, True, now, now)  # is_active, email_verified, created_at, updated_at
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
            records=[
                (user_id, f"bench-{n}@example.com", f"Instructor {n}", "instructor", *flags)
                for n, user_id in enumerate(instructors)
            ],
        )
        tag_ids = [uuid.uuid4() for _ in TAGS]
        await connection.copy_records_to_table(
            "tags", columns=["id", "name"], records=list(zip(tag_ids, TAGS, strict=True))
        )
        rows = list(_course_rows(courses, instructors, rng))
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
            records=rows,
        )
        links = []
        for row in rows:
            wanted = rng.randint(1, 3)
            chosen: set[uuid.UUID] = set()
            while len(chosen) < wanted:
                chosen.add(rng.choices(tag_ids, TAG_WEIGHTS)[0])
            links.extend((row[0], tag_id) for tag_id in chosen)
        await connection.copy_records_to_table(
            "course_tags", columns=["course_id", "tag_id"], records=links
        )
        # VACUUM as well as ANALYZE: a settled table (visibility map set), as in production.
        await connection.execute("VACUUM (ANALYZE) users, tags, courses, course_tags")
    finally:
        await connection.close()


# --- measuring ----------------------------------------------------------------------------


class SqlClock:
    """Time spent in the database driver per request, and the last statements run."""

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


async def _deep_cursor(
    session: AsyncSession, case: Case, depth_wanted: int, limit: int
) -> tuple[int, int, str | None, uuid.UUID | None]:
    """(listed rows, rows in, cursor after `rows in` rows, id of the first row after it)."""
    filters = dict(case.filters)
    if "instructor_id" in filters:
        filters["instructor_id"] = uuid.UUID(filters["instructor_id"])
    listed = catalog.filtered_courses(
        select(Course).where(Course.published, ~Course.archived),
        catalog.CourseFilters(**filters),
        session,
    )
    total = await session.scalar(select(func.count()).select_from(listed.subquery())) or 0
    depth = max(0, min(depth_wanted, total - 2 * limit - 1))
    if depth == 0:
        return total, 0, None, None
    ordering = catalog.COURSE_SORTS[case.sort]
    rows = list(
        await session.scalars(listed.order_by(*ordering.order_by()).offset(depth - 1).limit(2))
    )
    values = [getattr(rows[0], str(key.column.key)) for key in ordering.keys]
    return total, depth, ordering.encode(values), rows[1].id


async def _get(
    client: httpx.AsyncClient,
    clock: SqlClock,
    params: dict[str, Any],
    timings: Timings | None = None,
) -> dict[str, Any]:
    clock.reset()
    started = time.perf_counter()
    response = await client.get(f"{API_PREFIX}/courses", params=params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET /courses {params}: {response.status_code} {response.text}")
    if timings is not None:
        timings.total.append(elapsed * 1000)
        timings.sql.append(clock.elapsed * 1000)
    page: dict[str, Any] = response.json()
    return page


async def measure(
    client: httpx.AsyncClient,
    clock: SqlClock,
    sessionmaker: async_sessionmaker[AsyncSession],
    case: Case,
    *,
    depth: int,
    limit: int,
    runs: int,
    warmup: int,
) -> tuple[Result, list[tuple[str, Any]]]:
    async with sessionmaker() as session:
        total, rows_in, cursor, expected_first = await _deep_cursor(session, case, depth, limit)
    first = {"sort": case.sort, "limit": limit, **case.filters}
    deep = {**first, "cursor": cursor} if cursor else first

    # Sanity: the deep page starts right after the cursor row, and page 2 follows page 1.
    page = await _get(client, clock, deep)
    deep_statements = list(clock.statements)
    if expected_first is not None and page["items"][0]["id"] != str(expected_first):
        raise RuntimeError(f"{case.label}: the deep page does not start where expected")
    page1 = await _get(client, clock, first)
    second = {**first, "cursor": page1["next_cursor"]} if page1["next_cursor"] else None
    if second:
        page2 = await _get(client, clock, second)
        seen = {item["id"] for item in page1["items"]}
        if any(item["id"] in seen for item in page2["items"]):
            raise RuntimeError(f"{case.label}: page 2 repeats rows of page 1")

    for _ in range(warmup):
        await _get(client, clock, first)
        await _get(client, clock, deep)
    result = Result(case, total, rows_in)
    for _ in range(runs):  # interleaved, so drift hits both alike
        await _get(client, clock, first, result.first)
        await _get(client, clock, deep, result.deep)
    if second:
        for _ in range(runs):
            await _get(client, clock, second, result.page2)
    return result, deep_statements


async def explain(dsn: str, statement: str, params: Any, *, generic: bool = False) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement as the app sent it to asyncpg.

    `generic`: the plan PostgreSQL caches for the prepared statement after five runs when it
    thinks a plan for unknown parameter values is good enough (plan_cache_mode = auto).
    """
    connection = await asyncpg.connect(dsn)
    try:
        if not generic:
            sql = f"EXPLAIN (ANALYZE, BUFFERS) {statement}"
        else:
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE bench_listing AS {statement}")
            # EXECUTE takes no bind parameters: literals, typed by the PREPARE.
            args = ", ".join(_literal(value) for value in params)
            sql = f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_listing({args})"
            params = ()
        rows = await connection.fetch(sql, *params)
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


def _listing_statement(statements: list[tuple[str, Any]]) -> tuple[str, Any]:
    for statement, params in statements:
        if "FROM courses" in statement and "ORDER BY" in statement:
            return statement, params
    raise RuntimeError("the listing query was not seen")


def print_table(results: list[Result], limit: int) -> None:
    header = (
        f"{'listing':<31} {'rows':>6} {'deep at':>7} | {'first':>6} {'p95':>6} {'sql':>5} | "
        f"{'deep':>6} {'p95':>6} {'sql':>5} | {'ratio':>5} | {'page 2':>6} {'sql':>5} "
        f"{'ratio':>5} | verdict"
    )
    print(f"\nLatency per request in ms (httpx over ASGI, in-process), limit={limit}:")
    print(header)
    print("-" * len(header))
    for r in results:
        page2 = (
            f"{r.page2.median:>6.2f} {r.page2.sql_median:>5.2f} {r.page2_ratio:>5.2f}"
            if r.page2.total
            else f"{'-':>6} {'-':>5} {'-':>5}"
        )
        print(
            f"{r.case.label:<31} {r.total:>6} {r.depth:>7} | "
            f"{r.first.median:>6.2f} {r.first.p95:>6.2f} {r.first.sql_median:>5.2f} | "
            f"{r.deep.median:>6.2f} {r.deep.p95:>6.2f} {r.deep.sql_median:>5.2f} | "
            f"{r.ratio:>5.2f} | {page2} | {'PASS' if r.passed else 'FAIL'}"
        )
    print(
        "\nrows: listed courses matching the filters; deep at: rows before the deep page;\n"
        "first/deep/page 2: median of the whole request; p95: its 95th percentile;\n"
        "sql: median time in the database driver per request;\n"
        "ratio: that page's median / first page's median; "
        f"PASS when deep and page 2 are both within {BOUND:g}x."
    )


async def _usable_cases(client: httpx.AsyncClient, cases: list[Case]) -> list[Case]:
    """The cases, without price bounds if the API refuses them (so the rest still runs)."""
    probe = await client.get(f"{API_PREFIX}/courses", params={"min_price": 0, "limit": 1})
    if probe.status_code == 200:
        return cases
    print(
        f"WARNING: GET /courses?min_price=0 answered {probe.status_code} ({probe.text[:200]}); "
        "price-range filters are left out of the filtered cases"
    )
    usable = []
    for case in cases:
        filters = {k: v for k, v in case.filters.items() if k not in ("min_price", "max_price")}
        label = case.label.replace("+price range", "") if filters != case.filters else case.label
        usable.append(Case(label, case.sort, filters))
    return usable


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
        await fill(dsn, args.courses, args.seed)
        print(f"filled {args.courses:,} courses in {time.perf_counter() - started:.1f}s")
        if args.sql:
            await _try_sql(dsn, [sql.format(database=name) for sql in args.sql])
        return await _bench(args, url, dsn)
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
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _bench(args: argparse.Namespace, url: str, dsn: str) -> int:
    settings = Settings(
        environment="test",
        database_url=url,
        redis_url=None,
        bcrypt_rounds=4,
        jwt_secret="bench-secret-0123456789abcdef0123456789",
        outbox_poll_seconds=3600,  # keep the outbox poller quiet during the timings
        log_format="text",
        log_level="WARNING",
    )
    app = create_app(settings)
    clock = SqlClock(app.state.engine)
    results: list[Result] = []
    explains: list[tuple[str, str]] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            async with app.state.sessionmaker() as session:
                instructor_id = await session.scalar(
                    select(Course.instructor_id)
                    .group_by(Course.instructor_id)
                    .order_by(func.count().desc())
                    .limit(1)
                )
            assert instructor_id is not None
            cases = await _usable_cases(client, _cases(instructor_id))
            for case in cases:
                result, statements = await measure(
                    client,
                    clock,
                    app.state.sessionmaker,
                    case,
                    depth=args.depth,
                    limit=args.limit,
                    runs=args.runs,
                    warmup=args.warmup,
                )
                results.append(result)
                print(
                    f"  {case.label:<31} first {result.first.median:7.2f} ms  "
                    f"deep {result.deep.median:7.2f} ms (x{result.ratio:.2f})  "
                    f"page 2 {result.page2.median if result.page2.total else 0:7.2f} ms "
                    f"(x{result.page2_ratio:.2f})"
                )
                if case.label == "newest" or not result.passed or args.explain_all:
                    statement, params = _listing_statement(statements)
                    plan = await explain(dsn, statement, params)
                    explains.append((case.label, plan))
                if not result.passed:
                    plan = await explain(dsn, statement, params, generic=True)
                    explains.append((f"{case.label}, generic plan", plan))
    print_table(results, args.limit)
    for label, plan in explains:
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the deep-page query, {label}:\n{plan}")
    failed = [r.case.label for r in results if not r.passed]
    if failed:
        print(f"\nFAIL: a cursor page over {BOUND:g}x the first page for: {', '.join(failed)}")
        return 1
    print(f"\nPASS: every deep page (and page 2) within {BOUND:g}x of its first page")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=100_000, help="courses to fill")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_ADMIN_DSN,
        help="admin DSN: the bench database is created next to this one (default: %(default)s)",
    )
    parser.add_argument("--runs", type=int, default=50, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per page first")
    parser.add_argument("--limit", type=int, default=20, help="page size")
    parser.add_argument(
        "--depth", type=int, default=50_000, help="rows before the deep page (clamped)"
    )
    parser.add_argument("--seed", type=int, default=3, help="random seed of the data")
    parser.add_argument(
        "--sql",
        action="append",
        default=[],
        metavar="STATEMENT",
        help="SQL to run on the bench database after filling, to try a fix "
        '(repeatable; {database} is its name), e.g. "CREATE INDEX ..." or '
        '"ALTER DATABASE {database} SET plan_cache_mode = force_custom_plan"',
    )
    parser.add_argument("--explain-all", action="store_true", help="EXPLAIN every deep page")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5,000 courses, 10 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.courses, args.runs, args.warmup = 5_000, 10, 2
    if args.courses < 1 or args.runs < 1:
        parser.error("--courses and --runs must be positive")
    args.database_url = args.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
