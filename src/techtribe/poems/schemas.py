"""Poems and ratings as the API shows them, and what callers send."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from techtribe.inputs import RequestBody

# Titles are trimmed; bodies are kept exactly as sent (whitespace is part of a poem).
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Body = Annotated[str, Field(min_length=1, max_length=20_000)]
Score = Annotated[int, Field(ge=1, le=5)]
Comment = Annotated[str, Field(max_length=1000)]


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    full_name: str


class PoemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    body: str
    author: AuthorRead
    author_id: uuid.UUID
    average_score: float | None = Field(
        description="Mean of the ratings, rounded to 2 decimals; null until the first rating."
    )
    ratings_count: int
    created_at: datetime
    updated_at: datetime


class PoemCreate(RequestBody):
    title: Title
    body: Body


class PoemUpdate(RequestBody):
    """Partial update: fields left out stay as they are."""

    title: Title | None = None
    body: Body | None = None


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    poem_id: uuid.UUID
    rater: AuthorRead
    rater_id: uuid.UUID
    score: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


class RatingCreate(RequestBody):
    score: Score
    comment: Comment | None = None


class RatingUpdate(RequestBody):
    """Change the score, the comment, or both; `comment: null` removes the comment."""

    score: Score | None = None
    comment: Comment | None = None
