"""Every table, imported in one place so `Base.metadata` is complete (Alembic, tests)."""

from techtribe.auth.models import AuthSession, OneTimeToken, RefreshToken
from techtribe.db import Base
from techtribe.notifications.models import OutboxMessage
from techtribe.poems.models import Poem, PoemRating
from techtribe.users.models import User

__all__ = [
    "AuthSession",
    "Base",
    "OneTimeToken",
    "OutboxMessage",
    "Poem",
    "PoemRating",
    "RefreshToken",
    "User",
]
