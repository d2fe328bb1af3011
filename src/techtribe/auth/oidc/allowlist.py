"""Where a sign-in may send the browser back to: `OIDC_RETURN_ALLOWLIST` matching.

An entry matches when scheme, host and port are equal and the path starts with the
entry's path. URLs are compared parsed, never as strings, so `http://host:8000@evil/`
(host `evil`) can't pass for `http://host:8000`.
"""

from __future__ import annotations

from urllib.parse import SplitResult, unquote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Never a place to send a browser with a login code, whatever the allow-list says.
_REFUSED_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about"}
MAX_RETURN_TO = 2048


def _origin_and_path(url: str) -> tuple[tuple[str, str, int | None], str, SplitResult] | None:
    # Browsers read `\` as `/` and drop tabs and newlines: such URLs mean two things.
    if any(char == "\\" or ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    # Custom schemes (a mobile app's `com.example.app://callback`) need a host too.
    if not scheme or scheme in _REFUSED_SCHEMES or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    # Browsers resolve `.` and `..` segments (`%2e` too): `/spa/../admin` is `/admin`,
    # outside the prefix `/spa/` it seems to start with.
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return None
    origin = (scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme))
    return origin, parts.path or "/", parts


def is_allowed(return_to: str, allowlist: list[str]) -> bool:
    """True when `return_to` is an absolute URL with a host under one of `allowlist`'s prefixes.

    Any scheme an entry names works (https, or a mobile app's own), but never `javascript:`
    and the like.
    """
    if len(return_to) > MAX_RETURN_TO:
        return False
    target = _origin_and_path(return_to)
    # We append the fragment ourselves (#login_code=... or #error=...).
    if target is None or target[2].fragment or "#" in return_to:
        return False
    origin, path, _ = target
    for entry in allowlist:
        allowed = _origin_and_path(entry)
        if allowed is not None and allowed[0] == origin and path.startswith(allowed[1]):
            return True
    return False
