"""Publishing, editing and rating poems, keeping every aggregate exact under concurrency.

Aggregates (a poem's ratings_count/ratings_sum/score_average, a member's poems_count and
ratings_count) only ever change by atomic `UPDATE ... SET x = x + :delta`, in the same
transaction as the rows they count. On PostgreSQL, paths that delete ratings lock the poem
row first, so a rating can't slip in between counting and deleting; on SQLite the first
write of a transaction takes the database's single write lock, which serialises them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Select, case, cast, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.sql.elements import ColumnElement

from techtribe.auth.models import Role, User
from techtribe.db import utcnow
from techtribe.errors import Conflict, Forbidden, NotFound
from techtribe.notifications.outbox import enqueue
from techtribe.pagination import Key, Ordering, paginate
from techtribe.poems.models import Poem, PoemRating

NO_SYNC = {"synchronize_session": False}


class PoemNotFound(NotFound):
    detail_text = "No such poem."


class RatingNotFound(NotFound):
    detail_text = "You have not rated this poem."


class OwnPoem(Forbidden):
    code, detail_text = "own_poem", "You can't rate your own poem."


class AlreadyRated(Conflict):
    code, detail_text = "already_rated", "You have already rated this poem; change your rating."


class NotPoemEditor(Forbidden):
    detail_text = "Only the poem's author or an admin may change it."


def _float_key(column: Any, *, descending: bool = False) -> Key:
    return Key(column, descending, float, float)


# Each sort: its ordering, and how to read a poem's sort values (for the next cursor).
POEM_SORTS: dict[str, tuple[Ordering, Callable[[Poem], Sequence[Any]]]] = {
    "newest": (
        Ordering(
            "newest",
            (Key.timestamp(Poem.created_at, descending=True), Key.uuid(Poem.id, descending=True)),
        ),
        lambda p: (p.created_at, p.id),
    ),
    "oldest": (
        Ordering("oldest", (Key.timestamp(Poem.created_at), Key.uuid(Poem.id))),
        lambda p: (p.created_at, p.id),
    ),
    # Unrated poems (average 0 internally) come last.
    "rating": (
        Ordering(
            "rating",
            (_float_key(Poem.score_average, descending=True), Key.uuid(Poem.id, descending=True)),
        ),
        lambda p: (p.score_average, p.id),
    ),
    "most_rated": (
        Ordering(
            "most_rated",
            (Key(Poem.ratings_count, descending=True), Key.uuid(Poem.id, descending=True)),
        ),
        lambda p: (p.ratings_count, p.id),
    ),
    "author": (
        Ordering("author", (Key(User.full_name), Key.uuid(Poem.id))),
        lambda p: (p.author.full_name, p.id),
    ),
}

RATING_ORDER = Ordering(
    "newest",
    (
        Key.timestamp(PoemRating.created_at, descending=True),
        Key.uuid(PoemRating.id, descending=True),
    ),
)


def _aggregates(sum_delta: Any, count_delta: int) -> dict[Any, Any]:
    """SET clauses moving a poem's aggregates by a delta (SET reads the row's old values)."""
    new_sum = Poem.ratings_sum + sum_delta
    new_count = Poem.ratings_count + count_delta
    return {
        Poem.ratings_sum: new_sum,
        Poem.ratings_count: new_count,
        Poem.score_average: case((new_count == 0, 0.0), else_=cast(new_sum, Float) / new_count),
    }


async def _move_aggregates(
    session: AsyncSession, poem_id: uuid.UUID, sum_delta: int, count_delta: int
) -> None:
    await session.execute(
        update(Poem)
        .where(Poem.id == poem_id)
        .values(_aggregates(sum_delta, count_delta))
        .execution_options(**NO_SYNC)
    )


async def _move_user_count(
    session: AsyncSession, where: ColumnElement[bool], column: Any, delta: Any
) -> None:
    await session.execute(
        update(User).where(where).values({column: column + delta}).execution_options(**NO_SYNC)
    )


async def _lock_poems(session: AsyncSession, where: ColumnElement[bool], *, key: bool) -> None:
    """Row-lock poems on PostgreSQL, in id order (no deadlock between two lockers).

    `key=True` (FOR UPDATE) also keeps new ratings out, as inserting one takes a key-share
    lock on its poem; otherwise FOR NO KEY UPDATE. SQLite has no row locks: a no-op there.
    """
    stmt = select(Poem.id).where(where).order_by(Poem.id).with_for_update(key_share=not key)
    await session.execute(stmt)


# --- poems -------------------------------------------------------------------------------


async def get_poem(session: AsyncSession, poem_id: uuid.UUID) -> Poem:
    poem = await session.scalar(
        select(Poem)
        .options(joinedload(Poem.author))
        .where(Poem.id == poem_id)
        .execution_options(populate_existing=True)
    )
    if poem is None:
        raise PoemNotFound()
    return poem


def check_can_edit(poem: Poem, user: User) -> None:
    if poem.author_id != user.id and user.role != Role.admin:
        raise NotPoemEditor()


async def publish(session: AsyncSession, *, author: User, title: str, body: str) -> Poem:
    now = utcnow()
    poem = Poem(author=author, title=title, body=body, created_at=now, updated_at=now)
    session.add(poem)
    await session.flush()
    await _move_user_count(session, User.id == author.id, User.poems_count, 1)
    return poem


async def edit(session: AsyncSession, poem: Poem, changes: dict[str, Any]) -> Poem:
    changes = {name: value for name, value in changes.items() if value is not None}
    if changes:
        for name, value in changes.items():
            setattr(poem, name, value)
        poem.updated_at = utcnow()
        await session.flush()
    return await get_poem(session, poem.id)


async def delete_poem(session: AsyncSession, poem: Poem) -> None:
    """Delete a poem and its ratings; the raters' and the author's counts follow."""
    await _lock_poems(session, Poem.id == poem.id, key=True)
    raters = select(PoemRating.rater_id).where(PoemRating.poem_id == poem.id)
    await _move_user_count(session, User.id.in_(raters), User.ratings_count, -1)
    result = await session.execute(
        delete(Poem).where(Poem.id == poem.id).execution_options(**NO_SYNC)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise PoemNotFound()  # deleted meanwhile: the rollback undoes the counts
    # The ratings go by ON DELETE CASCADE.
    await _move_user_count(session, User.id == poem.author_id, User.poems_count, -1)


async def list_poems(
    session: AsyncSession,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    author_id: uuid.UUID | None = None,
    q: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    min_score: float | None = None,
    exclude_author_id: uuid.UUID | None = None,
) -> tuple[list[Poem], str | None]:
    # The author comes in the same query: one query per page, whatever its size.
    stmt: Select[Any] = select(Poem).join(Poem.author).options(contains_eager(Poem.author))
    if author_id is not None:
        stmt = stmt.where(Poem.author_id == author_id)
    if exclude_author_id is not None:
        stmt = stmt.where(Poem.author_id != exclude_author_id)
    if q:
        stmt = stmt.where(Poem.title.ilike(f"%{_escape_like(q)}%", escape="\\"))
    if created_from is not None:
        stmt = stmt.where(Poem.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Poem.created_at <= created_to)
    if min_score is not None:
        # An unrated poem has no score, so no score reaches the minimum.
        stmt = stmt.where(Poem.ratings_count > 0, Poem.score_average >= min_score)
    ordering, key_of = POEM_SORTS[sort]
    return await paginate(session, stmt, ordering, limit=limit, cursor=cursor, key_of=key_of)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- ratings -----------------------------------------------------------------------------


async def rate(
    session: AsyncSession,
    *,
    poem: Poem,
    rater: User,
    score: int,
    comment: str | None,
    notify: bool = True,
) -> PoemRating:
    """Rate someone else's poem, once; the author is told through the outbox."""
    if poem.author_id == rater.id:
        raise OwnPoem()
    rating = PoemRating(poem_id=poem.id, rater=rater, score=score, comment=comment)
    session.add(rating)
    try:
        await session.flush()
    except IntegrityError as exc:
        # The unique (poem_id, rater_id) constraint decides between racing requests.
        if "unique" in str(exc.orig).lower():
            raise AlreadyRated() from None
        raise PoemNotFound() from None  # the foreign key: the poem was deleted meanwhile
    await _move_aggregates(session, poem.id, score, 1)
    await _move_user_count(session, User.id == rater.id, User.ratings_count, 1)
    if notify and poem.author.email is not None:  # a deleted author has no address
        await _tell_author(session, poem=poem, author=poem.author, rater=rater, rating=rating)
    return rating


async def _tell_author(
    session: AsyncSession, *, poem: Poem, author: User, rater: User, rating: PoemRating
) -> None:
    assert author.email is not None
    await enqueue(
        session,
        kind="poem_rated",
        recipient=author.email,
        user_id=author.id,
        data={
            "name": author.full_name,
            "poem_id": str(poem.id),
            "poem_title": poem.title,
            "score": rating.score,
            "comment": rating.comment,
            "rater_name": rater.full_name,
        },
    )


async def get_rating(session: AsyncSession, rating_id: uuid.UUID) -> PoemRating:
    rating = await session.scalar(
        select(PoemRating)
        .options(joinedload(PoemRating.rater))
        .where(PoemRating.id == rating_id)
        .execution_options(populate_existing=True)
    )
    if rating is None:
        raise RatingNotFound()
    return rating


async def change_rating(
    session: AsyncSession, *, poem: Poem, rater: User, changes: dict[str, Any]
) -> PoemRating:
    """Change the caller's own rating; the author is not told again."""
    mine = (PoemRating.poem_id == poem.id) & (PoemRating.rater_id == rater.id)
    await _lock_poems(session, Poem.id == poem.id, key=False)
    # Touching the row first locks it (and, on SQLite, the database), so the score read
    # back is the one this change replaces.
    row = (
        await session.execute(
            update(PoemRating)
            .where(mine)
            .values(updated_at=utcnow())
            .returning(PoemRating.id, PoemRating.score)
            .execution_options(**NO_SYNC)
        )
    ).one_or_none()
    if row is None:
        raise RatingNotFound()
    rating_id, old_score = row
    values = {name: changes[name] for name in ("score", "comment") if name in changes}
    if values.get("score") is None:
        values.pop("score", None)  # a score can't be cleared; a comment can
    if values:
        await session.execute(
            update(PoemRating)
            .where(PoemRating.id == rating_id)
            .values(values)
            .execution_options(**NO_SYNC)
        )
    if "score" in values and values["score"] != old_score:
        await _move_aggregates(session, poem.id, values["score"] - old_score, 0)
    return await get_rating(session, rating_id)


async def withdraw_rating(session: AsyncSession, *, poem: Poem, rater: User) -> None:
    await _lock_poems(session, Poem.id == poem.id, key=False)
    score = await session.scalar(
        delete(PoemRating)
        .where(PoemRating.poem_id == poem.id, PoemRating.rater_id == rater.id)
        .returning(PoemRating.score)
        .execution_options(**NO_SYNC)
    )
    if score is None:
        raise RatingNotFound()
    await _move_aggregates(session, poem.id, -score, -1)
    await _move_user_count(session, User.id == rater.id, User.ratings_count, -1)


async def list_ratings(
    session: AsyncSession, *, poem: Poem, limit: int, cursor: str | None
) -> tuple[list[PoemRating], str | None]:
    stmt = (
        select(PoemRating)
        .join(PoemRating.rater)
        .options(contains_eager(PoemRating.rater))
        .where(PoemRating.poem_id == poem.id)
    )
    return await paginate(session, stmt, RATING_ORDER, limit=limit, cursor=cursor)


# --- account deletion --------------------------------------------------------------------


async def forget_member(session: AsyncSession, user: User) -> None:
    """Account closure: the member's poems and ratings go; every aggregate follows."""
    rated = select(PoemRating.poem_id).where(PoemRating.rater_id == user.id)
    authored = Poem.author_id == user.id
    await _lock_poems(session, authored, key=True)
    await _lock_poems(session, Poem.id.in_(rated) & ~authored, key=False)

    # Their ratings of other members' poems: each poem's average loses that score.
    removed = (
        await session.execute(
            delete(PoemRating)
            .where(PoemRating.rater_id == user.id)
            .returning(PoemRating.poem_id, PoemRating.score)
            .execution_options(**NO_SYNC)
        )
    ).all()
    for poem_id, score in removed:
        await _move_aggregates(session, poem_id, -score, -1)

    # Their poems: every rater of them loses one rating each (one rating per poem).
    other = aliased(Poem)
    ratings_of_theirs = (
        select(func.count())
        .select_from(PoemRating)
        .join(other, other.id == PoemRating.poem_id)
        .where(other.author_id == user.id, PoemRating.rater_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    raters = (
        select(PoemRating.rater_id)
        .join(other, other.id == PoemRating.poem_id)
        .where(other.author_id == user.id)
    )
    await _move_user_count(session, User.id.in_(raters), User.ratings_count, -ratings_of_theirs)
    poems_gone = await session.execute(delete(Poem).where(authored).execution_options(**NO_SYNC))

    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            poems_count=User.poems_count - poems_gone.rowcount,  # type: ignore[attr-defined]
            ratings_count=User.ratings_count - len(removed),
        )
    )
