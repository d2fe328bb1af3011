"""The links e-mails carry, all built here from PUBLIC_BASE_URL.

They point at the web client's routes (after `#`), so a one-time token in a link stays in
the URL fragment and never reaches a server's access log.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Links:
    """The templates' `links`: `{{ links.poem(p.poem_id) }}`."""

    base_url: str

    def home(self) -> str:
        return f"{self.base_url}/"

    def verify_email(self, token: str) -> str:
        return self._route(f"verify-email?token={quote(token, safe='')}")

    def reset_password(self, token: str) -> str:
        return self._route(f"reset-password?token={quote(token, safe='')}")

    def purchase(self, purchase_id: str) -> str:
        return self._route(f"purchases/{quote(purchase_id, safe='')}")

    def advisories(self) -> str:
        return self._route("advisories")

    def poem(self, poem_id: str) -> str:
        return self._route(f"poems/{quote(poem_id, safe='')}")

    def _route(self, route: str) -> str:
        return f"{self.base_url}/#/{route}"
