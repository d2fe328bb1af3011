"""The floor: a bare ASGI app (asyncpg + orjson) running our catalog SQL and our checkout.

It sends, statement for statement, the SQL the service sends for `GET /api/v1/courses`
(newest first; `q`, `tag`, `level`, `limit`, `cursor`) and `GET /api/v1/courses/{id}`
(captured from SQLAlchemy; see docs/performance.md), on a connection with the same setting
(`plan_cache_mode = force_custom_plan`), and answers the same JSON. No framework, no ORM,
no validation layer, no transaction, no pool ping, no reset when a connection goes back to
the pool: what this machine can do at best with these queries. `python -m bench` serves it
like the service: uvicorn, a worker per core, uvloop and httptools.

    FLOOR_DSN=postgresql://postgres@127.0.0.1/db uvicorn bench.floor:app --workers 2 \\
        --loop uvloop --http httptools
"""

from __future__ import annotations

import hmac
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson

from bench.suite.data import sqlalchemy_url
from techtribe.config import Settings
from techtribe.courses.catalog import COURSE_SORTS
from techtribe.pagination import InvalidCursor, derive_key, signing_key
from techtribe.purchases.payments import sandbox_gateway
from techtribe.purchases.schemas import PurchaseCreate
from techtribe.security import TokenError, decode_jwt


def _dumps(value: Any) -> bytes:
    # asyncpg's UUID is a subclass orjson does not take as a uuid.UUID: str() it.
    return orjson.dumps(value, default=str, option=orjson.OPT_UTC_Z)


_loads = orjson.loads


# --- the SQL, as SQLAlchemy sends it (asyncpg prepares each text once per connection) ------

COURSE_COLUMNS = (
    "SELECT courses.id, courses.title, courses.description, courses.price_cents, "
    "courses.currency, courses.level, courses.tag_names AS tags, courses.published, "
    "courses.archived, courses.reviews_count, courses.created_at, courses.updated_at, "
    "courses.instructor_id, users.full_name AS instructor_name, courses.rating_sum, "
    "courses.rating_avg"
)
OUTLINE = (
    ", (SELECT json_agg(json_build_object('id', lessons.id, 'title', lessons.title, "
    "'position', lessons.position)) AS json_list_1 \n"
    "FROM lessons \n"
    "WHERE lessons.course_id = courses.id) AS lessons"
)
FROM = " \nFROM courses JOIN users ON users.id = courses.instructor_id \n"
LISTED = "WHERE courses.published AND NOT courses.archived"
SEARCH = " AND (courses.search_vector @@ websearch_to_tsquery('english'::regconfig, ${}::VARCHAR))"
TAGGED = " AND (courses.tag_names @> CAST(ARRAY[${}::VARCHAR] AS TEXT[]))"
LEVEL = " AND courses.level = ${}::VARCHAR"
AFTER = " AND (courses.created_at, courses.id) < (${}::TIMESTAMP WITH TIME ZONE, ${}::UUID)"
NEWEST_ORDER = " ORDER BY courses.created_at DESC, courses.id DESC"
NEWEST = NEWEST_ORDER + " \n LIMIT ${}::INTEGER"
PAGE_IDS = "SELECT courses.id AS id \nFROM courses \n"
BY_ID = COURSE_COLUMNS + OUTLINE + FROM + "WHERE courses.id = $1::UUID"
LEVELS = frozenset({"beginner", "intermediate", "advanced"})


class BadRequest(Exception):
    pass


def list_statement(params: dict[str, str]) -> tuple[str, list[Any], int]:
    """The listing query for these query parameters: (SQL, arguments, limit). With words or
    a tag, the page's ids come first (from the index alone), then their cards."""
    searched = bool(params.get("q") or params.get("tag"))
    sql = (PAGE_IDS if searched else COURSE_COLUMNS + FROM) + LISTED
    args: list[Any] = []
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
    if searched:
        sql = f"{COURSE_COLUMNS}{FROM.rstrip()} JOIN ({sql}) AS page ON page.id = courses.id"
        sql += NEWEST_ORDER
    return sql, args, limit


def _cursor_key() -> bytes:
    return derive_key(os.environ["FLOOR_JWT_SECRET"])


def encode_cursor(created_at: datetime, course_id: uuid.UUID) -> str:
    """As the service's `newest` cursor: signed with the key derived from its JWT secret."""
    with signing_key(_cursor_key()):
        return COURSE_SORTS["newest"].encode([created_at, course_id])


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    with signing_key(_cursor_key()):
        try:
            created_at, course_id = COURSE_SORTS["newest"].decode(cursor)
        except InvalidCursor:
            raise BadRequest("cursor") from None
    return created_at, course_id


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
        "tags": row["tags"] or [],
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


# --- POST /purchases: the checkout's statements in one transaction -------------------------

CALLER = (
    "SELECT users.email, users.full_name, users.is_active, users.deleted_at, "
    "auth_sessions.revoked_at FROM users JOIN auth_sessions ON auth_sessions.user_id = users.id "
    "WHERE users.id = $1 AND auth_sessions.id = $2"
)
CLAIM_KEY = (
    "INSERT INTO idempotency_keys (id, user_id, key, request_hash, created_at) "
    "VALUES ($1, $2, $3, $4, now()) ON CONFLICT (user_id, key) DO NOTHING RETURNING id"
)
REPLAY = (
    "SELECT response_status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2"
)
# Both kinds in one query, as the service prices them (with the key's attempt number).
OFFERS = (
    "SELECT id, 'course' AS kind, instructor_id, title, price_cents, currency, "
    "NOT published OR archived AS closed, "
    "EXISTS (SELECT 1 FROM enrollments WHERE user_id = $1 AND course_id = courses.id) AS owned, "
    "(SELECT count(*) FROM purchase_attempts WHERE user_id = $1 AND key = $2) AS attempt "
    "FROM courses WHERE id = ANY($3::uuid[]) "
    "UNION ALL "
    "SELECT id, 'advisory', instructor_id, topic, price_cents, currency, "
    "cancelled_at IS NOT NULL OR starts_at <= now(), "
    "EXISTS (SELECT 1 FROM bookings WHERE user_id = $1 AND slot_id = advisory_slots.id), "
    "(SELECT count(*) FROM purchase_attempts WHERE user_id = $1 AND key = $2) "
    "FROM advisory_slots WHERE id = ANY($4::uuid[])"
)
# A seat and its booking in one statement, as the service does on PostgreSQL.
TAKE_SEAT_AND_BOOK = (
    "WITH seat AS (UPDATE advisory_slots SET seats_taken = seats_taken + 1 "
    "WHERE id = $1 AND cancelled_at IS NULL AND seats_taken < capacity RETURNING id) "
    "INSERT INTO bookings (id, slot_id, user_id, created_at) SELECT $2, id, $3, $4 FROM seat "
    "RETURNING id"
)
ENROLL = "INSERT INTO enrollments (id, user_id, course_id, created_at) VALUES ($1, $2, $3, $4)"
PURCHASE = (
    "INSERT INTO purchases (id, user_id, status, total_cents, currency, card_brand, card_last4, "
    "card_exp_month, card_exp_year, gateway_charge_id, created_at) "
    "VALUES ($1, $2, 'paid', $3, $4, $5, $6, $7, $8, $9, $10)"
)
LINE = (
    "INSERT INTO purchase_items (id, purchase_id, position, kind, course_id, slot_id, "
    "instructor_id, title, price_cents, currency, platform_fee_cents, instructor_share_cents, "
    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)
SALE = (
    "INSERT INTO revenue_entries (id, kind, purchase_item_id, instructor_id, currency, "
    "gross_cents, refunded_cents, platform_fee_cents, instructor_share_cents, occurred_at, month) "
    "VALUES ($1, 'sale', $2, $3, $4, $5, 0, $6, $7, $8, $9)"
)
RECEIPT = (
    "INSERT INTO outbox (id, kind, recipient, user_id, subject, payload, status, attempts, "
    "created_at, next_attempt_at) "
    "VALUES ($1, 'purchase_receipt', $2, $3, 'Your TechTribe receipt', $4, 'pending', 0, $5, $5)"
)
ANSWER = (
    "UPDATE idempotency_keys SET purchase_id = $1, response_status = 201, response_body = $2 "
    "WHERE id = $3"
)
FEE_PERCENT = 30  # the service's default `platform_fee_percent`


class Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


async def purchase(pool: asyncpg.Pool, headers: dict[bytes, bytes], body: bytes) -> Any:
    """A purchase as the service makes it (idempotency row, prices, seats, enrollments or
    bookings, the sandbox charge, purchase, lines, ledger, receipt, stored answer): one
    transaction, one statement each, on raw asyncpg. The receipt is queued, not sent."""
    token = headers.get(b"authorization", b"").removeprefix(b"Bearer ").decode()
    key = headers.get(b"idempotency-key", b"").decode()
    try:
        claims = decode_jwt(token, secret=os.environ["FLOOR_JWT_SECRET"], algorithm="HS256")
        user_id, login_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
        order = PurchaseCreate.model_validate(_loads(body))  # as FastAPI does
    except (TokenError, KeyError, ValueError):
        raise Refused(401 if not key else 422, "invalid") from None
    fingerprint = hmac.new(os.environ["FLOOR_JWT_SECRET"].encode(), body, "sha256").hexdigest()
    async with pool.acquire() as connection:
        caller = await connection.fetchrow(CALLER, user_id, login_id)
        if caller is None or not caller["is_active"] or caller["revoked_at"] is not None:
            raise Refused(401, "invalid_token")
        async with connection.transaction():
            key_id = await connection.fetchval(CLAIM_KEY, uuid.uuid4(), user_id, key, fingerprint)
            if key_id is None:
                stored = await connection.fetchrow(REPLAY, user_id, key)
                return stored["response_status"], _loads(stored["response_body"])
            lines = await _priced(connection, user_id, key, order)
            now = datetime.now(UTC)
            try:
                for line in lines:
                    if line["kind"] != "advisory":
                        continue
                    booking = (uuid.uuid4(), user_id, now)
                    if await connection.fetchval(TAKE_SEAT_AND_BOOK, line["id"], *booking) is None:
                        raise Refused(409, "sold_out")
                for line in lines:
                    if line["kind"] == "course":
                        await connection.execute(ENROLL, uuid.uuid4(), user_id, line["id"], now)
            except asyncpg.UniqueViolationError:
                raise Refused(409, "already_owned") from None
            total, currency, card = sum(li["price_cents"] for li in lines), "USD", order.payment
            purchase_id, charge_id = uuid.uuid4(), None
            if total > 0:
                charge = await _STATE["gateway"].charge(
                    amount_cents=total, currency=currency, card=card,
                    idempotency_key=f"floor-{fingerprint[:40]}-{key}",
                    description=f"TechTribe purchase {purchase_id}",
                )  # fmt: skip
                charge_id = charge.id
            await connection.execute(
                PURCHASE, purchase_id, user_id, total, currency, card.brand, card.last4,
                card.exp_month, card.exp_year, charge_id, now,
            )  # fmt: skip
            rows, sales = [], []
            for position, line in enumerate(lines):
                fee = line["price_cents"] * FEE_PERCENT // 100
                share, line_id = line["price_cents"] - fee, uuid.uuid4()
                course = line["id"] if line["kind"] == "course" else None
                slot = line["id"] if line["kind"] == "advisory" else None
                rows.append((
                    line_id, purchase_id, position, line["kind"], course, slot,
                    line["instructor_id"], line["title"], line["price_cents"], currency, fee,
                    share, now,
                ))  # fmt: skip
                sales.append((
                    uuid.uuid4(), line_id, line["instructor_id"], currency,
                    line["price_cents"], fee, share, now, now.strftime("%Y-%m"),
                ))  # fmt: skip
            await connection.executemany(LINE, rows)
            await connection.executemany(SALE, sales)
            answer = {
                "id": purchase_id, "user_id": user_id, "status": "paid", "total_cents": total,
                "currency": currency, "card": {"brand": card.brand, "last4": card.last4},
                "items": [
                    {"kind": li["kind"], "id": li["id"], "title": li["title"],
                     "price_cents": li["price_cents"], "currency": currency, "refunded": False}
                    for li in lines
                ],
                "created_at": now, "refunded_at": None,
            }  # fmt: skip
            stored_answer = _dumps(answer).decode()
            receipt = _dumps(_receipt(caller["full_name"], purchase_id, answer)).decode()
            await connection.execute(RECEIPT, uuid.uuid4(), caller["email"], user_id, receipt, now)
            await connection.execute(ANSWER, purchase_id, stored_answer, key_id)
    return 201, answer


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d} USD"


def _receipt(name: str, purchase_id: uuid.UUID, answer: dict[str, Any]) -> dict[str, Any]:
    """The outbox payload the service writes (the e-mail is sent from it afterwards)."""
    items = [{"title": i["title"], "price": _money(i["price_cents"])} for i in answer["items"]]
    lines = "\n".join(f"- {item['title']}: {item['price']}" for item in items)
    card = answer["card"]
    return {
        "text": f"Hello {name},\n\nThank you for your purchase:\n{lines}\n",
        "purchase_id": str(purchase_id),
        "name": name,
        "items": items,
        "total": _money(answer["total_cents"]),
        "card": f"{card['brand']} card ending in {card['last4']}",
    }


async def _priced(
    connection: asyncpg.Connection, user_id: uuid.UUID, key: str, order: PurchaseCreate
) -> list[dict[str, Any]]:
    ids = {kind: [i.id for i in order.items if i.kind == kind] for kind in ("course", "advisory")}
    rows = await connection.fetch(OFFERS, user_id, key, ids["course"], ids["advisory"])
    found = {(row["kind"], row["id"]): dict(row) for row in rows}
    lines = []
    for item in order.items:
        offer = found.get((item.kind, item.id))
        if offer is None:
            raise Refused(404, "not_found")
        if offer["closed"] or offer["owned"]:
            raise Refused(409, "unavailable" if offer["closed"] else "already_owned")
        lines.append(offer)
    return lines


# --- ASGI -----------------------------------------------------------------------------------

PREFIX = "/api/v1/courses"
JSON_HEADERS = [(b"content-type", b"application/json")]


async def _send(send: Any, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """What the pool does with a connection given back: nothing. asyncpg's default sends
    `RESET ALL` and three more statements, a round trip per request that the service doesn't
    make (SQLAlchemy's pool only rolls back a transaction it opened): with it, the floor's
    first page did 4,090 requests/s against 4,600 without, its course page 6,010 against
    7,630. Nothing here sets, locks or listens, so there is nothing to undo."""


async def _lifespan(state: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state["pool"] = await asyncpg.create_pool(
                os.environ["FLOOR_DSN"],
                min_size=int(os.environ.get("FLOOR_POOL_MIN", "2")),
                max_size=int(os.environ.get("FLOOR_POOL_MAX", "20")),
                server_settings={"plan_cache_mode": "force_custom_plan"},
                reset=_nothing_to_reset,
            )
            # The service's sandbox, ledger in the database included: the provider's side
            # of a charge costs the floor what it costs the service.
            state["gateway"] = sandbox_gateway(
                Settings(
                    database_url=sqlalchemy_url(os.environ["FLOOR_DSN"]),
                    jwt_secret=os.environ["FLOOR_JWT_SECRET"],
                )
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["gateway"].aclose()
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
        if scope["method"] == "POST" and path == "/api/v1/purchases":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            status, answer = await purchase(pool, dict(scope["headers"]), body)
            await _send(send, status, _dumps(answer))
        elif scope["method"] != "GET":
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
    except Refused as exc:
        await _send(send, exc.status, _dumps({"code": exc.code}))
