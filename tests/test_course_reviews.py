"""`POST /courses/{id}/reviews`: enrolled students only, once each, averages exact under races."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import create_course, enroll, walk
from tests.helpers import API, Member, assert_problem, assert_unauthorized, member


async def review(
    client: httpx.AsyncClient, who: Member, course_id: str, score: int, comment: str = ""
) -> httpx.Response:
    return await client.post(
        f"{API}/courses/{course_id}/reviews",
        json={"score": score, "comment": comment},
        headers=who.headers,
    )


async def test_enrolled_student_reviews_a_course_and_its_score_follows(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    first = await member(client, db, full_name="First Student")
    second = await member(client, db)
    course = await create_course(client, ana)
    await enroll(db, first, course["id"])
    await enroll(db, second, course["id"])

    response = await review(client, first, course["id"], 4, "Clear and practical.")
    assert (await review(client, second, course["id"], 5)).status_code == 201

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["score"] == 4
    assert body["comment"] == "Clear and practical."
    assert body["author"] == {"id": first.id, "full_name": "First Student"}
    updated = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert updated["reviews_count"] == 2
    assert updated["average_score"] == 4.5
    reviews = await walk(client, f"/courses/{course['id']}/reviews", {"limit": 1})
    assert [r["score"] for r in reviews] == [5, 4]


async def test_student_not_enrolled_may_not_review(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    stranger = await member(client, db)
    course = await create_course(client, ana)

    assert_problem(await review(client, stranger, course["id"], 5), 403, "not_enrolled")
    assert (await client.get(f"{API}/courses/{course['id']}")).json()["reviews_count"] == 0


async def test_anonymous_review_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    response = await client.post(f"{API}/courses/{course['id']}/reviews", json={"score": 5})
    assert_unauthorized(response, "not_authenticated")


async def test_second_review_by_the_same_student_is_409(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    await enroll(db, student, course["id"])
    assert (await review(client, student, course["id"], 2)).status_code == 201

    assert_problem(await review(client, student, course["id"], 5), 409, "already_reviewed")

    updated = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert (updated["reviews_count"], updated["average_score"]) == (1, 2.0)


async def test_concurrent_reviews_by_one_student_make_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    await enroll(db, student, course["id"])

    responses = await asyncio.gather(*(review(client, student, course["id"], 5) for _ in range(8)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 7, statuses
    assert (await client.get(f"{API}/courses/{course['id']}")).json()["reviews_count"] == 1


async def test_concurrent_reviews_by_many_students_keep_the_average_exact(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    scores = [1, 2, 3, 4, 5, 5, 4, 3, 5, 1, 2, 5]
    students = [await member(client, db) for _ in scores]
    for student in students:
        await enroll(db, student, course["id"])

    responses = await asyncio.gather(
        *(review(client, s, course["id"], score) for s, score in zip(students, scores, strict=True))
    )

    assert [response.status_code for response in responses] == [201] * len(scores)
    updated = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert updated["reviews_count"] == len(scores)
    assert updated["average_score"] == round(sum(scores) / len(scores), 2)


@pytest.mark.parametrize("body", [{"score": 0}, {"score": 6}, {"score": 4.5}, {"score": "5"}, {}])
async def test_review_score_outside_one_to_five_is_422(
    client: httpx.AsyncClient, db: AsyncSession, body: dict[str, object]
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    await enroll(db, student, course["id"])

    response = await client.post(
        f"{API}/courses/{course['id']}/reviews", json=body, headers=student.headers
    )

    assert_problem(response, 422, "validation_error")
