"""Demo catalog for `techtribe seed`: a course per instructor (their asesorías:
`advisories/demo.py`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.auth.models import User
from techtribe.courses.models import Course, Lesson
from techtribe.courses.service import tags_named

# (instructor e-mail, title, level, price in cents, tags, lesson titles). The original
# TechTribe sold its courses at 350, 350, 150 and 400 dollars.
DEMO_COURSES = [
    (
        "ana.torres@techtribe.dev",
        "Python from zero to async",
        "beginner",
        35000,
        ["python", "asyncio"],
        ["Values and names", "Functions and modules", "async and await"],
    ),
    (
        "carlos.mendez@techtribe.dev",
        "Modern JavaScript and React",
        "intermediate",
        35000,
        ["javascript", "react", "frontend"],
        ["ES2023 in an hour", "Components and state", "Data fetching"],
    ),
    (
        "lucia.romero@techtribe.dev",
        "Go for backend services",
        "intermediate",
        15000,
        ["go", "backend"],
        ["Types and interfaces", "Goroutines and channels", "An HTTP service"],
    ),
    (
        "diego.herrera@techtribe.dev",
        "PostgreSQL performance tuning",
        "advanced",
        40000,
        ["postgresql", "databases"],
        ["Reading EXPLAIN", "Indexes that work", "Locks and MVCC"],
    ),
    (
        "sofia.vargas@techtribe.dev",
        "Machine learning foundations",
        "beginner",
        35000,
        ["python", "machine-learning"],
        ["Data and features", "Linear models", "Evaluating a model"],
    ),
    (
        "mateo.rios@techtribe.dev",
        "Rust ownership in practice",
        "intermediate",
        35000,
        ["rust", "systems"],
        ["Ownership and borrowing", "Traits", "Fearless concurrency"],
    ),
    (
        "valentina.cruz@techtribe.dev",
        "Containers and CI pipelines",
        "beginner",
        15000,
        ["devops", "docker", "ci"],
        ["Images and layers", "Compose for development", "A pipeline that deploys"],
    ),
    (
        "javier.ortiz@techtribe.dev",
        "Mobile apps with Kotlin and Swift",
        "advanced",
        40000,
        ["mobile", "kotlin", "swift"],
        ["One app, two platforms", "State and navigation", "Shipping to the stores"],
    ),
]


async def seed_catalog(session: AsyncSession) -> int:
    """Add the demo courses that are missing; returns how many were added."""
    emails = [email for email, *_ in DEMO_COURSES]
    instructors = {
        user.email: user
        for user in await session.scalars(select(User).where(User.email.in_(emails)))
    }
    existing_courses = {
        (course.instructor_id, course.title)
        for course in await session.scalars(
            select(Course).where(Course.instructor_id.in_([u.id for u in instructors.values()]))
        )
    }
    added = 0
    for email, title, level, price, tags, lessons in DEMO_COURSES:
        instructor = instructors.get(email)
        if instructor is None:
            continue
        if (instructor.id, title) not in existing_courses:
            course = Course(
                instructor_id=instructor.id,
                title=title,
                description=f"{title}: a hands-on course by {instructor.full_name}.",
                price_cents=price,
                currency="USD",
                level=level,
                published=True,
            )
            course.tags = await tags_named(session, tags)
            course.lessons = [
                Lesson(title=name, content=f"{name}: notes, exercises and a recording.", position=i)
                for i, name in enumerate(lessons, start=1)
            ]
            session.add(course)
            added += 1
    await session.flush()
    return added
