"""Courses, lessons, reviews and tags as the API shows and takes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from techtribe.auth.schemas import UserSummary
from techtribe.courses.models import Level
from techtribe.inputs import RequestBody
from techtribe.money import Currency, PriceCents

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
TagName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)
]


def _unique_tags(tags: list[str]) -> list[str]:
    return sorted(set(tags))


Tags = Annotated[list[TagName], Field(max_length=20), AfterValidator(_unique_tags)]


class CourseCreate(RequestBody):
    title: Title
    description: LongText = ""
    price_cents: PriceCents
    currency: Currency
    level: Level
    tags: Tags = []
    published: bool = False


class CourseUpdate(RequestBody):
    """Partial update: fields left out stay as they are."""

    title: Title | None = None
    description: LongText | None = None
    price_cents: PriceCents | None = None
    currency: Currency | None = None
    level: Level | None = None
    tags: Tags | None = None
    published: bool | None = None


def _tag_names(tags: list[Any]) -> list[str]:
    return [tag if isinstance(tag, str) else tag.name for tag in tags]


class CourseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str
    price_cents: int
    currency: str
    level: Level
    tags: Annotated[list[str], BeforeValidator(_tag_names)]
    published: bool
    archived: bool
    instructor: UserSummary
    average_score: float | None
    reviews_count: int
    created_at: datetime
    updated_at: datetime


class LessonOutline(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    position: int


class CourseDetail(CourseRead):
    lessons: list[LessonOutline]


class LessonCreate(RequestBody):
    title: Title
    content: LongText = ""
    position: Annotated[int, Field(strict=True, ge=0, le=10_000)]


class LessonRead(LessonOutline):
    course_id: uuid.UUID
    content: str
    created_at: datetime
    updated_at: datetime


class ReviewCreate(RequestBody):
    score: Annotated[int, Field(strict=True, ge=1, le=5)]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: uuid.UUID
    score: int
    comment: str
    author: UserSummary
    created_at: datetime


class TagCount(BaseModel):
    name: str
    courses_count: int


class OwnedCourse(CourseRead):
    """A course the caller owns (archived ones included: buyers keep them)."""

    enrolled_at: datetime


class InstructorProfile(BaseModel):
    """A public profile: never the e-mail address."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    full_name: str
    bio: str | None
    specialization: str | None
    created_at: datetime
    courses: list[CourseRead] = Field(
        default_factory=list, description="Their published courses, newest first."
    )
