"""The suite's shared database helpers: a fresh database, migrated and filled by COPY."""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from techtribe.auth.models import AuthSession, User
from techtribe.auth.service import issue_tokens
from techtribe.config import Settings
from techtribe.courses.catalog import COURSE_SORTS
from techtribe.migrations import upgrade_engine
from techtribe.pagination import derive_key, signing_key
from techtribe.security import hash_password

PASSWORD = "bench-Passw0rd"  # every bench user's password (one hash, shared: same cost)
TAGS = [
    "python", "javascript", "sql", "web", "data", "devops", "go", "rust", "security", "ml",
    "testing", "cloud", "linux", "git", "docker", "kubernetes", "react", "typescript", "api",
    "async",
]  # fmt: skip
TAG_WEIGHTS = [30, 20, 12, 10, 8, 6, 5, 4, 3, 2, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1]
PRICE_TIERS = [0, 999, 1499, 1999, 2499, 2999, 3999, 4999, 7999, 9999, 14999, 19999]
LEVELS = ["beginner", "intermediate", "advanced"]
TOPICS = [
    "Python", "FastAPI", "SQL", "PostgreSQL", "React", "TypeScript", "Docker", "Kubernetes",
    "Rust", "Go", "Machine Learning", "Security", "Testing", "Linux", "Git",
]  # fmt: skip
ADJECTIVES = ["Practical", "Modern", "Complete", "Hands-on", "Advanced", "Intro to", "Mastering"]
USER_COLUMNS = [
    "id", "email", "password_hash", "full_name", "role", "is_active", "email_verified",
    "created_at", "updated_at",
]  # fmt: skip
COURSE_COLUMNS = [
    "id", "instructor_id", "title", "description", "price_cents", "currency", "level",
    "published", "archived", "reviews_count", "rating_sum", "rating_avg", "created_at",
    "updated_at",
]  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    courses: int = 100_000
    users: int = 10_000
    instructors: int = 200
    poems: int = 2_000
    seed_ratings: int = 20_000
    slots: int = 200
    slot_capacity: int = 25


@dataclass
class Data:
    """What the scenarios need: ids to ask for, accounts, tokens, a deep cursor."""

    listed: list[uuid.UUID] = field(default_factory=list)  # published, not archived
    emails: list[str] = field(default_factory=list)  # students, for logins
    users: list[uuid.UUID] = field(default_factory=list)
    logins: list[uuid.UUID] = field(default_factory=list)  # an auth_sessions row per user
    tokens: list[str] = field(default_factory=list)  # an access token per user
    poems: list[uuid.UUID] = field(default_factory=list)
    slots: list[uuid.UUID] = field(default_factory=list)
    slot_capacity: int = 0
    deep_cursor: str = ""
    deep_depth: int = 0


def database_dsn(admin_dsn: str, name: str) -> str:
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


def sqlalchemy_url(dsn: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if dsn.startswith(plain):
            return "postgresql+asyncpg://" + dsn[len(plain) :]
    return dsn


def new_name() -> str:
    return f"techtribe_bench_{secrets.token_hex(4)}"


async def admin(admin_dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def migrate(dsn: str) -> None:
    engine = create_async_engine(sqlalchemy_url(dsn), poolclass=NullPool)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


def _course_rows(
    count: int, instructors: list[uuid.UUID], rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    span = timedelta(days=3 * 365).total_seconds()
    for i in range(count):
        created = now - timedelta(seconds=int(rng.random() * span))
        price = rng.choice(PRICE_TIERS) if rng.random() < 0.7 else rng.randrange(0, 30_000, 100)
        reviews = 0 if rng.random() < 0.35 else min(2_000, max(1, int(rng.paretovariate(1.2))))
        rating_sum = round(reviews * rng.uniform(2.5, 5.0)) if reviews else 0
        archived = rng.random() < 0.03
        published = not archived and rng.random() < 0.94
        topic = rng.choice(TOPICS)
        yield (
            uuid.uuid4(),
            rng.choice(instructors),
            f"{rng.choice(ADJECTIVES)} {topic} #{i}",
            f"Learn {topic} step by step: projects, exercises and a final review.",
            price,
            "USD",
            rng.choices(LEVELS, [45, 35, 20])[0],
            published,
            archived,
            reviews,
            rating_sum,
            rating_sum / reviews if reviews else 0.0,
            created,
            created,
        )


async def fill(
    dsn: str, sizes: Sizes, *, bcrypt_rounds: int, jwt_secret: str, seed: int = 11
) -> Data:
    """Users (students with a password and a login), instructors, tags, courses with tags
    and lessons, advisory slots, poems with ratings; by COPY, then VACUUM ANALYZE."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    data = Data(slot_capacity=sizes.slot_capacity)
    # One hash at the production cost, shared: each verify costs what a real one does.
    password_hash = await hash_password(PASSWORD, bcrypt_rounds)
    instructors = [uuid.uuid4() for _ in range(sizes.instructors)]
    data.users = [uuid.uuid4() for _ in range(sizes.users)]
    data.logins = [uuid.uuid4() for _ in range(sizes.users)]
    data.emails = [f"bench-user-{n}@example.com" for n in range(sizes.users)]
    connection = await asyncpg.connect(dsn)
    try:
        flags = (True, True, now, now)
        users = [
            (
                uid,
                f"bench-instructor-{n}@example.com",
                None,
                f"Instructor {n}",
                "instructor",
                *flags,
            )
            for n, uid in enumerate(instructors)
        ] + [
            (uid, email, password_hash, f"Student {n}", "student", *flags)
            for n, (uid, email) in enumerate(zip(data.users, data.emails, strict=True))
        ]
        await connection.copy_records_to_table("users", columns=USER_COLUMNS, records=users)
        await connection.copy_records_to_table(
            "auth_sessions",
            columns=["id", "user_id", "created_at"],
            records=[(s, u, now) for s, u in zip(data.logins, data.users, strict=True)],
        )
        tag_ids = [uuid.uuid4() for _ in TAGS]
        await connection.copy_records_to_table(
            "tags", columns=["id", "name"], records=list(zip(tag_ids, TAGS, strict=True))
        )
        rows = list(_course_rows(sizes.courses, instructors, rng))
        await connection.copy_records_to_table("courses", columns=COURSE_COLUMNS, records=rows)
        links: list[tuple[uuid.UUID, uuid.UUID]] = []
        lessons: list[tuple[Any, ...]] = []
        for row in rows:
            chosen: set[uuid.UUID] = set()
            for _ in range(rng.randint(1, 3)):
                chosen.add(rng.choices(tag_ids, TAG_WEIGHTS)[0])
            links.extend((row[0], tag_id) for tag_id in chosen)
            for position in range(rng.randint(0, 6)):
                lessons.append(
                    (uuid.uuid4(), row[0], f"Lesson {position + 1}", "Text.", position, now, now)
                )
        await connection.copy_records_to_table(
            "course_tags", columns=["course_id", "tag_id"], records=links
        )
        await connection.copy_records_to_table(
            "lessons",
            columns=["id", "course_id", "title", "content", "position", "created_at", "updated_at"],
            records=lessons,
        )
        data.listed = [row[0] for row in rows if row[7] and not row[8]]
        await _slots(connection, data, instructors, sizes, now)
        await _poems(connection, data, instructors, sizes, rng, now)
        await connection.execute("VACUUM (ANALYZE)")
        data.deep_depth, data.deep_cursor = await _deep_cursor(
            connection, len(data.listed) // 2, jwt_secret
        )
    finally:
        await connection.close()
    return data


async def _slots(
    connection: asyncpg.Connection,
    data: Data,
    instructors: list[uuid.UUID],
    sizes: Sizes,
    now: datetime,
) -> None:
    # One hour apart per instructor: slots of one instructor must not overlap.
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=7)
    data.slots = [uuid.uuid4() for _ in range(sizes.slots)]
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
                instructors[n % len(instructors)],
                f"Advisory #{n}",
                "Office hours.",
                start + timedelta(hours=n),
                start + timedelta(hours=n, minutes=60),
                60,
                4000,
                "USD",
                sizes.slot_capacity,
                0,
                now,
                now,
            )
            for n, slot_id in enumerate(data.slots)
        ],
    )


async def _poems(
    connection: asyncpg.Connection,
    data: Data,
    instructors: list[uuid.UUID],
    sizes: Sizes,
    rng: random.Random,
    now: datetime,
) -> None:
    """Poems by instructors; seed ratings come from the second half of the students only,
    so the ratings scenario (first half) never meets an existing (poem, rater) pair."""
    data.poems = [uuid.uuid4() for _ in range(sizes.poems)]
    raters = data.users[len(data.users) // 2 :]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < min(sizes.seed_ratings, len(raters) * sizes.poems):
        pairs.add((rng.randrange(sizes.poems), rng.randrange(len(raters))))
    scores = {pair: rng.randint(1, 5) for pair in pairs}
    totals: dict[int, list[int]] = {}
    for (poem, _), score in scores.items():
        totals.setdefault(poem, []).append(score)
    poem_rows = []
    for n, poem_id in enumerate(data.poems):
        got = totals.get(n, [])
        created = now - timedelta(minutes=n)
        poem_rows.append(
            (
                poem_id,
                instructors[n % len(instructors)],
                f"Poem {n}",
                "Roses are red,\nqueries are fast.\n",
                len(got),
                sum(got),
                sum(got) / len(got) if got else 0.0,
                created,
                created,
            )
        )
    await connection.copy_records_to_table(
        "poems",
        columns=[
            "id",
            "author_id",
            "title",
            "body",
            "ratings_count",
            "ratings_sum",
            "score_average",
            "created_at",
            "updated_at",
        ],
        records=poem_rows,
    )
    await connection.copy_records_to_table(
        "poem_ratings",
        columns=["id", "poem_id", "rater_id", "score", "comment", "created_at", "updated_at"],
        records=[
            (uuid.uuid4(), data.poems[p], raters[r], s, None, now, now)
            for (p, r), s in scores.items()
        ],
    )


async def _deep_cursor(
    connection: asyncpg.Connection, depth: int, jwt_secret: str
) -> tuple[int, str]:
    """The `next_cursor` a client holds after `depth` rows of the newest-first listing
    (signed as the service signs it, with the key derived from its JWT secret)."""
    row = await connection.fetchrow(
        "SELECT created_at, id FROM courses WHERE published AND NOT archived "
        "ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
        max(0, depth - 1),
    )
    if row is None:
        return 0, ""
    with signing_key(derive_key(jwt_secret)):
        return depth, COURSE_SORTS["newest"].encode([row["created_at"], row["id"]])


async def mint_tokens(settings: Settings, data: Data) -> None:
    """An access token per student, for its login, by the project's own `issue_tokens`."""
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    try:
        async with AsyncSession(engine) as session:  # nothing is flushed: no query at all
            for user_id, login_id in zip(data.users, data.logins, strict=True):
                user = User(id=user_id, role="student")
                login = AuthSession(id=login_id, user_id=user_id)
                issued = await issue_tokens(session, settings, user, login, fresh=True)
                data.tokens.append(issued.access_token)
            session.expunge_all()
    finally:
        await engine.dispose()
