"""`docs/configuration.md`, written from the `Settings` class (`./dev docs` regenerates it).

Every field becomes a row: its environment variable, type, default and the `description`
of its `Field`. A field without a description is an error, so a new setting can't slip in
undocumented.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from techtribe.config import Settings

HEADER = """\
# Configuration

<!-- Generated from `techtribe.config.Settings` by `./dev docs`: edit the descriptions there,
     then regenerate. `./dev check` fails when this file is stale. -->

TechTribe reads its settings from environment variables, or from a `.env` file in the
working directory (environment variables win). [`.env.example`](../.env.example) lists
them all with their defaults; copy it to `.env` and change what you need. An empty value
(`REDIS_URL=`) counts as unset. With no settings at all the service runs in its embedded
mode: a SQLite file, no Redis, e-mails printed on the console, the sandbox payment gateway.

In production (`ENVIRONMENT=production`) set at least `JWT_SECRET`, `DATABASE_URL`
(PostgreSQL), `REDIS_URL` (and run `techtribe worker`), `PUBLIC_BASE_URL` and the e-mail
transport. Secret values are never logged or shown.

| variable | type | default | description |
|---|---|---|---|
"""

FOOTER = """
## Read by the server, not by `Settings`

- `FORWARDED_ALLOW_IPS` (default `127.0.0.1`), read by uvicorn: the proxies whose
  `X-Forwarded-For` and `X-Forwarded-Proto` are trusted. Behind a reverse proxy, set it to
  the proxy's address, or every client looks like the proxy to the per-address login
  throttle.
- `WEB_CONCURRENCY` (default `2`, container image only): worker processes of the image's
  `techtribe serve` (`--workers`). Use 1 with SQLite.

See also: [dependencies](dependencies.md), [authentication](auth.md),
[e-mail](email.md), [the HTTP API](api.md), [operations](operations.md).
"""


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) < len(get_args(annotation)) and len(members) == 1:
            return members[0], True
    return annotation, False


def _type(field: FieldInfo) -> str:
    annotation, optional = _strip_optional(field.annotation)
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin is Literal:
        text = " \\| ".join(f"`{value}`" for value in get_args(annotation))
    elif origin is list:
        text = "comma-separated list"
    elif origin is dict:
        text = "JSON object"
    elif annotation is SecretStr:
        text = "secret string"
    elif isinstance(annotation, type):
        text = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__
        )
    else:
        text = str(annotation)
    bounds = []
    for constraint in field.metadata:
        if isinstance(constraint, Ge):
            bounds.append(f"≥ {constraint.ge}")
        elif isinstance(constraint, Gt):
            bounds.append(f"> {constraint.gt}")
        elif isinstance(constraint, Le):
            bounds.append(f"≤ {constraint.le}")
    if bounds:
        text += f" ({', '.join(bounds)})"
    return text + (", optional" if optional else "")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "a development value"
    if value is None:
        return "unset"
    if value == [] or value == {}:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def configuration_md() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"Settings.{name} has no Field(description=...)")
        description = " ".join(field.description.split()).replace("|", "\\|")
        rows.append(f"| `{name.upper()}` | {_type(field)} | {_default(field)} | {description} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER
