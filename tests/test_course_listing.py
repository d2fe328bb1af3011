"""`GET /courses` and `GET /tags`: filters, sorts and keyset pages with no duplicates or gaps."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import create_course, enroll, walk
from tests.helpers import API, assert_problem, counting_queries, member


def unique_tag() -> str:
    return f"tag-{uuid.uuid4().hex[:10]}"


async def test_listing_shows_only_published_courses_with_their_card_fields(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor", full_name="Ana Torres")
    tag = unique_tag()
    shown = await create_course(client, ana, tags=[tag, "python"])
    await create_course(client, ana, tags=[tag], published=False)

    page = (await client.get(f"{API}/courses", params={"tag": tag})).json()

    assert [item["id"] for item in page["items"]] == [shown["id"]]
    assert page["next_cursor"] is None
    item = page["items"][0]
    assert item["instructor"] == {"id": ana.id, "full_name": "Ana Torres"}
    assert item["tags"] == sorted([tag, "python"])
    assert "lessons" not in item


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"level": "advanced"}, {"go-adv"}),
        ({"min_price": 15000}, {"go-adv", "rust-int"}),
        ({"max_price": 15000}, {"py-beg", "rust-int"}),
        ({"min_price": 15000, "max_price": 15000}, {"rust-int"}),
        ({"q": "ownership"}, {"rust-int"}),
        ({"q": "goroutines"}, {"go-adv"}),
    ],
)
async def test_filters_narrow_the_listing(
    client: httpx.AsyncClient, db: AsyncSession, params: dict[str, Any], expected: set[str]
) -> None:
    ana = await member(client, db, role="instructor")
    titles = {
        "py-beg": {"price_cents": 5000, "level": "beginner", "description": "Variables and loops"},
        "rust-int": {"price_cents": 15000, "level": "intermediate", "description": "Ownership"},
        "go-adv": {"price_cents": 40000, "level": "advanced", "description": "Goroutines"},
    }
    for title, fields in titles.items():
        await create_course(client, ana, title=title, **fields)

    items = await walk(client, "/courses", {"instructor_id": ana.id, **params})

    assert {item["title"] for item in items} == expected


async def test_tag_filter_ignores_case(client: httpx.AsyncClient, db: AsyncSession) -> None:
    ana = await member(client, db, role="instructor")
    tag = unique_tag()
    course = await create_course(client, ana, tags=[tag])
    items = await walk(client, "/courses", {"tag": tag.upper()})
    assert [item["id"] for item in items] == [course["id"]]


async def test_listing_finds_a_course_by_its_new_tags_and_title_after_a_change(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    old_tag, new_tag, word = unique_tag(), unique_tag(), f"zq{uuid.uuid4().hex[:8]}"
    course = await create_course(client, ana, tags=[old_tag, "python"])

    response = await client.patch(
        f"{API}/courses/{course['id']}",
        json={"title": f"All about {word}", "tags": [new_tag, "python"]},
        headers=ana.headers,
    )
    assert response.status_code == 200, response.text

    assert await walk(client, "/courses", {"tag": old_tag}) == []
    by_tag = await walk(client, "/courses", {"tag": new_tag})
    assert [item["id"] for item in by_tag] == [course["id"]]
    assert by_tag[0]["tags"] == sorted([new_tag, "python"])
    by_word = await walk(client, "/courses", {"q": word, "instructor_id": ana.id})
    assert [item["id"] for item in by_word] == [course["id"]]
    page = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert page["tags"] == sorted([new_tag, "python"])


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"level": "expert"},
        {"sort": "oldest"},
        {"min_price": -1},
        {"instructor_id": "nobody"},
    ],
)
async def test_bad_listing_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    assert_problem(await client.get(f"{API}/courses", params=params), 422, "validation_error")


async def test_a_cursor_of_one_sort_is_refused_by_another(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    for _ in range(3):
        await create_course(client, ana)
    first = await client.get(f"{API}/courses", params={"instructor_id": ana.id, "limit": 1})
    cursor = first.json()["next_cursor"]
    assert cursor

    response = await client.get(f"{API}/courses", params={"sort": "price", "cursor": cursor})

    assert_problem(response, 422, "invalid_cursor")


def expected_order(courses: list[dict[str, Any]], sort: str) -> list[str]:
    """The contract's order, ties broken by id, computed independently of the service."""
    by_id = sorted(courses, key=lambda c: c["id"])
    if sort == "price":
        ordered = sorted(sorted(courses, key=lambda c: c["id"]), key=lambda c: c["price_cents"])
    elif sort == "-price":
        ordered = sorted(by_id, key=lambda c: (c["price_cents"], c["id"]), reverse=True)
    elif sort == "newest":
        ordered = sorted(by_id, key=lambda c: (c["created_at"], c["id"]), reverse=True)
    else:
        raise AssertionError(sort)
    return [course["id"] for course in ordered]


@pytest.mark.parametrize("sort", ["newest", "price", "-price"])
async def test_pages_through_hundreds_of_courses_with_every_filter_have_no_duplicates_or_gaps(
    client: httpx.AsyncClient, db: AsyncSession, sort: str
) -> None:
    rng = random.Random(sort)
    ana = await member(client, db, role="instructor")
    tag = unique_tag()
    matching: list[dict[str, Any]] = []
    for i in range(230):
        level = rng.choice(["beginner", "intermediate", "advanced"])
        # Few distinct prices, so many ties that only the id can break.
        price = rng.choice([15000, 35000, 40000, 35000, 100000])
        tags = [tag] if rng.random() < 0.8 else ["other"]
        published = rng.random() < 0.9
        course = await create_course(
            client,
            ana,
            title=f"Kubernetes in practice {i}",
            description="Clusters, pods and deployments.",
            level=level,
            price_cents=price,
            tags=tags,
            published=published,
        )
        if published and tag in tags and level != "advanced" and 15000 <= price <= 40000:
            matching.append(course)
    assert len(matching) > 60

    params: dict[str, Any] = {
        "q": "kubernetes",
        "tag": tag,
        "level": "intermediate",
        "instructor_id": ana.id,
        "min_price": 15000,
        "max_price": 40000,
        "sort": sort,
        "limit": 9,
    }
    seen: list[str] = []
    for level in ("beginner", "intermediate"):
        seen += [item["id"] for item in await walk(client, "/courses", {**params, "level": level})]

    assert len(seen) == len(set(seen))
    expected = {
        level: expected_order([c for c in matching if c["level"] == level], sort)
        for level in ("beginner", "intermediate")
    }
    assert seen == expected["beginner"] + expected["intermediate"]


async def test_rating_sort_puts_the_best_rated_first_and_unrated_last(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    tag = unique_tag()
    courses = [await create_course(client, ana, tags=[tag]) for _ in range(3)]
    scores = {courses[0]["id"]: 3, courses[1]["id"]: 5}
    for course_id, score in scores.items():
        student = await member(client, db)
        await enroll(db, student, course_id)
        response = await client.post(
            f"{API}/courses/{course_id}/reviews", json={"score": score}, headers=student.headers
        )
        assert response.status_code == 201, response.text

    items = await walk(client, "/courses", {"tag": tag, "sort": "rating", "limit": 1})

    assert [item["id"] for item in items] == [courses[1]["id"], courses[0]["id"], courses[2]["id"]]
    assert [item["average_score"] for item in items] == [5.0, 3.0, None]


async def test_pages_stay_whole_when_courses_are_added_while_paging(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    tag = unique_tag()
    before = [await create_course(client, ana, tags=[tag]) for _ in range(12)]

    first = (await client.get(f"{API}/courses", params={"tag": tag, "limit": 5})).json()
    for _ in range(4):
        await create_course(client, ana, tags=[tag])
    rest = await walk(client, "/courses", {"tag": tag, "limit": 5, "cursor": first["next_cursor"]})

    seen = [item["id"] for item in first["items"] + rest]
    assert seen == expected_order(before, "newest")


async def test_a_page_costs_the_same_few_queries_whatever_its_size(
    app: FastAPI, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    tag = unique_tag()
    for _ in range(3):
        teacher = await member(client, db, role="instructor")
        for _ in range(10):
            await create_course(client, teacher, tags=[tag, unique_tag()])

    with counting_queries(app) as small:
        small_page = await client.get(f"{API}/courses", params={"tag": tag, "limit": 2})
    with counting_queries(app) as large:
        large_page = await client.get(f"{API}/courses", params={"tag": tag, "limit": 30})

    assert len(small_page.json()["items"]) == 2
    assert len(large_page.json()["items"]) == 30
    assert len({item["instructor"]["id"] for item in large_page.json()["items"]}) == 3
    selects = [s for s in large if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 3, selects
    assert len(large) == len(small), (small, large)


async def test_tags_count_published_courses_only(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    busy, quiet, hidden = (f"{prefix}-{uuid.uuid4().hex[:8]}" for prefix in ("a", "b", "c"))
    await create_course(client, ana, tags=[busy, quiet])
    await create_course(client, ana, tags=[busy])
    await create_course(client, ana, tags=[busy, hidden], published=False)

    tags = {
        tag["name"]: tag["courses_count"] for tag in await walk(client, "/tags", {"limit": 100})
    }

    assert tags[busy] == 2
    assert tags[quiet] == 1
    assert hidden not in tags
