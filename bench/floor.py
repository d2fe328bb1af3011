"""The floor: a bare ASGI app (asyncpg + orjson) running our course list and detail SQL.

It sends, statement for statement, the SQL the service sends for `GET /api/v1/courses`
(newest first; `q`, `tag`, `level`, `limit`, `cursor`) and `GET /api/v1/courses/{id}`
(captured from SQLAlchemy; see SUITE.md), on a connection with the same setting
(`plan_cache_mode = force_custom_plan`), and answers the same JSON. No framework, no ORM,
no validation layer, no transaction, no pool ping: what this machine can do at best with
these queries. `python -m bench` serves it like the service: uvicorn, a worker per core,
uvloop and httptools.

    FLOOR_DSN=postgresql://postgres@127.0.0.1/db uvicorn bench.floor:app --workers 2 \\
        --loop uvloop --http httptools
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg

try:
    import orjson

    def _dumps(value: Any) -> bytes:
        # asyncpg's UUID is a subclass orjson does not take as a uuid.UUID: str() it.
        return orjson.dumps(value, default=str, option=orjson.OPT_UTC_Z)

    _loads = orjson.loads
    JSON_LIBRARY = "orjson"
except ImportError:  # orjson is not a project dependency: fall back, and say so
    JSON_LIBRARY = "json (orjson not installed)"
    _loads = json.loads

    def _default(value: Any) -> str:
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        return str(value)

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, default=_default, separators=(",", ":")).encode()


# --- the SQL, as SQLAlchemy sends it (asyncpg prepares each text once per connection) ------

COURSE_COLUMNS = (
    "SELECT courses.id, courses.title, courses.description, courses.price_cents, "
    "courses.currency, courses.level, courses.published, courses.archived, "
    "courses.reviews_count, courses.rating_sum, courses.rating_avg, courses.created_at, "
    "courses.updated_at, courses.instructor_id, users.full_name AS instructor_name, "
    "(SELECT json_agg(tags.name) AS json_list_1 \n"
    "FROM course_tags JOIN tags ON tags.id = course_tags.tag_id \n"
    "WHERE course_tags.course_id = courses.id) AS tags"
)
OUTLINE = (
    ", (SELECT json_agg(json_build_object('id', lessons.id, 'title', lessons.title, "
    "'position', lessons.position)) AS json_list_2 \n"
    "FROM lessons \n"
    "WHERE lessons.course_id = courses.id) AS lessons"
)
FROM = " \nFROM courses JOIN users ON users.id = courses.instructor_id \n"
LISTED = "WHERE courses.published AND NOT courses.archived"
SEARCH = (
    " AND (to_tsvector('english'::regconfig, courses.title || ' ' || courses.description) "
    "@@ websearch_to_tsquery('english'::regconfig, ${}::VARCHAR))"
)
TAGGED = (
    " AND courses.id IN (SELECT course_tags.course_id \n"
    "FROM course_tags JOIN tags ON tags.id = course_tags.tag_id \n"
    "WHERE tags.name = ${}::VARCHAR)"
)
LEVEL = " AND courses.level = ${}::VARCHAR"
AFTER = " AND (courses.created_at, courses.id) < (${}::TIMESTAMP WITH TIME ZONE, ${}::UUID)"
NEWEST = " ORDER BY courses.created_at DESC, courses.id DESC \n LIMIT ${}::INTEGER"
BY_ID = COURSE_COLUMNS + OUTLINE + FROM + "WHERE courses.id = $1::UUID"
LEVELS = frozenset({"beginner", "intermediate", "advanced"})


class BadRequest(Exception):
    pass


def list_statement(params: dict[str, str]) -> tuple[str, list[Any], int]:
    """The listing query for these query parameters: (SQL, arguments, limit)."""
    sql, args = COURSE_COLUMNS + FROM + LISTED, []
    if q := params.get("q"):
        args.append(q)
        sql += SEARCH.format(len(args))
    if tag := params.get("tag"):
        args.append(tag.strip().lower())
        sql += TAGGED.format(len(args))
    if level := params.get("level"):
        if level not in LEVELS:
            raise BadRequest("level")
        args.append(level)
        sql += LEVEL.format(len(args))
    if cursor := params.get("cursor"):
        created_at, course_id = decode_cursor(cursor)
        args += [created_at, course_id]
        sql += AFTER.format(len(args) - 1, len(args))
    try:
        limit = int(params.get("limit", "20"))
    except ValueError:
        raise BadRequest("limit") from None
    if not 1 <= limit <= 100:
        raise BadRequest("limit")
    args.append(limit + 1)
    sql += NEWEST.format(len(args))
    return sql, args, limit


# The service signs its cursors (an HMAC keyed from JWT_SECRET, see pagination.py). The floor
# signs its own the same way but doesn't check the MAC on the way in, so it can follow the
# service's cursors too: one HMAC of a hundred bytes costs about a microsecond.
_CURSOR_KEY = hashlib.sha256(b"floor cursor key").digest()
_CURSOR_SCOPE = "newest:Course.created_at desc,Course.id desc"


def encode_cursor(created_at: datetime, course_id: uuid.UUID) -> str:
    """As `Ordering.encode` of the `newest` sort."""
    raw = json.dumps([created_at.isoformat(), str(course_id)], separators=(",", ":"))
    payload = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    message = f"{_CURSOR_SCOPE}\n{payload}".encode()
    mac = hmac.new(_CURSOR_KEY, message, hashlib.sha256).digest()[:16]
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    payload, dot, _mac = cursor.partition(".")
    try:
        if not dot:
            raise BadRequest("cursor")
        created_at, course_id = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
        return datetime.fromisoformat(created_at), uuid.UUID(course_id)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise BadRequest("cursor") from exc


def _json_list(value: str | None) -> list[Any]:
    """A `json_agg` column: NULL when the subquery found no rows (a course without lessons)."""
    return [] if value is None else _loads(value)


def card(row: asyncpg.Record) -> dict[str, Any]:
    """`CourseRead` of a row."""
    reviews = row["reviews_count"]
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "price_cents": row["price_cents"],
        "currency": row["currency"],
        "level": row["level"],
        "tags": sorted(_json_list(row["tags"])),
        "published": row["published"],
        "archived": row["archived"],
        "instructor": {"id": row["instructor_id"], "full_name": row["instructor_name"]},
        "average_score": round(row["rating_sum"] / reviews, 2) if reviews else None,
        "reviews_count": reviews,
        "created_at": row["created_at"].astimezone(UTC),
        "updated_at": row["updated_at"].astimezone(UTC),
    }


async def course_page(pool: asyncpg.Pool, params: dict[str, str]) -> dict[str, Any]:
    sql, args, limit = list_statement(params)
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql, *args)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"])
    return {"items": [card(row) for row in rows], "next_cursor": next_cursor}


async def course_detail(pool: asyncpg.Pool, course_id: uuid.UUID) -> dict[str, Any] | None:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(BY_ID, course_id)
    if row is None or not row["published"] or row["archived"]:
        return None  # the service shows drafts to their owners; the floor is anonymous
    answer = card(row)
    lessons = sorted(_json_list(row["lessons"]), key=lambda lesson: lesson["position"])
    answer["lessons"] = [
        {"id": lesson["id"], "title": lesson["title"], "position": lesson["position"]}
        for lesson in lessons
    ]
    return answer


# --- ASGI -----------------------------------------------------------------------------------

PREFIX = "/api/v1/courses"
JSON_HEADERS = [(b"content-type", b"application/json")]


async def _send(send: Any, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(state: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state["pool"] = await asyncpg.create_pool(
                os.environ["FLOOR_DSN"],
                min_size=int(os.environ.get("FLOOR_POOL_MIN", "10")),
                max_size=int(os.environ.get("FLOOR_POOL_MAX", "20")),
                server_settings={"plan_cache_mode": "force_custom_plan"},
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


_STATE: dict[str, Any] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(_STATE, receive, send)
        return
    path: str = scope["path"]
    pool = _STATE["pool"]
    try:
        if scope["method"] != "GET":
            await _send(send, 405, b'{"detail":"method not allowed"}')
        elif path == PREFIX:
            query = parse_qs(scope["query_string"].decode())
            params = {key: values[-1] for key, values in query.items()}
            await _send(send, 200, _dumps(await course_page(pool, params)))
        elif path.startswith(PREFIX + "/"):
            try:
                course_id = uuid.UUID(path[len(PREFIX) + 1 :])
            except ValueError:
                raise BadRequest("course_id") from None
            found = await course_detail(pool, course_id)
            if found is None:
                await _send(send, 404, b'{"detail":"No such course."}')
            else:
                await _send(send, 200, _dumps(found))
        elif path in ("/healthz", "/readyz"):
            await _send(send, 200, b'{"status":"ok"}')
        else:
            await _send(send, 404, b'{"detail":"Not Found"}')
    except BadRequest as exc:
        await _send(send, 422, _dumps({"detail": f"bad {exc}"}))
