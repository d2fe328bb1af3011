"""`/courses`: who may create, see, change and delete a course, and what is validated."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import add_lesson, course_body, create_course, enroll
from tests.helpers import API, assert_problem, assert_unauthorized, member

COURSE_FIELDS = {
    "id",
    "title",
    "description",
    "price_cents",
    "currency",
    "level",
    "tags",
    "published",
    "archived",
    "instructor",
    "average_score",
    "reviews_count",
    "created_at",
    "updated_at",
}


async def test_instructor_creates_a_course_and_is_its_instructor(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor", full_name="Ana Torres")

    response = await client.post(
        f"{API}/courses",
        json=course_body(title="Async Python", tags=["Python", "python ", "AsyncIO"]),
        headers=ana.headers,
    )

    assert response.status_code == 201, response.text
    course = response.json()
    assert COURSE_FIELDS | {"lessons"} <= course.keys()
    assert course["instructor"] == {"id": ana.id, "full_name": "Ana Torres"}
    assert course["title"] == "Async Python"
    assert course["price_cents"] == 35000
    assert course["currency"] == "USD"
    assert course["tags"] == ["asyncio", "python"]
    assert course["average_score"] is None
    assert course["reviews_count"] == 0
    assert course["archived"] is False
    assert course["lessons"] == []
    assert response.headers["location"] == f"{API}/courses/{course['id']}"


async def test_admin_may_create_a_course(client: httpx.AsyncClient, db: AsyncSession) -> None:
    admin = await member(client, db, role="admin")
    course = await create_course(client, admin)
    assert course["instructor"]["id"] == admin.id


async def test_a_course_starts_as_a_draft_unless_published(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    body = course_body()
    del body["published"]

    response = await client.post(f"{API}/courses", json=body, headers=ana.headers)

    assert response.status_code == 201, response.text
    assert response.json()["published"] is False


async def test_student_may_not_create_a_course(client: httpx.AsyncClient, db: AsyncSession) -> None:
    student = await member(client, db)
    response = await client.post(f"{API}/courses", json=course_body(), headers=student.headers)
    assert_problem(response, 403, "forbidden")


async def test_anonymous_caller_gets_401_not_403(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/courses", json=course_body())
    assert_unauthorized(response, "not_authenticated")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price_cents", -1),
        ("price_cents", 10.5),
        ("price_cents", "350"),
        ("price_cents", 100_000_001),
        ("level", "expert"),
        ("title", ""),
        ("title", "   "),
        ("title", "x" * 201),
        ("description", "x" * 20_001),
        ("currency", "XYZ"),
        ("currency", "dollars"),
        ("tags", ["t"] * 0 + [f"tag{i}" for i in range(21)]),
        ("tags", ["x" * 51]),
    ],
)
async def test_invalid_course_is_422_and_creates_nothing(
    client: httpx.AsyncClient, db: AsyncSession, field: str, value: object
) -> None:
    ana = await member(client, db, role="instructor")

    response = await client.post(
        f"{API}/courses", json=course_body(**{field: value}), headers=ana.headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][:2] == ["body", field] for error in body["errors"]), body
    listing = await client.get(f"{API}/courses", params={"instructor_id": ana.id})
    assert listing.json()["items"] == []


async def test_currency_is_normalised_to_upper_case(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana, currency="eur")
    assert course["currency"] == "EUR"


# --- visibility -----------------------------------------------------------------------


async def test_draft_is_404_to_everyone_but_its_instructor_and_admins(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    student = await member(client, db)
    admin = await member(client, db, role="admin")
    draft = await create_course(client, ana, published=False)
    path = f"{API}/courses/{draft['id']}"

    assert_problem(await client.get(path), 404, "not_found")
    assert_problem(await client.get(path, headers=student.headers), 404, "not_found")
    assert_problem(await client.get(path, headers=other.headers), 404, "not_found")
    assert (await client.get(path, headers=ana.headers)).status_code == 200
    assert (await client.get(path, headers=admin.headers)).status_code == 200
    listing = await client.get(f"{API}/courses", params={"instructor_id": ana.id})
    assert listing.json()["items"] == []


async def test_unknown_course_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/courses/00000000-0000-4000-8000-000000000000")
    assert_problem(response, 404, "not_found")


async def test_malformed_course_id_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(f"{API}/courses/not-a-uuid"), 422, "validation_error")


# --- changing ---------------------------------------------------------------------------


async def test_instructor_updates_own_course_partially(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana, published=False, tags=["go"])

    response = await client.patch(
        f"{API}/courses/{course['id']}",
        json={"price_cents": 15000, "published": True, "tags": ["Go", "Concurrency"]},
        headers=ana.headers,
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["price_cents"] == 15000
    assert updated["published"] is True
    assert updated["tags"] == ["concurrency", "go"]
    assert updated["title"] == course["title"]
    assert updated["updated_at"] >= course["updated_at"]
    assert (await client.get(f"{API}/courses/{course['id']}")).status_code == 200


async def test_only_the_instructor_or_an_admin_may_change_a_course(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    student = await member(client, db)
    admin = await member(client, db, role="admin")
    course = await create_course(client, ana)
    path = f"{API}/courses/{course['id']}"

    assert_unauthorized(await client.patch(path, json={"title": "x"}), "not_authenticated")
    assert_problem(
        await client.patch(path, json={"title": "x"}, headers=student.headers), 403, "forbidden"
    )
    assert_problem(
        await client.patch(path, json={"title": "x"}, headers=other.headers), 403, "forbidden"
    )
    response = await client.patch(path, json={"title": "By admin"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "By admin"
    assert response.json()["instructor"]["id"] == ana.id


async def test_invalid_update_is_422_and_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)

    response = await client.patch(
        f"{API}/courses/{course['id']}",
        json={"title": "New title", "price_cents": -5},
        headers=ana.headers,
    )

    assert_problem(response, 422, "validation_error")
    assert (await client.get(f"{API}/courses/{course['id']}")).json()["title"] == course["title"]


async def test_deleting_an_unbought_course_removes_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    await add_lesson(client, ana, course["id"], 1)

    response = await client.delete(f"{API}/courses/{course['id']}", headers=ana.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(
        await client.get(f"{API}/courses/{course['id']}", headers=ana.headers), 404, "not_found"
    )


async def test_deleting_a_bought_course_archives_it_and_buyers_keep_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    buyer = await member(client, db)
    outsider = await member(client, db)
    course = await create_course(client, ana)
    lesson = await add_lesson(client, ana, course["id"], 1)
    await enroll(db, buyer, course["id"])

    response = await client.delete(f"{API}/courses/{course['id']}", headers=ana.headers)

    assert response.status_code == 204
    path = f"{API}/courses/{course['id']}"
    seen_by_buyer = await client.get(path, headers=buyer.headers)
    assert seen_by_buyer.status_code == 200
    assert seen_by_buyer.json()["archived"] is True
    lesson_path = f"{path}/lessons/{lesson['id']}"
    assert (await client.get(lesson_path, headers=buyer.headers)).status_code == 200
    assert_problem(await client.get(path, headers=outsider.headers), 404, "not_found")
    assert_problem(await client.get(path), 404, "not_found")
    listing = await client.get(f"{API}/courses", params={"instructor_id": ana.id})
    assert listing.json()["items"] == []


async def test_only_the_instructor_or_an_admin_may_delete_a_course(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    student = await member(client, db)
    admin = await member(client, db, role="admin")
    course = await create_course(client, ana)
    path = f"{API}/courses/{course['id']}"

    assert_unauthorized(await client.delete(path), "not_authenticated")
    assert_problem(await client.delete(path, headers=student.headers), 403, "forbidden")
    assert_problem(await client.delete(path, headers=other.headers), 403, "forbidden")
    assert (await client.get(path)).status_code == 200
    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert_problem(await client.get(path), 404, "not_found")


# --- lessons ----------------------------------------------------------------------------


async def test_outline_is_public_and_ordered_by_position_without_content(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    await add_lesson(client, ana, course["id"], 2, title="Second")
    await add_lesson(client, ana, course["id"], 1, title="First")

    response = await client.get(f"{API}/courses/{course['id']}")

    assert response.status_code == 200
    lessons = response.json()["lessons"]
    assert [lesson["title"] for lesson in lessons] == ["First", "Second"]
    assert all(set(lesson) == {"id", "title", "position"} for lesson in lessons)


async def test_a_course_reads_the_same_in_its_answer_the_listing_and_its_page(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor", full_name="Ana Torres")
    course = await create_course(client, ana, tags=["web", "python", "asyncio"])
    lesson = await add_lesson(client, ana, course["id"], 3, title="Third")
    await add_lesson(client, ana, course["id"], 1, title="First")
    changed = await client.patch(
        f"{API}/courses/{course['id']}", json={"price_cents": 1999}, headers=ana.headers
    )
    assert changed.status_code == 200, changed.text
    answer = changed.json()

    page = await client.get(f"{API}/courses/{course['id']}")
    listed = await client.get(f"{API}/courses", params={"instructor_id": ana.id})

    assert page.status_code == 200
    assert page.json() == answer
    assert [lesson["title"] for lesson in answer["lessons"]] == ["First", "Third"]
    assert answer["lessons"][1] == {"id": lesson["id"], "title": "Third", "position": 3}
    assert answer["tags"] == ["asyncio", "python", "web"]
    card = {key: value for key, value in answer.items() if key != "lessons"}
    assert listed.json()["items"] == [card]


async def test_lesson_content_is_for_enrolled_students_the_instructor_and_admins(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    enrolled = await member(client, db)
    stranger = await member(client, db)
    admin = await member(client, db, role="admin")
    course = await create_course(client, ana)
    lesson = await add_lesson(client, ana, course["id"], 1, content="The secret sauce.")
    await enroll(db, enrolled, course["id"])
    path = f"{API}/courses/{course['id']}/lessons/{lesson['id']}"

    for allowed in (enrolled, ana, admin):
        response = await client.get(path, headers=allowed.headers)
        assert response.status_code == 200, response.text
        assert response.json()["content"] == "The secret sauce."
    assert_problem(await client.get(path, headers=stranger.headers), 403, "not_enrolled")
    assert_problem(await client.get(path, headers=other.headers), 403, "not_enrolled")
    assert_unauthorized(await client.get(path), "not_authenticated")


async def test_lesson_of_another_course_is_404(client: httpx.AsyncClient, db: AsyncSession) -> None:
    ana = await member(client, db, role="instructor")
    first = await create_course(client, ana)
    second = await create_course(client, ana)
    lesson = await add_lesson(client, ana, first["id"], 1)

    response = await client.get(
        f"{API}/courses/{second['id']}/lessons/{lesson['id']}", headers=ana.headers
    )

    assert_problem(response, 404, "not_found")


async def test_two_lessons_may_not_share_a_position(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    await add_lesson(client, ana, course["id"], 1)

    response = await client.post(
        f"{API}/courses/{course['id']}/lessons",
        json={"title": "Again", "content": "", "position": 1},
        headers=ana.headers,
    )

    assert_problem(response, 409, "position_taken")
    assert len((await client.get(f"{API}/courses/{course['id']}")).json()["lessons"]) == 1


async def test_only_the_instructor_or_an_admin_may_add_lessons(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    other = await member(client, db, role="instructor")
    student = await member(client, db)
    admin = await member(client, db, role="admin")
    course = await create_course(client, ana)
    path = f"{API}/courses/{course['id']}/lessons"
    body = {"title": "Intro", "content": "Hello", "position": 1}

    assert_unauthorized(await client.post(path, json=body), "not_authenticated")
    assert_problem(await client.post(path, json=body, headers=student.headers), 403, "forbidden")
    assert_problem(await client.post(path, json=body, headers=other.headers), 403, "forbidden")
    assert (await client.post(path, json=body, headers=admin.headers)).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "content": "x", "position": 1},
        {"title": "Intro", "content": "x", "position": -1},
        {"title": "Intro", "content": "x", "position": "first"},
        {"title": "Intro", "content": "x" * 20_001, "position": 1},
        {"title": "Intro", "content": "x"},
    ],
)
async def test_invalid_lesson_is_422(
    client: httpx.AsyncClient, db: AsyncSession, body: dict[str, object]
) -> None:
    ana = await member(client, db, role="instructor")
    course = await create_course(client, ana)
    response = await client.post(
        f"{API}/courses/{course['id']}/lessons", json=body, headers=ana.headers
    )
    assert_problem(response, 422, "validation_error")


# --- instructor profile -----------------------------------------------------------------


async def test_instructor_profile_lists_only_published_courses(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    published = await create_course(client, ana, title="Published one")
    await create_course(client, ana, title="Draft one", published=False)

    response = await client.get(f"{API}/instructors/{ana.id}")

    assert response.status_code == 200
    courses = response.json()["courses"]
    assert [course["id"] for course in courses] == [published["id"]]
    assert "email" not in response.text
