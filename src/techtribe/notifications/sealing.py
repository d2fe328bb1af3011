"""The secret parts of queued e-mails (links with one-time tokens), encrypted at rest.

A queued message keeps what only its recipient may read (the token, the link, the text
quoting it) sealed with Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) under a
key derived with HKDF from `DATA_ENCRYPTION_KEY`, or `JWT_SECRET` when that is not set.
The sender opens the seal to render the e-mail and erases it once the message is sent or
has failed for good, so a database dump never holds a usable token.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from techtribe.config import Settings

# The payload member that holds the sealed parts.
SEALED = "sealed"
# Set once the sealed parts were erased.
ERASED = "secret_erased"
# Binds the derived key to this use: the same secret signs JWTs and MACs cursors.
_INFO = b"techtribe outbox secrets v1"


class SealBroken(Exception):
    """The sealed parts can't be opened: altered, or sealed under another key."""


class Sealer:
    def __init__(self, key_material: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            key_material.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, parts: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(parts).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            parts: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError) as exc:
            raise SealBroken("the sealed parts of this message can't be opened") from exc
        return parts


@lru_cache(maxsize=4)
def _sealer(key_material: str) -> Sealer:
    return Sealer(key_material)


def sealer_for(settings: Settings) -> Sealer:
    key = settings.data_encryption_key or settings.jwt_secret
    return _sealer(key.get_secret_value())


def opened(payload: dict[str, Any], sealer: Sealer) -> dict[str, Any]:
    """The payload with its sealed parts in the clear (for rendering, never for storing)."""
    sealed = payload.get(SEALED)
    if sealed is None:
        return dict(payload)
    rest = {name: value for name, value in payload.items() if name != SEALED}
    return {**rest, **sealer.open(str(sealed))}


def erased(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without its sealed parts: what a sent or failed message keeps.

    Marked, so a failed message isn't sent again without its link (see `service.retry`).
    """
    rest = {name: value for name, value in payload.items() if name != SEALED}
    return {**rest, ERASED: True}
