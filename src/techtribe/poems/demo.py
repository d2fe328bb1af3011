"""Demo poems and ratings by the demo members, for `techtribe seed` (idempotent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from techtribe.auth.models import User
from techtribe.poems import service
from techtribe.poems.models import Poem, PoemRating

# (author's e-mail, title, body): bodies keep their blank lines and indentation.
DEMO_POEMS: tuple[tuple[str, str, str], ...] = (
    (
        "ana.torres@techtribe.dev",
        "Ode to the Off-by-One",
        "I counted from one, the array from zero,\n"
        "and so I became an accidental hero\n"
        "of every bug report filed that night.\n"
        "\n"
        "    The loop ran long; the loop ran wrong;\n"
        "    the last element was gone.\n",
    ),
    (
        "lucia.romero@techtribe.dev",
        "Goroutines at Dusk",
        "Ten thousand small threads\nleave the main function at dusk:\n\twho waits for them all?\n",
    ),
    (
        "maria.lopez@techtribe.dev",
        "Haiku for a Failing Test",
        "Red line on the screen.\nI change nothing, run again:\n\ngreen. I do not trust it.\n",
    ),
    (
        "pedro.gomez@techtribe.dev",
        "Merge Conflict",
        "<<<<<<< yours\n  we were going to be so happy\n=======\n  I rewrote the whole thing\n"
        ">>>>>>> mine\n",
    ),
)

# (rater's e-mail, poem title, score, comment)
DEMO_RATINGS: tuple[tuple[str, str, int, str | None], ...] = (
    ("student@techtribe.dev", "Ode to the Off-by-One", 5, "Painfully true."),
    ("maria.lopez@techtribe.dev", "Ode to the Off-by-One", 4, None),
    ("elena.castro@techtribe.dev", "Goroutines at Dusk", 5, "Use a WaitGroup!"),
    ("ana.torres@techtribe.dev", "Haiku for a Failing Test", 4, "Flaky tests, the eternal theme."),
    ("pedro.gomez@techtribe.dev", "Haiku for a Failing Test", 3, None),
    ("carlos.mendez@techtribe.dev", "Merge Conflict", 5, None),
)


async def seed_poems(session: AsyncSession) -> tuple[int, int]:
    """Add the demo poems and ratings that are missing; (poems added, ratings added).

    Poems are matched by author and title, ratings by rater and poem; members that don't
    exist (or were deleted) are skipped. Goes through the service so counts stay exact;
    no "your poem was rated" mail is queued for demo data.
    """
    emails = {email for email, _, _ in DEMO_POEMS} | {email for email, *_ in DEMO_RATINGS}
    members = {
        user.email: user
        for user in await session.scalars(
            select(User).where(User.email.in_(emails), User.deleted_at.is_(None))
        )
    }
    poems: dict[str, Poem] = {}
    poems_added = 0
    for email, title, body in DEMO_POEMS:
        author = members.get(email)
        if author is None:
            continue
        poem = await session.scalar(
            select(Poem)
            .options(joinedload(Poem.author))
            .where(Poem.author_id == author.id, Poem.title == title)
        )
        if poem is None:
            poem = await service.publish(session, author=author, title=title, body=body)
            poems_added += 1
        poems[title] = poem
    ratings_added = 0
    for email, title, score, comment in DEMO_RATINGS:
        rater, poem = members.get(email), poems.get(title)
        if rater is None or poem is None or poem.author_id == rater.id:
            continue
        exists = await session.scalar(
            select(PoemRating.id).where(
                PoemRating.poem_id == poem.id, PoemRating.rater_id == rater.id
            )
        )
        if exists is None:
            await service.rate(
                session, poem=poem, rater=rater, score=score, comment=comment, notify=False
            )
            ratings_added += 1
    return poems_added, ratings_added
