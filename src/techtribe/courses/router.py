"""`/courses` and `/tags`: the catalog, lessons and reviews."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from techtribe.auth.dependencies import CurrentUser, Instructor, OptionalAuth, Viewer
from techtribe.courses import catalog, enrollments, service
from techtribe.courses.models import Level
from techtribe.courses.schemas import (
    CourseCreate,
    CourseDetail,
    CourseRead,
    CourseUpdate,
    InstructorProfile,
    LessonCreate,
    LessonRead,
    OwnedCourse,
    ReviewCreate,
    ReviewRead,
    TagCount,
)
from techtribe.db import ReadConnections, ReadSessions, SessionDep
from techtribe.money import MAX_PRICE_CENTS
from techtribe.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(tags=["courses"])

# Not `PriceCents`: that one is strict for JSON bodies, and a query string is always text.
PriceQuery = Annotated[
    int | None, Field(ge=0, le=MAX_PRICE_CENTS, description="Inclusive, in minor units.")
]


class CourseQuery(BaseModel):
    """The listing's query string: one model, validated in one pass (the busiest route; ten
    parameters one by one cost a sixth of its framework time). /docs lists each one."""

    q: Annotated[
        str | None, Field(max_length=200, description="Words in title or description.")
    ] = None
    tag: Annotated[str | None, Field(max_length=50)] = None
    level: Level | None = None
    instructor_id: uuid.UUID | None = None
    min_price: PriceQuery = None
    max_price: PriceQuery = None
    sort: Literal["newest", "price", "-price", "rating"] = "newest"
    limit: Annotated[int, Field(ge=1, le=100, description="Page size, 1 to 100.")] = 20
    cursor: Annotated[
        str | None,
        Field(
            max_length=512,
            description="`next_cursor` of the previous page; omit for the first page.",
        ),
    ] = None


@router.get("/courses", response_model=Page[CourseRead])
async def list_courses(reads: ReadConnections, query: Annotated[CourseQuery, Query()]) -> Any:
    """Published courses, filtered and sorted, one keyset page at a time."""
    filters = catalog.CourseFilters(
        query.q, query.tag, query.level, query.instructor_id, query.min_price, query.max_price
    )
    async with reads() as connection:
        items, next_cursor = await catalog.list_courses(
            connection, filters, sort=query.sort, limit=query.limit, cursor=query.cursor
        )
    return catalog.CatalogJSON({"items": items, "next_cursor": next_cursor})


@router.post("/courses", status_code=status.HTTP_201_CREATED, response_model=CourseDetail)
async def create_course(
    body: CourseCreate, user: Instructor, session: SessionDep, response: Response
) -> Any:
    """A new course (a draft unless `published: true`); the caller is its instructor."""
    course = await service.create_course(session, instructor=user, data=body)
    response.headers["Location"] = f"/api/v1/courses/{course.id}"
    return course


@router.get("/courses/{course_id}", response_model=CourseDetail)
async def read_course(course_id: uuid.UUID, reads: ReadConnections, auth: OptionalAuth) -> Any:
    """A course with its lesson outline (titles only)."""
    async with reads() as connection:
        course = await catalog.course_detail(connection, course_id, auth.user if auth else None)
    return catalog.CatalogJSON(course)


@router.patch("/courses/{course_id}", response_model=CourseDetail)
async def update_course(
    course_id: uuid.UUID, body: CourseUpdate, user: Instructor, session: SessionDep
) -> Any:
    course = await service.owned_course(session, course_id, user)
    return await service.update_course(session, course, body)


@router.delete("/courses/{course_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_course(course_id: uuid.UUID, user: Instructor, session: SessionDep) -> Response:
    """Delete a course; one that anybody bought is archived instead (buyers keep it)."""
    course = await service.owned_course(session, course_id, user)
    await service.delete_course(session, course)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/courses/{course_id}/lessons", status_code=status.HTTP_201_CREATED, response_model=LessonRead
)
async def add_lesson(
    course_id: uuid.UUID, body: LessonCreate, user: Instructor, session: SessionDep
) -> Any:
    course = await service.owned_course(session, course_id, user)
    return await service.add_lesson(session, course, body)


@router.get(
    "/courses/{course_id}/lessons/{lesson_id}",
    response_model=LessonRead,
    responses={403: {"description": "Not enrolled in this course (`not_enrolled`)."}},
)
async def read_lesson(
    course_id: uuid.UUID, lesson_id: uuid.UUID, user: Viewer, reads: ReadSessions
) -> Any:
    """Lesson content: enrolled students, the course's instructor and admins."""
    async with reads() as session:
        return await service.read_lesson(session, course_id, lesson_id, user)


@router.post(
    "/courses/{course_id}/reviews", status_code=status.HTTP_201_CREATED, response_model=ReviewRead
)
async def add_review(
    course_id: uuid.UUID, body: ReviewCreate, user: CurrentUser, session: SessionDep
) -> Any:
    """One review per enrolled student (`409 already_reviewed` for a second)."""
    course = await service.visible_course(session, course_id, user)
    return await service.add_review(
        session, course, author=user, score=body.score, comment=body.comment
    )


@router.get("/courses/{course_id}/reviews", response_model=Page[ReviewRead])
async def list_reviews(
    course_id: uuid.UUID,
    reads: ReadSessions,
    auth: OptionalAuth,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Any:
    async with reads() as session:
        course = await service.visible_course(session, course_id, auth.user if auth else None)
        items, next_cursor = await service.list_reviews(session, course, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/tags", response_model=Page[TagCount])
async def list_tags(reads: ReadSessions, limit: LimitQuery = 20, cursor: CursorQuery = None) -> Any:
    """Tags of published courses, by name, with how many published courses carry each."""
    async with reads() as session:
        items, next_cursor = await service.tag_counts(session, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/users/me/enrollments", response_model=Page[OwnedCourse], tags=["users"])
async def my_enrollments(
    user: Viewer, reads: ReadSessions, limit: LimitQuery = 20, cursor: CursorQuery = None
) -> Any:
    """The courses the caller owns, most recently bought first."""
    async with reads() as session:
        items, next_cursor = await enrollments.enrollments(
            session, user.id, limit=limit, cursor=cursor
        )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/instructors/{user_id}", response_model=InstructorProfile, tags=["instructors"])
async def instructor_profile(user_id: uuid.UUID, reads: ReadSessions) -> Any:
    """An instructor's public profile (no e-mail address) and their published courses."""
    async with reads() as session:
        instructor = await service.get_instructor(session, user_id)
        courses = await catalog.instructor_courses(await session.connection(), instructor.id)
    return InstructorProfile.model_validate(instructor).model_copy(
        update={"courses": [CourseRead.model_validate(course) for course in courses]}
    )
