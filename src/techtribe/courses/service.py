"""Courses: changes, visibility, lessons behind enrollment, reviews and tags (reads of the
catalog itself are in `catalog.py`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Float as SAFloat
from sqlalchemy import (
    cast,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from techtribe.auth.models import Role, User
from techtribe.courses.models import (
    Course,
    Enrollment,
    Lesson,
    Review,
    Tag,
    course_tags,
)
from techtribe.courses.schemas import CourseCreate, CourseUpdate, LessonCreate, TagCount
from techtribe.errors import Conflict, Forbidden, NotFound
from techtribe.pagination import Key, Ordering, paginate


class CourseNotFound(NotFound):
    detail_text = "No such course."


class NotEnrolled(Forbidden):
    code, detail_text = "not_enrolled", "Only students enrolled in this course may do this."


class OwnCourse(Forbidden):
    code, detail_text = "own_course", "Instructors can't review their own course."


class AlreadyReviewed(Conflict):
    code, detail_text = "already_reviewed", "You have already reviewed this course."


class PositionTaken(Conflict):
    code, detail_text = "position_taken", "Another lesson of this course has this position."


# A course object with what its answer shows: instructor by join, tags in one more query.
_CARD = (
    joinedload(Course.instructor).load_only(User.id, User.full_name),
    selectinload(Course.tags).load_only(Tag.name),
)


def is_owner(course: Course, user: User | None) -> bool:
    return user is not None and (user.role == Role.admin or course.instructor_id == user.id)


async def is_enrolled(
    reader: AsyncSession | AsyncConnection, user_id: uuid.UUID, course_id: uuid.UUID
) -> bool:
    found = await reader.scalar(
        select(exists().where(Enrollment.user_id == user_id, Enrollment.course_id == course_id))
    )
    return bool(found)


def enroll(session: AsyncSession, *, user_id: uuid.UUID, course_id: uuid.UUID) -> None:
    """Give a member a course (checkout, once paid). Not flushed: the caller's flush reports
    a second enrollment (the unique (user, course)) as `already_owned`."""
    session.add(Enrollment(user_id=user_id, course_id=course_id))


async def unenroll(session: AsyncSession, *, user_id: uuid.UUID, course_id: uuid.UUID) -> None:
    """Take a course back (a refund), and the review it allowed."""
    await session.execute(
        delete(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
    )
    await withdraw_review(session, user_id=user_id, course_id=course_id)


async def tags_named(session: AsyncSession, names: list[str]) -> list[Tag]:
    """The tags with these names, made on first use (safe when two requests make one at once)."""
    if not names:
        return []
    for name in names:
        # Each insert in a savepoint: a concurrent creator of the same tag is not an error.
        try:
            async with session.begin_nested():
                await session.execute(insert(Tag).values(id=uuid.uuid4(), name=name))
        except IntegrityError:
            pass
    return list(await session.scalars(select(Tag).where(Tag.name.in_(names)).order_by(Tag.name)))


async def load_course(session: AsyncSession, course_id: uuid.UUID) -> Course:
    """A course with its instructor, tags and lesson outline, whatever its state."""
    course = await session.scalar(
        select(Course)
        .where(Course.id == course_id)
        .options(
            *_CARD,
            # The outline: titles only, not every lesson's text.
            selectinload(Course.lessons).load_only(Lesson.id, Lesson.title, Lesson.position),
        )
        .execution_options(populate_existing=True)
    )
    if course is None:
        raise CourseNotFound()
    return course


async def may_see(
    reader: AsyncSession | AsyncConnection,
    viewer: User | None,
    *,
    course_id: uuid.UUID,
    instructor_id: uuid.UUID,
    published: bool,
    archived: bool,
) -> bool:
    """The one visibility rule, for ORM objects and the catalog's rows alike: a listed course
    is everyone's; a draft or an archived one its instructor's and admins'; an archived one
    stays its buyers'."""
    if published and not archived:
        return True
    if viewer is None:
        return False
    if viewer.role == Role.admin or instructor_id == viewer.id:
        return True
    return archived and await is_enrolled(reader, viewer.id, course_id)


async def visible_course(
    session: AsyncSession, course_id: uuid.UUID, viewer: User | None
) -> Course:
    """A course as `viewer` may see it: drafts and archived courses are 404 to outsiders."""
    course = await load_course(session, course_id)
    if not await may_see(
        session,
        viewer,
        course_id=course.id,
        instructor_id=course.instructor_id,
        published=course.published,
        archived=course.archived,
    ):
        raise CourseNotFound()
    return course


async def owned_course(session: AsyncSession, course_id: uuid.UUID, user: User) -> Course:
    """A course its instructor (or an admin) is about to change; others get 403."""
    course = await load_course(session, course_id)
    if not is_owner(course, user):
        raise Forbidden("Only the course's instructor or an admin may change it.")
    return course


async def create_course(session: AsyncSession, *, instructor: User, data: CourseCreate) -> Course:
    course = Course(
        instructor_id=instructor.id,
        **data.model_dump(exclude={"tags"}),
    )
    course.tags = await tags_named(session, data.tags)
    session.add(course)
    await session.flush()
    return await load_course(session, course.id)


async def update_course(session: AsyncSession, course: Course, data: CourseUpdate) -> Course:
    changes: dict[str, Any] = {
        name: value
        for name, value in data.model_dump(exclude_unset=True).items()
        if value is not None
    }
    tags = changes.pop("tags", None)
    for name, value in changes.items():
        setattr(course, name, value)
    if tags is not None:
        course.tags = await tags_named(session, tags)
    await session.flush()
    return await load_course(session, course.id)


async def delete_course(session: AsyncSession, course: Course) -> None:
    """Remove a course nobody bought; archive one somebody did (buyers keep it)."""
    bought = await session.scalar(select(exists().where(Enrollment.course_id == course.id)))
    if bought:
        course.archived = True
        course.published = False
        await session.flush()
    else:
        # The database cascades to lessons and tags; the ORM would try to orphan them.
        await session.execute(delete(Course).where(Course.id == course.id))
        session.expunge(course)


async def add_lesson(session: AsyncSession, course: Course, data: LessonCreate) -> Lesson:
    lesson = Lesson(course_id=course.id, **data.model_dump())
    session.add(lesson)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise PositionTaken() from None
    return lesson


async def read_lesson(
    session: AsyncSession, course_id: uuid.UUID, lesson_id: uuid.UUID, viewer: User
) -> Lesson:
    """Lesson content: for enrolled students, the course's instructor and admins."""
    course = await load_course(session, course_id)
    lesson = await session.scalar(
        select(Lesson).where(Lesson.id == lesson_id, Lesson.course_id == course.id)
    )
    if lesson is None:
        raise NotFound("No such lesson in this course.")
    if not is_owner(course, viewer) and not await is_enrolled(session, viewer.id, course.id):
        raise NotEnrolled("Enroll in this course to read its lessons.")
    return lesson


async def add_review(
    session: AsyncSession, course: Course, *, author: User, score: int, comment: str
) -> Review:
    """One review per enrolled student; the course's score changes in the same transaction."""
    if course.instructor_id == author.id:
        # Even if they own it some other way (bought at price 0, granted by an admin).
        raise OwnCourse()
    # The enrollment row stays locked until the review commits: a refund racing this one
    # deletes the enrollment after it, then sees the review and takes it away too.
    enrolled = await session.scalar(
        select(Enrollment.user_id)
        .where(Enrollment.user_id == author.id, Enrollment.course_id == course.id)
        .with_for_update()
    )
    if enrolled is None:
        raise NotEnrolled("Only students enrolled in this course may review it.")
    review = Review(course_id=course.id, user_id=author.id, score=score, comment=comment)
    session.add(review)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AlreadyReviewed() from None
    # One UPDATE reading the row's current values: concurrent reviews serialise on the
    # row lock and none is lost.
    await session.execute(
        update(Course)
        .where(Course.id == course.id)
        .values(
            reviews_count=Course.reviews_count + 1,
            rating_sum=Course.rating_sum + score,
            rating_avg=cast(Course.rating_sum + score, SAFloat) / (Course.reviews_count + 1),
        )
    )
    review.author = author
    return review


async def withdraw_review(
    session: AsyncSession, *, user_id: uuid.UUID, course_id: uuid.UUID
) -> None:
    """A refunded buyer's review stops counting: it goes, and the course's score with it.

    Buying the course again lets them review it again (the unique pair is free).
    """
    removed = await session.scalar(
        delete(Review)
        .where(Review.user_id == user_id, Review.course_id == course_id)
        .returning(Review.score)
    )
    if removed is None:
        return
    remaining = Course.reviews_count - 1
    await session.execute(
        update(Course)
        .where(Course.id == course_id)
        .values(
            reviews_count=remaining,
            rating_sum=Course.rating_sum - removed,
            # 0 once no review is left, like a course never reviewed.
            rating_avg=func.coalesce(
                cast(Course.rating_sum - removed, SAFloat) / func.nullif(remaining, 0), 0.0
            ),
        )
        .execution_options(synchronize_session=False)
    )


REVIEW_ORDER = Ordering(
    "newest",
    (Key.timestamp(Review.created_at, descending=True), Key.uuid(Review.id, descending=True)),
)


async def list_reviews(
    session: AsyncSession, course: Course, *, limit: int, cursor: str | None
) -> tuple[list[Review], str | None]:
    stmt = select(Review).where(Review.course_id == course.id).options(joinedload(Review.author))
    return await paginate(session, stmt, REVIEW_ORDER, limit=limit, cursor=cursor)


TAG_ORDER = Ordering("name", (Key(Tag.name),))


async def tag_counts(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> tuple[list[TagCount], str | None]:
    """Tags with how many listed courses carry each (tags on no listed course left out)."""
    stmt = (
        select(Tag.name, func.count(course_tags.c.course_id).label("courses_count"))
        .join(course_tags, course_tags.c.tag_id == Tag.id)
        .join(Course, Course.id == course_tags.c.course_id)
        .where(Course.published, ~Course.archived)
        .group_by(Tag.name)
    )
    rows, next_cursor = await paginate(
        session, stmt, TAG_ORDER, limit=limit, cursor=cursor, scalars=False
    )
    return [TagCount(name=row.name, courses_count=row.courses_count) for row in rows], next_cursor


async def get_instructor(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.is_deleted or not user.is_active or user.role != Role.instructor:
        raise NotFound("No such instructor.")
    return user
