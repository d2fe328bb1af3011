"""Examples of request and response bodies for the OpenAPI document, by schema name.

Kept in one place (not in each schema) so they read as a set, with the demo accounts and
the sandbox's test cards. `openapi.build_openapi` puts each one on its schema (`examples`)
and on the request bodies and responses that use it (`example`); a test fails when a
request body has none.
"""

from __future__ import annotations

from typing import Any

_COURSE_ID = "5b1c7a52-8d0e-4f4e-9d7b-0c3f2a6e9a11"
_INSTRUCTOR = {"id": "0b9d4c1e-2f6a-4e55-8c1d-3a7e5f9b2c40", "full_name": "Iris Instructor"}
_STUDENT_ID = "7f2e9a10-4b3c-4d8e-a1f5-6c2b9e0d8f31"
_WHEN = "2026-03-14T09:30:00Z"

EXAMPLES: dict[str, dict[str, Any]] = {
    # --- request bodies ---------------------------------------------------------------
    "RegisterRequest": {
        "email": "new.member@example.com",
        "password": "correct-horse-42",
        "full_name": "Nora Newcomer",
    },
    "VerifyEmailRequest": {"token": "the-token-from-the-e-mail"},
    "PasswordResetRequest": {"email": "student@techtribe.dev"},
    "PasswordResetConfirm": {"token": "the-token-from-the-e-mail", "new_password": "n3w-secret"},
    "LoginCodeExchange": {"login_code": "the-code-from-return_to#login_code"},
    "UserUpdate": {"full_name": "Sam Student", "bio": "Learning Python in the evenings."},
    "PasswordChange": {"current_password": "student-pass-1", "new_password": "n3w-secret"},
    "AdminUserUpdate": {"role": "instructor", "is_active": True},
    "CourseCreate": {
        "title": "Async Python from the ground up",
        "description": "Event loops, tasks and structured concurrency, with exercises.",
        "price_cents": 4900,
        "currency": "USD",
        "level": "intermediate",
        "tags": ["python", "async"],
        "published": True,
    },
    "CourseUpdate": {"price_cents": 3900, "published": True},
    "LessonCreate": {
        "title": "The event loop",
        "content": "What `await` really does...",
        "position": 1,
    },
    "ReviewCreate": {"score": 5, "comment": "Clear and practical."},
    "SlotCreate": {
        "topic": "Code review of your FastAPI project",
        "description": "Bring a repository; we go through it together.",
        "starts_at": "2026-03-20T15:00:00Z",
        "duration_minutes": 60,
        "price_cents": 2500,
        "currency": "USD",
        "capacity": 1,
    },
    "PurchaseCreate": {
        "items": [{"kind": "course", "id": _COURSE_ID}],
        "payment": {
            "card_number": "4242424242424242",
            "exp_month": 12,
            "exp_year": 2030,
            "cvc": "123",
            "holder_name": "Sam Student",
        },
    },
    "PoemCreate": {"title": "Ode to a green test run", "body": "All checks pass tonight..."},
    "PoemUpdate": {"body": "All checks pass tonight, and the build is green..."},
    "RatingCreate": {"score": 4, "comment": "Made me smile."},
    "RatingUpdate": {"score": 5},
    # --- responses ----------------------------------------------------------------------
    "TokenResponse": {
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        "token_type": "bearer",
        "expires_in": 900,
        "refresh_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    },
    "TokenErrorResponse": {
        "error": "invalid_grant",
        "error_description": "Wrong e-mail or password.",
    },
    "UserRead": {
        "id": _STUDENT_ID,
        "email": "student@techtribe.dev",
        "full_name": "Sam Student",
        "role": "student",
        "email_verified": True,
        "bio": None,
        "specialization": None,
        "created_at": _WHEN,
    },
    "CourseRead": {
        "id": _COURSE_ID,
        "title": "Async Python from the ground up",
        "description": "Event loops, tasks and structured concurrency, with exercises.",
        "price_cents": 4900,
        "currency": "USD",
        "level": "intermediate",
        "tags": ["async", "python"],
        "published": True,
        "archived": False,
        "instructor": _INSTRUCTOR,
        "average_score": 4.5,
        "reviews_count": 12,
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
    "PurchaseRead": {
        "id": "c3d8e1f2-6a7b-4c9d-8e0f-1a2b3c4d5e6f",
        "user_id": _STUDENT_ID,
        "status": "paid",
        "total_cents": 4900,
        "currency": "USD",
        "card": {"brand": "visa", "last4": "4242"},
        "items": [
            {
                "kind": "course",
                "id": _COURSE_ID,
                "title": "Async Python from the ground up",
                "price_cents": 4900,
                "currency": "USD",
                "refunded": False,
            }
        ],
        "created_at": _WHEN,
        "refunded_at": None,
    },
    "PoemRead": {
        "id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
        "title": "Ode to a green test run",
        "body": "All checks pass tonight...",
        "author": {"id": _STUDENT_ID, "full_name": "Sam Student"},
        "author_id": _STUDENT_ID,
        "average_score": None,
        "ratings_count": 0,
        "created_at": _WHEN,
        "updated_at": _WHEN,
    },
}

EXAMPLES["CourseDetail"] = {
    **EXAMPLES["CourseRead"],
    "lessons": [
        {"id": "1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "title": "The event loop", "position": 1}
    ],
}
