"""e-mail addresses in one normal form: NFC, Unicode domain, lower case

Register and `create-admin` always stored this form (email-validator's, lower-cased);
accounts made by an OpenID Connect sign-in stored the provider's text lower-cased only,
which may be decomposed (NFD) or carry an `xn--` domain. A row whose normal form another
row already holds is left as it is: merging two accounts is a person's decision.

Revision ID: 0009_email_normal_form
Revises: 0008_purchase_attempts
Create Date: 2026-12-04 23:40:00
"""

import contextlib
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision: str = "0009_email_normal_form"
down_revision: str | None = "0008_purchase_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email", sa.String(320)))


def _normal(address: str) -> str:
    # A copy of `techtribe.auth.emails.normal_email` as of this revision: a migration
    # must keep doing what it did when it was written.
    text = unicodedata.normalize("NFC", address.strip())
    if len(text) <= 320:
        with contextlib.suppress(EmailNotValidError):
            text = validate_email(text, check_deliverability=False).normalized
    return unicodedata.normalize("NFC", text.lower())


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(users.c.id, users.c.email).where(users.c.email.is_not(None))
    )
    stored = {email: user_id for user_id, email in rows}
    taken = set(stored)
    for email, user_id in stored.items():
        normal = _normal(email)
        if normal == email or normal in taken:
            continue
        connection.execute(users.update().where(users.c.id == user_id).values(email=normal))
        taken.add(normal)


def downgrade() -> None:
    # The earlier forms are not kept; the normal form works with the older code too.
    pass
