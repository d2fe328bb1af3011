"""Poems and their ratings, with the aggregates that listings sort on."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techtribe.auth.models import User
from techtribe.db import Base, Timestamps, UTCDateTime, UUIDPk, utcnow


class Poem(UUIDPk, Base):
    __tablename__ = "poems"
    __table_args__ = (
        CheckConstraint(
            "ratings_count >= 0 AND ratings_sum >= ratings_count "
            "AND ratings_sum <= 5 * ratings_count",
            name="aggregates",
        ),
        # One index per listing order (ties broken by id) and for the author filter.
        Index("ix_poems_created_at_id", "created_at", "id"),
        Index("ix_poems_score_average_id", "score_average", "id"),
        Index("ix_poems_ratings_count_id", "ratings_count", "id"),
        Index("ix_poems_author_id_created_at", "author_id", "created_at"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    # Text as written: blank lines and indentation are part of a poem.
    body: Mapped[str] = mapped_column(Text)
    # Kept by atomic `UPDATE ... SET x = x + :d` in the service, never read-modify-write.
    ratings_count: Mapped[int] = mapped_column(default=0, server_default="0")
    ratings_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    # ratings_sum / ratings_count, or 0 while unrated: a NOT NULL sort key for `sort=rating`
    # (the API shows null until the first rating).
    score_average: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set by the service on edits only: a new rating is not an edit of the poem.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")

    @property
    def average_score(self) -> float | None:
        if self.ratings_count == 0:
            return None
        return round(self.ratings_sum / self.ratings_count, 2)


class PoemRating(UUIDPk, Timestamps, Base):
    __tablename__ = "poem_ratings"
    __table_args__ = (
        # One rating per member and poem: the database decides, so a race can't make two.
        UniqueConstraint("poem_id", "rater_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        Index("ix_poem_ratings_poem_id_created_at_id", "poem_id", "created_at", "id"),
        Index("ix_poem_ratings_rater_id", "rater_id"),
    )

    poem_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("poems.id", ondelete="CASCADE"))
    rater_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(String(1000))

    rater: Mapped[User] = relationship(lazy="raise")
