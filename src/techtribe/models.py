"""Every table, imported in one place so `Base.metadata` is complete (Alembic, tests)."""

from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.auth.models import AuthSession, OneTimeToken, RefreshToken, User
from techtribe.auth.oidc.models import OIDCIdentity, OIDCLoginCode, OIDCState
from techtribe.courses.models import Course, Enrollment, Lesson, Review, Tag
from techtribe.db import Base
from techtribe.notifications.models import OutboxMessage
from techtribe.poems.models import Poem, PoemRating
from techtribe.purchases.ledger_models import RevenueEntry
from techtribe.purchases.models import IdempotencyKey, Purchase, PurchaseAttempt, PurchaseItem
from techtribe.purchases.payments.sandbox_ledger import SandboxCharge, SandboxRefund

__all__ = [
    "AdvisorySlot",
    "AuthSession",
    "Base",
    "Booking",
    "Course",
    "Enrollment",
    "IdempotencyKey",
    "Lesson",
    "OIDCIdentity",
    "OIDCLoginCode",
    "OIDCState",
    "OneTimeToken",
    "OutboxMessage",
    "Poem",
    "PoemRating",
    "Purchase",
    "PurchaseAttempt",
    "PurchaseItem",
    "RefreshToken",
    "RevenueEntry",
    "Review",
    "SandboxCharge",
    "SandboxRefund",
    "Tag",
    "User",
]
