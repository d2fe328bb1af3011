"""Demo data for a fresh install: idempotent, so running it twice adds nothing twice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from techtribe.advisories.demo import seed_slots
from techtribe.auth.models import Role, User
from techtribe.config import Settings
from techtribe.courses.demo import DEMO_COURSES, seed_catalog
from techtribe.poems.demo import seed_poems
from techtribe.purchases.demo import seed_sales
from techtribe.security import hash_password


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: Role
    password: str
    specialization: str | None = None
    bio: str | None = None


ADMIN_PASSWORD = "admin-pass-1"
INSTRUCTOR_PASSWORD = "instructor-pass-1"
STUDENT_PASSWORD = "student-pass-1"

_INSTRUCTORS = [
    ("ana.torres", "Ana Torres", "Python and data engineering"),
    ("carlos.mendez", "Carlos Méndez", "JavaScript, TypeScript and React"),
    ("lucia.romero", "Lucía Romero", "Go and distributed systems"),
    ("diego.herrera", "Diego Herrera", "Databases and PostgreSQL tuning"),
    ("sofia.vargas", "Sofía Vargas", "Machine learning"),
    ("mateo.rios", "Mateo Ríos", "Rust and systems programming"),
    ("valentina.cruz", "Valentina Cruz", "DevOps, containers and CI"),
    ("javier.ortiz", "Javier Ortiz", "Mobile development with Kotlin and Swift"),
]
_STUDENTS = [
    ("student", "Sam Student"),
    ("maria.lopez", "María López"),
    ("pedro.gomez", "Pedro Gómez"),
    ("elena.castro", "Elena Castro"),
]

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@techtribe.dev", "Ada Admin", Role.admin, ADMIN_PASSWORD),
    *(
        DemoUser(
            f"{handle}@techtribe.dev",
            name,
            Role.instructor,
            INSTRUCTOR_PASSWORD,
            specialization=field,
            bio=f"{name.split()[0]} teaches {field} at TechTribe after years of shipping it.",
        )
        for handle, name, field in _INSTRUCTORS
    ),
    *(
        DemoUser(f"{handle}@techtribe.dev", name, Role.student, STUDENT_PASSWORD)
        for handle, name in _STUDENTS
    ),
)


async def seed(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Add the demo members, catalog, poems and sales that are missing; returns how many."""
    async with sessionmaker() as session, session.begin():
        existing = set(
            await session.scalars(
                select(User.email).where(User.email.in_([u.email for u in DEMO_USERS]))
            )
        )
        missing = [u for u in DEMO_USERS if u.email not in existing]
        # One hash per distinct password keeps seeding quick at the production bcrypt cost.
        hashes = {
            password: await hash_password(password, settings.bcrypt_rounds)
            for password in {u.password for u in missing}
        }
        for demo in missing:
            session.add(
                User(
                    email=demo.email,
                    full_name=demo.full_name,
                    role=demo.role,
                    password_hash=hashes[demo.password],
                    email_verified=True,
                    specialization=demo.specialization,
                    bio=demo.bio,
                )
            )
        await session.flush()
        added = len(missing) + await seed_catalog(session)
        # An advisory slot for each demo course's subject, by its instructor.
        added += await seed_slots(session, [(email, title) for email, title, *_ in DEMO_COURSES])
        added += sum(await seed_poems(session))
    # Sales go through checkout, which commits each one: after the members exist.
    return added + await seed_sales(sessionmaker, settings)
