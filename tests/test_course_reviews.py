"""`POST /courses/{id}/reviews`: enrolled students only, once each, averages exact under races."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import create_course, enroll, walk
from tests.helpers import API, Member, assert_problem, assert_unauthorized, member
from tests.purchasing import buy


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


# --- own courses and refunds ----------------------------------------------------------


async def test_instructor_reviewing_their_own_course_is_403_own_course_even_when_enrolled(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana, price_cents=0)
    await enroll(db, ana, course["id"])  # however they came to own it

    assert_problem(await review(client, ana, course["id"], 5), 403, "own_course")
    read = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert (read["reviews_count"], read["average_score"]) == (0, None)


async def refund(client: httpx.AsyncClient, admin: Member, purchase_id: str) -> None:
    response = await client.post(f"{API}/purchases/{purchase_id}/refund", headers=admin.headers)
    assert response.status_code == 200, response.text


async def bought(client: httpx.AsyncClient, buyer: Member, course_id: str) -> str:
    response = await buy(client, buyer, ("course", course_id))
    assert response.status_code == 201, response.text
    purchase_id: str = response.json()["id"]
    return purchase_id


async def test_refund_removes_the_buyers_review_from_reads_lists_and_rating_sort(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    gone, stays = await member(client, db), await member(client, db)
    course = await create_course(client, ana)
    rival = await create_course(client, ana)
    purchase_id = await bought(client, gone, course["id"])
    await bought(client, stays, course["id"])
    await bought(client, stays, rival["id"])
    assert (await review(client, gone, course["id"], 5)).status_code == 201
    assert (await review(client, stays, course["id"], 1)).status_code == 201
    assert (await review(client, stays, rival["id"], 2)).status_code == 201
    ranked = await walk(client, "/courses", {"instructor_id": ana.id, "sort": "rating"})
    assert [c["id"] for c in ranked] == [course["id"], rival["id"]]  # 3.0 before 2.0

    await refund(client, admin, purchase_id)

    read = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert (read["reviews_count"], read["average_score"]) == (1, 1.0)
    reviews = await walk(client, f"/courses/{course['id']}/reviews", {})
    assert [r["author"]["id"] for r in reviews] == [stays.id]
    ranked = await walk(client, "/courses", {"instructor_id": ana.id, "sort": "rating"})
    assert [(c["id"], c["average_score"], c["reviews_count"]) for c in ranked] == [
        (rival["id"], 2.0, 1),
        (course["id"], 1.0, 1),
    ]


async def test_refund_of_the_only_review_leaves_no_score_and_buying_again_allows_a_review(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    student = await member(client, db)
    course = await create_course(client, ana)
    first = await bought(client, student, course["id"])
    assert (await review(client, student, course["id"], 4)).status_code == 201

    await refund(client, admin, first)

    read = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert (read["reviews_count"], read["average_score"]) == (0, None)
    assert_problem(await review(client, student, course["id"], 4), 403, "not_enrolled")
    await bought(client, student, course["id"])
    again = await review(client, student, course["id"], 2)
    assert again.status_code == 201, again.text
    read = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert (read["reviews_count"], read["average_score"]) == (1, 2.0)


async def test_review_racing_the_refund_never_survives_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    course = await create_course(client, ana)
    for _ in range(3):
        student = await member(client, db)
        purchase_id = await bought(client, student, course["id"])

        posted, refunded = await asyncio.gather(
            review(client, student, course["id"], 5),
            client.post(f"{API}/purchases/{purchase_id}/refund", headers=admin.headers),
        )

        assert refunded.status_code == 200, refunded.text
        assert posted.status_code in (201, 403), posted.text
    read = (await client.get(f"{API}/courses/{course['id']}")).json()
    assert (read["reviews_count"], read["average_score"]) == (0, None)
    assert await walk(client, f"/courses/{course['id']}/reviews", {}) == []
