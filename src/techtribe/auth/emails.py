"""The one normal form in which e-mail addresses are stored and compared."""

from __future__ import annotations

import contextlib
import unicodedata

from email_validator import EmailNotValidError, validate_email

# RFC 5321's limit on a path; longer text can't be an address we store.
MAX_EMAIL_LENGTH = 320


def normal_email(address: str) -> str:
    """`address` as stored: Unicode NFC, the domain in Unicode (IDNA decoded), lower case.

    The local part is lower-cased too, not only the domain: no mail provider people use
    tells `Ana@` from `ana@`, and two accounts that differ by case would be a trap. Register,
    login, password reset, OIDC and `create-admin` all go through here, so an address typed
    in another Unicode form (NFD, `xn--` domain, other case) reaches the same account.
    """
    text = unicodedata.normalize("NFC", address.strip())
    if len(text) <= MAX_EMAIL_LENGTH:
        # The login form takes any text: it just matches no account.
        with contextlib.suppress(EmailNotValidError):
            text = validate_email(text, check_deliverability=False).normalized
    return unicodedata.normalize("NFC", text.lower())
