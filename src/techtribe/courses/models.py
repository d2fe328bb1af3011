"""Courses, their lessons, tags and reviews, and the enrollments that open them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techtribe.auth.models import User
from techtribe.db import Base, Timestamps, UTCDateTime, UUIDPk, utcnow


class Level(enum.StrEnum):
    beginner = "beginner"
    intermediate = "intermediate"
    advanced = "advanced"


# Listed courses: the partial indexes below cover exactly these rows.
LISTED = text("published AND NOT archived")
# What a search checks per course: its words and its tags.
SEARCHED = ("search_vector", "tag_names")

course_tags = Table(
    "course_tags",
    Base.metadata,
    Column("course_id", ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_course_tags_tag_id_course_id", "tag_id", "course_id"),
)


class Tag(UUIDPk, Base):
    __tablename__ = "tags"

    # Lower-cased on the way in, so "Python" and "python" are one tag.
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Course(UUIDPk, Timestamps, Base):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("price_cents >= 0 AND price_cents <= 100000000", name="price_cents"),
        CheckConstraint("level IN ('beginner', 'intermediate', 'advanced')", name="level"),
        CheckConstraint("reviews_count >= 0 AND rating_sum >= 0", name="rating"),
        # One index per listing order, over listed courses only (keyset pages walk them).
        # The `newest` ones also carry the search document and the tags (PostgreSQL's
        # INCLUDE), so a search page finds its ids in the index alone: the words and the
        # tag are checked on index entries read in order, not on rows fetched one by one
        # (see `catalog._page_statement`).
        Index(
            "ix_courses_listed_created_at_id",
            "created_at",
            "id",
            postgresql_where=LISTED,
            postgresql_include=SEARCHED,
        ),
        Index("ix_courses_listed_price_id", "price_cents", "id", postgresql_where=LISTED),
        Index("ix_courses_listed_rating_id", "rating_avg", "id", postgresql_where=LISTED),
        # `level` filter + `newest` order + cursor: one index range, not a filter on a walk.
        Index(
            "ix_courses_listed_level_created_at_id",
            "level",
            "created_at",
            "id",
            postgresql_where=LISTED,
            postgresql_include=SEARCHED,
        ),
        Index("ix_courses_instructor_id_created_at", "instructor_id", "created_at"),
        Index("ix_courses_level", "level"),
        # Search and the tag filter on PostgreSQL (`search_vector @@ query`, `tag_names @>
        # ARRAY[tag]`), over listed courses: one GIN index on both columns, so a word and a
        # tag together are one bitmap of the few rows having both, where two indexes led the
        # planner to walk the date index instead (7,205 buffers against 533, measured).
        Index(
            "ix_courses_listed_search_tags",
            "search_vector",
            "tag_names",
            postgresql_using="gin",
            postgresql_where=LISTED,
        ).ddl_if(dialect="postgresql"),
    )

    instructor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    level: Mapped[str] = mapped_column(String(20))
    published: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False)
    # Kept by one UPDATE per review, so concurrent reviews can't lose one.
    reviews_count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    # rating_sum / reviews_count, 0 without reviews: a plain column the rating index can sort.
    rating_avg: Mapped[float] = mapped_column(default=0.0)
    # Both kept by database triggers (migration 0010), never written by the application:
    # what `q` searches on PostgreSQL, `to_tsvector('english', title || ' ' || description)`
    # stored so a search reads it instead of parsing each row's text (NULL on SQLite,
    # which searches with LIKE) ...
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR().with_variant(Text(), "sqlite"), deferred=True
    )
    # ... and the course's tag names, sorted (NULL without tags): the card's tags and the
    # `tag` filter (`@>`) without reading `course_tags` per row.
    tag_names: Mapped[list[str] | None] = mapped_column(
        ARRAY(Text()).with_variant(JSON(), "sqlite"), deferred=True
    )

    instructor: Mapped[User] = relationship(lazy="raise")
    tags: Mapped[list[Tag]] = relationship(secondary=course_tags, lazy="raise", order_by=Tag.name)
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course", lazy="raise", order_by="Lesson.position", passive_deletes=True
    )

    @property
    def average_score(self) -> float | None:
        return average_score(self.rating_sum, self.reviews_count)


def average_score(rating_sum: int, reviews_count: int) -> float | None:
    """The mean review score to two decimals; None until the first review."""
    return round(rating_sum / reviews_count, 2) if reviews_count else None


class Lesson(UUIDPk, Timestamps, Base):
    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("course_id", "position"),
        CheckConstraint("position >= 0", name="position"),
    )

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int]

    course: Mapped[Course] = relationship(back_populates="lessons", lazy="raise")


class Enrollment(UUIDPk, Base):
    """A student owns a course. Made by purchases; a refund removes it."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        Index("ix_enrollments_course_id", "course_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Review(UUIDPk, Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("course_id", "user_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        Index("ix_reviews_course_id_created_at", "course_id", "created_at"),
        # Deleting an account deletes its reviews: without it, a scan of all reviews.
        Index("ix_reviews_user_id", "user_id"),
    )

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")
