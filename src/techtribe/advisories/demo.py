"""Demo asesorías for `techtribe seed`: two upcoming slots per (instructor, subject)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.advisories.models import AdvisorySlot
from techtribe.auth.models import User
from techtribe.db import utcnow

# Two-hour asesorías at 40 dollars, one-to-one.
ADVISORY_PRICE_CENTS = 4000
ADVISORY_MINUTES = 120


async def seed_slots(session: AsyncSession, subjects: list[tuple[str, str]]) -> int:
    """Add the missing slots for these (instructor e-mail, subject) pairs, the n-th pair's
    from n days after tomorrow; returns how many were added."""
    emails = [email for email, _ in subjects]
    instructors = {
        user.email: user
        for user in await session.scalars(select(User).where(User.email.in_(emails)))
    }
    existing_slots = {
        (slot.instructor_id, slot.topic)
        for slot in await session.scalars(
            select(AdvisorySlot).where(
                AdvisorySlot.instructor_id.in_([u.id for u in instructors.values()])
            )
        )
    }
    tomorrow = datetime.combine(
        utcnow().date() + timedelta(days=1), time(15, 0), tzinfo=utcnow().tzinfo
    )
    added = 0
    for day, (email, title) in enumerate(subjects):
        instructor = instructors.get(email)
        if instructor is None:
            continue
        for week in range(2):
            topic = f"Asesoría: {title} ({'first' if week == 0 else 'second'} session)"
            if (instructor.id, topic) in existing_slots:
                continue
            starts_at = tomorrow + timedelta(days=day + 7 * week)
            session.add(
                AdvisorySlot(
                    instructor_id=instructor.id,
                    topic=topic,
                    description="One-to-one help with your own code and questions.",
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=ADVISORY_MINUTES),
                    duration_minutes=ADVISORY_MINUTES,
                    price_cents=ADVISORY_PRICE_CENTS,
                    currency="USD",
                    capacity=1,
                )
            )
            added += 1
    await session.flush()
    return added
