"""Poems: publishing, reading, editing and deleting; who may; listing, filters and pages."""

from __future__ import annotations

import uuid
from datetime import datetime
from fractions import Fraction
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from techtribe.poems.models import Poem, PoemRating
from techtribe.seed import seed
from tests.conftest import make_settings
from tests.helpers import API, Member, assert_problem, assert_unauthorized, counting_queries, member
from tests.poem_factories import (
    counts_of,
    marker,
    publish,
    rated,
    ratings_rows,
    read_poem,
)

# --- publishing and reading ------------------------------------------------------------


async def test_member_publishes_a_poem_and_anyone_reads_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db, full_name="Pablo Poet")

    response = await client.post(
        f"{API}/poems",
        json={"title": "  Morning  ", "body": "Light.\n", "author_id": str(uuid.uuid4())},
        headers=author.headers,
    )

    assert response.status_code == 201, response.text
    poem = response.json()
    assert poem["title"] == "Morning"
    assert poem["author"] == {"id": author.id, "full_name": "Pablo Poet"}
    assert poem["author_id"] == author.id  # an author_id in the body is ignored
    assert poem["average_score"] is None
    assert poem["ratings_count"] == 0
    assert datetime.fromisoformat(poem["created_at"]).utcoffset() is not None
    assert poem["updated_at"] == poem["created_at"]
    assert await read_poem(client, poem["id"]) == poem


async def test_publishing_anonymously_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/poems", json={"title": "T", "body": "B"})

    assert_unauthorized(response, "not_authenticated")


async def test_body_keeps_blank_lines_indentation_and_tabs_exactly(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    body = "  two leading spaces\n\n\n\tone tab\n    four spaces\t trailing \n \n\nend  "

    poem = await publish(client, author, body=body)
    edited = await client.patch(
        f"{API}/poems/{poem['id']}", json={"body": body + "\n\n"}, headers=author.headers
    )

    assert poem["body"] == body
    assert edited.json()["body"] == body + "\n\n"
    assert (await read_poem(client, poem["id"]))["body"] == body + "\n\n"


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "x" * 201, "body": "ok"},
        {"title": "", "body": "ok"},
        {"title": "   ", "body": "ok"},
        {"title": "ok", "body": "x" * 20_001},
        {"title": "ok", "body": ""},
        {"title": "ok"},
        {"body": "ok"},
    ],
)
async def test_invalid_poem_is_422(
    client: httpx.AsyncClient, db: AsyncSession, payload: dict[str, Any]
) -> None:
    author = await member(client, db)

    response = await client.post(f"{API}/poems", json=payload, headers=author.headers)

    assert_problem(response, 422, "validation_error")


async def test_longest_title_and_body_are_accepted(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)

    poem = await publish(client, author, title="t" * 200, body="b" * 20_000)

    assert len(poem["title"]) == 200
    assert len(poem["body"]) == 20_000


async def test_unknown_poem_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{API}/poems/{uuid.uuid4()}"), 404, "not_found")
    assert_problem(await client.get(f"{API}/poems/{uuid.uuid4()}/ratings"), 404, "not_found")


# --- editing and deleting: who may -----------------------------------------------------


async def test_anonymous_edit_or_delete_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    assert_unauthorized(
        await client.patch(f"{API}/poems/{poem['id']}", json={"title": "X"}), "not_authenticated"
    )
    assert_unauthorized(await client.delete(f"{API}/poems/{poem['id']}"), "not_authenticated")
    # Even for a poem that doesn't exist: the login comes first.
    assert_unauthorized(await client.delete(f"{API}/poems/{uuid.uuid4()}"), "not_authenticated")


@pytest.mark.parametrize("role", ["student", "instructor"])
async def test_other_members_edit_or_delete_is_403(
    client: httpx.AsyncClient, db: AsyncSession, role: str
) -> None:
    author = await member(client, db)
    other = await member(client, db, role=role)
    poem = await publish(client, author, title="Mine")

    patch = await client.patch(
        f"{API}/poems/{poem['id']}", json={"title": "Theirs"}, headers=other.headers
    )
    delete = await client.delete(f"{API}/poems/{poem['id']}", headers=other.headers)

    assert_problem(patch, 403, "forbidden")
    assert_problem(delete, 403, "forbidden")
    assert (await read_poem(client, poem["id"]))["title"] == "Mine"


@pytest.mark.parametrize("editor", ["author", "admin"])
async def test_author_or_admin_edits_with_200_and_deletes_with_204(
    client: httpx.AsyncClient, db: AsyncSession, editor: str
) -> None:
    author = await member(client, db)
    caller = author if editor == "author" else await member(client, db, role="admin")
    poem = await publish(client, author, title="Draft", body="first\n")

    patch = await client.patch(
        f"{API}/poems/{poem['id']}", json={"title": "Final"}, headers=caller.headers
    )

    assert patch.status_code == 200, patch.text
    edited = patch.json()
    assert edited["title"] == "Final"
    assert edited["body"] == "first\n"  # left out: unchanged
    assert edited["author_id"] == author.id
    assert edited["updated_at"] > poem["updated_at"]
    assert edited["created_at"] == poem["created_at"]

    delete = await client.delete(f"{API}/poems/{poem['id']}", headers=caller.headers)

    assert delete.status_code == 204
    assert delete.content == b""
    assert_problem(await client.get(f"{API}/poems/{poem['id']}"), 404, "not_found")
    assert_problem(
        await client.delete(f"{API}/poems/{poem['id']}", headers=caller.headers), 404, "not_found"
    )


async def test_edit_with_invalid_title_is_422(client: httpx.AsyncClient, db: AsyncSession) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    response = await client.patch(
        f"{API}/poems/{poem['id']}", json={"title": "x" * 201}, headers=author.headers
    )

    assert_problem(response, 422, "validation_error")


# --- deleting: what goes with it, and counts -------------------------------------------


async def test_deleting_a_poem_deletes_its_ratings_and_corrects_the_raters_counts(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    author = await member(client, db)
    raters = [await member(client, db) for _ in range(3)]
    poem = await publish(client, author)
    kept = await publish(client, author)
    for rater in raters:
        await rated(client, rater, poem["id"], 4)
    await rated(client, raters[0], kept["id"], 2)

    response = await client.delete(f"{API}/poems/{poem['id']}", headers=author.headers)

    assert response.status_code == 204
    assert await ratings_rows(db, poem_id=poem["id"]) == 0
    assert await ratings_rows(db, poem_id=kept["id"]) == 1
    assert await counts_of(client, admin, author.id) == (1, 0)
    assert await counts_of(client, admin, raters[0].id) == (0, 1)
    assert await counts_of(client, admin, raters[1].id) == (0, 0)


async def test_poems_and_ratings_counts_follow_publishing_and_rating(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    alice = await member(client, db)
    bob = await member(client, db)
    first = await publish(client, alice)
    await publish(client, alice)
    bobs = await publish(client, bob)
    await rated(client, bob, first["id"], 5)
    await rated(client, alice, bobs["id"], 3)
    await rated(client, admin, first["id"], 1)

    assert await counts_of(client, admin, alice.id) == (2, 1)
    assert await counts_of(client, admin, bob.id) == (1, 1)
    assert await counts_of(client, admin, admin.id) == (0, 1)

    await client.delete(f"{API}/poems/{first['id']}/ratings/mine", headers=bob.headers)

    assert await counts_of(client, admin, bob.id) == (1, 0)


async def test_deleting_an_account_removes_its_poems_and_ratings_and_fixes_averages(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    leaving = await member(client, db)
    fan = await member(client, db)
    other_author = await member(client, db)
    own_poems = [await publish(client, leaving) for _ in range(2)]
    for poem in own_poems:
        await rated(client, fan, poem["id"], 5)
    rated_poem = await publish(client, other_author)
    await rated(client, leaving, rated_poem["id"], 1)
    await rated(client, fan, rated_poem["id"], 4)
    assert (await read_poem(client, rated_poem["id"]))["average_score"] == 2.5
    assert await counts_of(client, admin, fan.id) == (0, 3)

    response = await client.request("DELETE", f"{API}/users/me", headers=leaving.headers)

    assert response.status_code == 204, response.text
    for poem in own_poems:
        assert_problem(await client.get(f"{API}/poems/{poem['id']}"), 404, "not_found")
        assert await ratings_rows(db, poem_id=poem["id"]) == 0
    assert await ratings_rows(db, rater_id=leaving.id) == 0
    after = await read_poem(client, rated_poem["id"])
    assert after["average_score"] == 4.0
    assert after["ratings_count"] == 1
    assert await counts_of(client, admin, fan.id) == (0, 1)
    assert await counts_of(client, admin, other_author.id) == (1, 0)
    db.expire_all()
    left = await db.scalar(
        select(func.count()).select_from(Poem).where(Poem.author_id == uuid.UUID(leaving.id))
    )
    assert left == 0


# --- listing ---------------------------------------------------------------------------


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def all_pages(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/poems", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not end"


class Library:
    """Seven poems by three authors with a spread of ratings (ties included)."""

    def __init__(self, mark: str, authors: list[Member], poems: list[dict[str, Any]]) -> None:
        self.mark = mark
        self.authors = authors
        self.poems = poems
        self.scores: dict[str, list[int]] = {p["id"]: [] for p in poems}
        self.author_names = {
            a.id: name for a, name in zip(authors, ("Alice", "Bob", "Carol"), strict=True)
        }


@pytest.fixture
async def library(client: httpx.AsyncClient, db: AsyncSession) -> Library:
    mark = marker()
    authors = [await member(client, db, full_name=f"{mark} {n}") for n in ("Bob", "Alice", "Carol")]
    # authors[0] is Bob, [1] Alice, [2] Carol: publishing order differs from name order.
    authors = [authors[1], authors[0], authors[2]]
    order = [0, 1, 2, 0, 1, 2, 0]
    poems = [
        await publish(
            client, authors[a], title=f"{mark} poem {i} Ocean" if i % 2 else f"{mark} {i}"
        )
        for i, a in enumerate(order)
    ]
    lib = Library(mark, authors, poems)
    raters = [await member(client, db) for _ in range(3)]
    # Averages: 5, 5 (tie), 3.5, 3.5 (tie), 2, unrated, unrated.
    plan = {0: [5, 5], 1: [5], 2: [4, 3], 3: [3, 4], 4: [2]}
    for index, scores in plan.items():
        for rater, score in zip(raters, scores, strict=False):
            await rated(client, rater, poems[index]["id"], score)
            lib.scores[poems[index]["id"]].append(score)
    return lib


def expected_order(lib: Library, sort: str) -> list[str]:
    poems = lib.poems

    def created(p: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(p["created_at"])

    def average(p: dict[str, Any]) -> Fraction:
        scores = lib.scores[p["id"]]
        return Fraction(sum(scores), len(scores)) if scores else Fraction(0)

    if sort == "newest":
        ranked = sorted(poems, key=lambda p: (created(p), p["id"]), reverse=True)
    elif sort == "oldest":
        ranked = sorted(poems, key=lambda p: (created(p), p["id"]))
    elif sort == "rating":
        ranked = sorted(poems, key=lambda p: (average(p), p["id"]), reverse=True)
    elif sort == "most_rated":
        ranked = sorted(poems, key=lambda p: (len(lib.scores[p["id"]]), p["id"]), reverse=True)
    else:
        ranked = sorted(poems, key=lambda p: (lib.author_names[p["author_id"]], p["id"]))
    return ids(ranked)


@pytest.mark.parametrize("sort", ["newest", "oldest", "rating", "most_rated", "author"])
@pytest.mark.parametrize("limit", [1, 3, 7, 100])
async def test_every_sort_pages_through_all_poems_in_order_without_repeats_or_gaps(
    client: httpx.AsyncClient, library: Library, sort: str, limit: int
) -> None:
    pages = await all_pages(client, q=library.mark, sort=sort, limit=limit)

    seen = [poem_id for page in pages for poem_id in ids(page)]
    assert seen == expected_order(library, sort)
    assert len(set(seen)) == len(library.poems)
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages) == -(-len(library.poems) // limit)


async def test_list_items_carry_author_average_and_count(
    client: httpx.AsyncClient, library: Library
) -> None:
    [page] = await all_pages(client, q=library.mark, sort="rating", limit=100)

    first = page[0]
    assert first["average_score"] == 5.0
    assert first["author"]["full_name"].startswith(library.mark)
    by_id = {p["id"]: p for p in page}
    assert by_id[library.poems[2]["id"]]["average_score"] == 3.5
    assert by_id[library.poems[2]["id"]]["ratings_count"] == 2
    assert by_id[library.poems[5]["id"]]["average_score"] is None
    assert by_id[library.poems[5]["id"]]["ratings_count"] == 0
    assert set(first) == {
        "id",
        "title",
        "body",
        "author",
        "author_id",
        "average_score",
        "ratings_count",
        "created_at",
        "updated_at",
    }


async def test_filters_by_author_title_and_min_score(
    client: httpx.AsyncClient, library: Library
) -> None:
    alice = library.authors[0]

    by_author = await all_pages(client, q=library.mark, author_id=alice.id, limit=100)
    by_title = await all_pages(client, q=f"{library.mark.upper()} POEM 1 ocean")
    min_score = await all_pages(client, q=library.mark, min_score=3.5, sort="rating")
    any_rated = await all_pages(client, q=library.mark, min_score=0)
    ocean = await all_pages(client, q=f"{library.mark} poem", sort="oldest")

    assert sorted(ids(by_author[0])) == sorted(
        p["id"] for p in library.poems if p["author_id"] == alice.id
    )
    assert ids(by_title[0]) == [library.poems[1]["id"]]
    assert ids(min_score[0]) == expected_order(library, "rating")[:4]
    assert len(any_rated[0]) == 5  # unrated poems have no score to compare
    assert ids(ocean[0]) == [library.poems[i]["id"] for i in (1, 3, 5)]


async def test_title_filter_treats_like_wildcards_literally(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    mark = marker()
    literal = await publish(client, author, title=f"{mark} 100% sure_thing")
    await publish(client, author, title=f"{mark} 100 percent surexthing")

    pages = await all_pages(client, q=f"{mark} 100% sure_")

    assert ids(pages[0]) == [literal["id"]]


async def test_from_and_to_are_inclusive_on_created_at(
    client: httpx.AsyncClient, library: Library
) -> None:
    middle = library.poems[3]

    exact = await all_pages(
        client, q=library.mark, **{"from": middle["created_at"], "to": middle["created_at"]}
    )
    after = await all_pages(client, q=library.mark, sort="oldest", **{"from": middle["created_at"]})
    before = await all_pages(client, q=library.mark, sort="oldest", to=middle["created_at"])

    assert ids(exact[0]) == [middle["id"]]
    assert ids(after[0]) == expected_order(library, "oldest")[3:]
    assert ids(before[0]) == expected_order(library, "oldest")[:4]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-01-01T00:00:00"},
        {"to": "2026-01-01T00:00:00"},
        {"from": "yesterday"},
        {"limit": 0},
        {"limit": 101},
        {"sort": "title"},
        {"min_score": 6},
        {"author_id": "not-a-uuid"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get(f"{API}/poems", params=params)

    assert_problem(response, 422, "validation_error")


async def test_cursor_of_one_sort_is_422_in_another(
    client: httpx.AsyncClient, library: Library
) -> None:
    first = await client.get(f"{API}/poems", params={"q": library.mark, "limit": 2})
    cursor = first.json()["next_cursor"]

    response = await client.get(
        f"{API}/poems", params={"q": library.mark, "sort": "rating", "cursor": cursor}
    )

    assert_problem(response, 422, "invalid_cursor")


async def test_default_page_is_20(client: httpx.AsyncClient, db: AsyncSession) -> None:
    author = await member(client, db)
    mark = marker()
    for _ in range(21):
        await publish(client, author, title=mark)

    response = await client.get(f"{API}/poems", params={"q": mark})

    assert len(response.json()["items"]) == 20
    assert response.json()["next_cursor"] is not None


async def test_exclude_mine_hides_the_callers_poems(
    client: httpx.AsyncClient, library: Library
) -> None:
    alice = library.authors[0]

    pages = await all_pages(client, alice.headers, q=library.mark, exclude_mine="true")
    with_mine = await all_pages(client, alice.headers, q=library.mark, exclude_mine="false")

    assert sorted(ids(pages[0])) == sorted(
        p["id"] for p in library.poems if p["author_id"] != alice.id
    )
    assert len(with_mine[0]) == len(library.poems)


async def test_exclude_mine_anonymously_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/poems", params={"exclude_mine": "true"})

    assert_unauthorized(response, "not_authenticated")


async def test_a_page_takes_a_fixed_number_of_queries(
    client: httpx.AsyncClient, db: AsyncSession, app: Any
) -> None:
    """No N+1: the authors' names come with the page, however many poems it has."""

    mark = marker()
    for _ in range(3):
        author = await member(client, db)
        for _ in range(3):
            await publish(client, author, title=mark)
    with counting_queries(app) as statements:
        small = await client.get(f"{API}/poems", params={"q": mark, "limit": 1})
        small_count = len(statements)
        statements.clear()
        large = await client.get(f"{API}/poems", params={"q": mark, "limit": 9})
        large_count = len(statements)

    assert len(small.json()["items"]) == 1
    assert len(large.json()["items"]) == 9
    assert small_count == large_count


# --- demo data -------------------------------------------------------------------------


async def test_seed_adds_demo_poems_and_ratings_once(
    app: Any, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    settings = make_settings()

    await seed(sessionmaker, settings)
    db.expire_all()
    poems = await db.scalar(select(func.count()).select_from(Poem))
    ratings = await db.scalar(select(func.count()).select_from(PoemRating))
    await seed(sessionmaker, settings)
    db.expire_all()

    assert await db.scalar(select(func.count()).select_from(Poem)) == poems
    assert await db.scalar(select(func.count()).select_from(PoemRating)) == ratings
    demo = await all_pages(client, q="Ode to the Off-by-One")
    assert len(demo[0]) == 1
    assert demo[0][0]["ratings_count"] == 2
    assert demo[0][0]["average_score"] == 4.5
