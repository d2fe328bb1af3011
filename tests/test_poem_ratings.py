"""Rating poems: one per member and poem, never one's own, exact averages under races, mail."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.helpers import API, assert_problem, assert_unauthorized, mailed_parts, member, outbox_for
from tests.poem_factories import (
    publish,
    rate,
    rated,
    ratings_rows,
    read_poem,
    stored_aggregates,
)


def mine(poem_id: str) -> str:
    return f"{API}/poems/{poem_id}/ratings/mine"


# --- rating ----------------------------------------------------------------------------


async def test_rating_a_poem_is_201_with_rater_score_and_comment(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db, full_name="Rita Reader")
    poem = await publish(client, author)

    rating = await rated(client, rater, poem["id"], 4, "Lovely rhythm.")

    assert rating["rater"] == {"id": rater.id, "full_name": "Rita Reader"}
    assert rating["rater_id"] == rater.id
    assert rating["poem_id"] == poem["id"]
    assert rating["score"] == 4
    assert rating["comment"] == "Lovely rhythm."
    assert "created_at" in rating
    after = await read_poem(client, poem["id"])
    assert after["average_score"] == 4.0
    assert after["ratings_count"] == 1


async def test_comment_is_optional(client: httpx.AsyncClient, db: AsyncSession) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)

    rating = await rated(client, rater, poem["id"], 3)

    assert rating["comment"] is None


async def test_rating_anonymously_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    response = await client.post(f"{API}/poems/{poem['id']}/ratings", json={"score": 5})

    assert_unauthorized(response, "not_authenticated")


async def test_rating_ones_own_poem_is_403_own_poem(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    response = await rate(client, author, poem["id"], 5)

    assert_problem(response, 403, "own_poem")
    assert await ratings_rows(db, poem_id=poem["id"]) == 0


async def test_second_rating_of_same_poem_is_409_already_rated(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)
    await rated(client, rater, poem["id"], 2)

    response = await rate(client, rater, poem["id"], 5)

    assert_problem(response, 409, "already_rated")
    after = await read_poem(client, poem["id"])
    assert (after["average_score"], after["ratings_count"]) == (2.0, 1)


async def test_ten_racing_ratings_by_one_member_make_exactly_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)

    responses = await asyncio.gather(*(rate(client, rater, poem["id"], 3) for _ in range(10)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "already_rated")
    assert await ratings_rows(db, poem_id=poem["id"]) == 1
    assert await stored_aggregates(db, poem["id"]) == (1, 3, 1, 3)
    assert len(await outbox_for(db, author.email, "poem_rated")) == 1


@pytest.mark.parametrize("score", [0, 6, -1, 2.5, "five", None])
async def test_score_outside_1_to_5_is_422(
    client: httpx.AsyncClient, db: AsyncSession, score: Any
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)

    response = await client.post(
        f"{API}/poems/{poem['id']}/ratings", json={"score": score}, headers=rater.headers
    )

    assert_problem(response, 422, "validation_error")
    assert await ratings_rows(db, poem_id=poem["id"]) == 0


@pytest.mark.parametrize("score", [1, 5])
async def test_scores_1_and_5_are_accepted(
    client: httpx.AsyncClient, db: AsyncSession, score: int
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)

    assert (await rated(client, rater, poem["id"], score))["score"] == score


async def test_comment_longer_than_1000_characters_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)

    too_long = await rate(client, rater, poem["id"], 4, "x" * 1001)
    longest = await rate(client, rater, poem["id"], 4, "x" * 1000)

    assert_problem(too_long, 422, "validation_error")
    assert longest.status_code == 201


async def test_rating_an_unknown_poem_is_404(client: httpx.AsyncClient, db: AsyncSession) -> None:
    rater = await member(client, db)

    assert_problem(await rate(client, rater, str(uuid.uuid4()), 4), 404, "not_found")


# --- averages ----------------------------------------------------------------------------


async def test_average_is_null_until_rated_then_the_mean_rounded_to_2_decimals(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    poem = await publish(client, author)
    assert (await read_poem(client, poem["id"]))["average_score"] is None

    for score in (5, 4, 4):
        await rated(client, await member(client, db), poem["id"], score)

    after = await read_poem(client, poem["id"])
    assert after["average_score"] == 4.33
    assert after["ratings_count"] == 3


async def test_averages_stay_exact_under_a_burst_of_concurrent_ratings(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    raters = [await member(client, db) for _ in range(12)]
    poem = await publish(client, author)
    scores = [(i % 5) + 1 for i in range(len(raters))]

    responses = await asyncio.gather(
        *(rate(client, r, poem["id"], s) for r, s in zip(raters, scores, strict=True))
    )

    assert [r.status_code for r in responses] == [201] * len(raters)
    after = await read_poem(client, poem["id"])
    assert after["ratings_count"] == len(raters)
    assert after["average_score"] == round(sum(scores) / len(scores), 2)
    assert await stored_aggregates(db, poem["id"]) == (12, sum(scores), 12, sum(scores))

    # Everyone changes their rating at once, and half withdraw at once too.
    changes = await asyncio.gather(
        *(client.patch(mine(poem["id"]), json={"score": 5}, headers=r.headers) for r in raters[:6]),
        *(client.delete(mine(poem["id"]), headers=r.headers) for r in raters[6:]),
    )

    assert [r.status_code for r in changes] == [200] * 6 + [204] * 6
    final = await read_poem(client, poem["id"])
    assert (final["average_score"], final["ratings_count"]) == (5.0, 6)
    assert await stored_aggregates(db, poem["id"]) == (6, 30, 6, 30)


# --- changing and withdrawing ----------------------------------------------------------


async def test_rater_changes_their_rating_and_the_average_follows(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    other = await member(client, db)
    poem = await publish(client, author)
    original = await rated(client, rater, poem["id"], 1, "Meh.")
    await rated(client, other, poem["id"], 5)

    response = await client.patch(mine(poem["id"]), json={"score": 4}, headers=rater.headers)

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["id"] == original["id"]
    assert changed["score"] == 4
    assert changed["comment"] == "Meh."  # left out: unchanged
    assert changed["rater"]["id"] == rater.id
    assert (await read_poem(client, poem["id"]))["average_score"] == 4.5

    cleared = await client.patch(mine(poem["id"]), json={"comment": None}, headers=rater.headers)

    assert cleared.json()["comment"] is None
    assert cleared.json()["score"] == 4


async def test_changing_a_rating_to_an_invalid_score_is_422(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)
    await rated(client, rater, poem["id"], 3)

    response = await client.patch(mine(poem["id"]), json={"score": 6}, headers=rater.headers)

    assert_problem(response, 422, "validation_error")


async def test_rater_withdraws_their_rating_and_may_rate_again(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)
    await rated(client, rater, poem["id"], 2)

    response = await client.delete(mine(poem["id"]), headers=rater.headers)

    assert response.status_code == 204
    after = await read_poem(client, poem["id"])
    assert (after["average_score"], after["ratings_count"]) == (None, 0)
    await rated(client, rater, poem["id"], 5)
    assert (await read_poem(client, poem["id"]))["average_score"] == 5.0


async def test_changing_or_withdrawing_without_a_rating_is_404(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db)
    poem = await publish(client, author)

    patch = await client.patch(mine(poem["id"]), json={"score": 3}, headers=rater.headers)
    delete = await client.delete(mine(poem["id"]), headers=rater.headers)

    assert_problem(patch, 404, "not_found")
    assert_problem(delete, 404, "not_found")


async def test_changing_or_withdrawing_anonymously_is_401(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    assert_unauthorized(
        await client.patch(mine(poem["id"]), json={"score": 3}), "not_authenticated"
    )
    assert_unauthorized(await client.delete(mine(poem["id"])), "not_authenticated")


# --- the author is told ----------------------------------------------------------------


async def test_each_new_rating_queues_one_message_for_the_author_and_edits_none(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    rater = await member(client, db, full_name="Rita Reader")
    second = await member(client, db, full_name="Sam Second")
    poem = await publish(client, author, title="Autumn Leaves")

    await rated(client, rater, poem["id"], 4, "Beautiful imagery.")
    await client.patch(
        mine(poem["id"]), json={"score": 5, "comment": "Even better"}, headers=rater.headers
    )
    await rated(client, second, poem["id"], 2)

    messages = await outbox_for(db, author.email, "poem_rated")
    assert len(messages) == 2
    first = messages[0]
    assert first.user_id == uuid.UUID(author.id)
    assert "Autumn Leaves" in first.subject
    assert first.payload["poem_title"] == "Autumn Leaves"
    assert first.payload["score"] == 4
    assert first.payload["comment"] == "Beautiful imagery."
    assert first.payload["rater_name"] == "Rita Reader"
    for text in ("Autumn Leaves", "Rita Reader", "4", "Beautiful imagery."):
        assert text in mailed_parts(first)["text"]
    assert messages[1].payload["rater_name"] == "Sam Second"
    assert messages[1].payload["comment"] is None
    assert await outbox_for(db, rater.email, "poem_rated") == []


async def test_a_refused_rating_queues_no_message(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    await rate(client, author, poem["id"], 5)

    assert await outbox_for(db, author.email, "poem_rated") == []


# --- listing ratings -------------------------------------------------------------------


async def test_anyone_lists_a_poems_ratings_newest_first_across_pages(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    author = await member(client, db)
    poem = await publish(client, author)
    raters = [await member(client, db, full_name=f"Rater {i}") for i in range(5)]
    made = [await rated(client, r, poem["id"], (i % 5) + 1, f"c{i}") for i, r in enumerate(raters)]

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/poems/{poem['id']}/ratings", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 2
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    expected = sorted(made, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    assert [r["id"] for r in seen] == [r["id"] for r in expected]
    assert seen[0]["rater"]["full_name"].startswith("Rater ")
    assert {"id", "rater", "rater_id", "score", "comment", "created_at"} <= seen[0].keys()


@pytest.mark.parametrize("limit", [0, 101])
async def test_ratings_list_limit_outside_1_to_100_is_422(
    client: httpx.AsyncClient, db: AsyncSession, limit: int
) -> None:
    author = await member(client, db)
    poem = await publish(client, author)

    response = await client.get(f"{API}/poems/{poem['id']}/ratings", params={"limit": limit})

    assert_problem(response, 422, "validation_error")
