"""The OpenAPI document, shaped so generated clients get names, errors and examples right.

FastAPI's defaults are built for its own docs page: operationIds like
`read_course_api_v1_courses__course_id__get`, schema names like `Page_CourseRead_`, a 422 of
its own shape and no schema on the error statuses a route declares. Everything here works on
the whole document, route by route, so routes added later get the same treatment:

- operationIds are `<tag>-<action>` (`operation_id`), one tag per operation (the route's
  most specific one);
- every error status of an operation answers the `Problem` schema, whose `code` is the
  `ProblemCode` enum built from `errors.ERROR_CODES`; protected operations document 401 and
  403, operations with a path parameter 404, and each error status carries examples of the
  codes its description names;
- `Idempotency-Key` is a required, non-null header wherever it is taken (the handler still
  answers `400 idempotency_key_required` without it, as the contract says);
- request bodies carry the example their schema gives; schema names are plain identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from techtribe.errors import ERROR_CODES
from techtribe.examples import EXAMPLES

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_JSON = "application/problem+json"

# Words of a route's function name that only repeat its tag: `list_courses` in `courses`
# is `courses-list`.
_TAG_NOUNS: dict[str, set[str]] = {
    "advisories": {"slot", "slots", "advisory", "advisories"},
    "admin": {"admin"},
    "users": {"user", "users"},
}
_OPERATION_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")

_SERVERS = [{"url": "/", "description": "The server that serves this document."}]
_CONTACT = {"name": "TechTribe contributors", "url": "https://techtribe.dev"}
_LICENSE = {"name": "MIT", "identifier": "MIT"}

# The code an error status stands for when its description names none.
_DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    409: "concurrent_update",
    413: "payload_too_large",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}
_UNAUTHORIZED = (
    "No usable access token (`not_authenticated`, `invalid_token`, `token_expired`, "
    "`token_revoked`, `inactive_user`); carries `WWW-Authenticate: Bearer`."
)
_FRESH = " Needs a token from a password login (`fresh_token_required`)."
_FORBIDDEN = "Signed in, but not allowed to do this (`forbidden`, or a more precise code)."
_NOT_FOUND = "No such resource, or not one the caller may see (`not_found`)."
_REQUIRED_HEADERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 255},
}
_REQUIRED_HEADERS_BY_LOWER = {name.lower(): name for name in _REQUIRED_HEADERS}
_F = TypeVar("_F", bound=Callable[..., Any])
_STATUS_NOTE = re.compile(r"\s*\(\d{3}[^)]*\)")
_BACKTICKED = re.compile(r"`([a-z][a-z0-9_]*)`")


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine `code`."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str = Field(description="For people; may change. Programs read `code`.")
    code: str = Field(description="Stable snake_case machine code (see `ProblemCode`).")
    errors: list[ValidationIssue] | None = Field(
        default=None, description="Validation failures (422 only)."
    )
    request_id: str | None = Field(default=None, description="On 500s: quote it when reporting.")


# Models a route declares by hand (`openapi_extra`) because it reads its body itself.
_EXTRA_SCHEMAS: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model`'s schema, which the document will carry."""
    _EXTRA_SCHEMAS[model.__name__] = model
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def raises(status: int, *codes: str) -> Callable[[_F], _F]:
    """Mark a dependency: every route that uses it may answer `status` with these codes."""

    def mark(dependency: _F) -> _F:
        marks: dict[int, list[str]] = getattr(dependency, "__problem_codes__", {})
        marks.setdefault(status, []).extend(codes)
        dependency.__problem_codes__ = marks  # type: ignore[attr-defined]
        return dependency

    return mark


def _marked_codes(root: Dependant) -> dict[int, list[str]]:
    """The codes `raises` put on the dependencies of a route (its `dependant` tree)."""
    found: dict[int, list[str]] = {}
    pending = [root]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        call = dependant.call
        for target in (call, type(call)):
            for status, codes in getattr(target, "__problem_codes__", {}).items():
                known = found.setdefault(status, [])
                known.extend(code for code in codes if code not in known)
    return found


def operation_id(route: Any) -> str:
    """`<tag>-<action>`: the route's tag, then its function name without the tag's nouns."""
    tag = route.tags[-1] if route.tags else "default"
    tag = str(getattr(tag, "value", tag))
    nouns = _TAG_NOUNS.get(tag, {tag, tag.removesuffix("s")})
    words = route.name.split("_")
    action = [word for word in words if word not in nouns] or words
    return "-".join([tag, *action]).lower()


def example_problem(code: str, status: int) -> dict[str, Any]:
    return {
        "type": f"https://techtribe.dev/problems/{code.replace('_', '-')}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": _STATUS_NOTE.sub("", ERROR_CODES.get(code, HTTPStatus(status).phrase)),
        "code": code,
    }


def _problem_response(description: str, status: int | None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": PROBLEM_REF}
    if status is not None:
        codes = [c for c in _BACKTICKED.findall(description) if c in ERROR_CODES]
        if not codes and status in _DEFAULT_CODES:
            codes = [_DEFAULT_CODES[status]]
        if codes:
            # References into components/examples (`_problem_examples` fills them in).
            media["examples"] = {
                code: {"$ref": f"#/components/examples/{code}-{status}"}
                for code in dict.fromkeys(codes)
            }
    return {"description": description, "content": {PROBLEM_JSON: media}}


def _problem_schema(components: dict[str, Any]) -> None:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    schema["properties"]["code"] = {
        "$ref": "#/components/schemas/ProblemCode",
        "description": schema["properties"]["code"]["description"],
    }
    schema["examples"] = [example_problem("card_declined", 402)]
    components["Problem"] = schema
    codes = sorted(ERROR_CODES)
    components["ProblemCode"] = {
        "title": "ProblemCode",
        "type": "string",
        "enum": codes,
        "description": "The stable machine codes of problems:\n\n"
        + "\n".join(f"- `{code}`: {ERROR_CODES[code]}" for code in codes),
    }


def _error_responses(
    operation: dict[str, Any], path: str, method: str, marked: dict[int, list[str]]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, codes in marked.items():
        if str(status) not in responses:
            listed = ", ".join(f"`{code}`" for code in codes)
            responses[str(status)] = {"description": f"{HTTPStatus(status).phrase} ({listed})."}
    if operation.get("security"):
        fresh = "fresh_token_required" in marked.get(401, [])
        description = _UNAUTHORIZED + (_FRESH if fresh else "")
        responses["401"] = {"description": description}
        responses["401"].setdefault(
            "headers",
            {"WWW-Authenticate": {"description": "`Bearer ...`", "schema": {"type": "string"}}},
        )
        if method != "get":  # a read that forbids says so itself (`raises`, `responses`)
            responses.setdefault("403", {"description": _FORBIDDEN})
    if "{" in path:
        responses.setdefault("404", {"description": _NOT_FOUND})
    if "422" in responses:
        description = responses["422"].get("description", "")
        if description in ("", "Validation Error"):
            description = "The request is not valid (`validation_error`); see `errors`."
        responses["422"] = {"description": description}
    for key, response in list(responses.items()):
        if not (key.isdigit() and int(key) >= 400) or "content" in response:
            continue
        problem = _problem_response(response.get("description", ""), int(key))
        responses[key] = {**response, **problem}
    responses.setdefault("default", _problem_response("An error, as problem details.", None))


def _required_headers(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        name = _REQUIRED_HEADERS_BY_LOWER.get(parameter["name"].lower())
        if parameter.get("in") == "header" and name:
            parameter["name"] = name
            parameter["required"] = True
            parameter["schema"] = {
                **_REQUIRED_HEADERS[name],
                "description": parameter.get("description", ""),
            }


def _problem_examples(schema: dict[str, Any]) -> None:
    """Define every `#/components/examples/<code>-<status>` that a response refers to."""
    refs = sorted(
        set(re.findall(r'"#/components/examples/([a-z0-9_]+)-(\d{3})"', json.dumps(schema)))
    )
    examples = schema["components"].setdefault("examples", {})
    for code, status in refs:
        examples[f"{code}-{status}"] = {
            "summary": code,
            "value": example_problem(code, int(status)),
        }


def _schema_examples(components: dict[str, Any]) -> None:
    """`examples` on the schemas `EXAMPLES` names, and on the pages of those (`CoursePage`)."""
    for name, example in EXAMPLES.items():
        if name in components:
            components[name].setdefault("examples", [example])
    for name, component in components.items():
        item = EXAMPLES.get(f"{name.removesuffix('Page')}Read")
        if name.endswith("Page") and item is not None:
            page = {"items": [item], "next_cursor": "eyJzIjoibmV3ZXN0Ii..."}
            component.setdefault("examples", [page])


def _media_examples(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Copy the schema's first example onto request bodies and successful responses."""
    contents = [operation.get("requestBody", {}).get("content", {})]
    contents += [
        response.get("content", {})
        for status, response in operation.get("responses", {}).items()
        if status.startswith("2")
    ]
    for content in contents:
        for media in content.values():
            ref = media.get("schema", {}).get("$ref", "")
            schema = components.get(ref.rsplit("/", 1)[-1], {}) if ref else media["schema"]
            examples = schema.get("examples")
            if examples and "example" not in media and "examples" not in media:
                media["example"] = examples[0]


def _clean_name(name: str) -> str:
    """`Body_auth-token` -> `AuthTokenBody`; other names lose what isn't a letter or digit."""
    if generic := re.fullmatch(r"([A-Za-z0-9]+)_([A-Za-z0-9]+)_", name):
        # A generic model: `Page_CourseRead_` -> `CoursePage`.
        return generic[2].removesuffix("Read") + generic[1]
    if name.startswith("Body_"):
        parts = re.split(r"[^A-Za-z0-9]+", name.removeprefix("Body_"))
        return "".join(part[:1].upper() + part[1:] for part in parts) + "Body"
    return re.sub(r"[^A-Za-z0-9]", "", name)


def _clean_schema_names(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.get("components", {}).get("schemas", {})
    renames = {name: _clean_name(name) for name in components if _clean_name(name) != name}
    if not renames:
        return schema
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    cleaned: dict[str, Any] = json.loads(text)
    cleaned_components = cleaned["components"]["schemas"]
    for old, new in renames.items():
        cleaned_components[new] = cleaned_components.pop(old)
        cleaned_components[new]["title"] = new
    return cleaned


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=_SERVERS,
        contact=_CONTACT,
        license_info=_LICENSE,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _problem_schema(components)
    for name, model in _EXTRA_SCHEMAS.items():
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components[name] = extra
    marks = {
        (context.path_format, method.lower()): _marked_codes(context.dependant)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            if operation.get("tags"):
                operation["tags"] = operation["tags"][-1:]
            _error_responses(operation, path, method, marks.get((path, method), {}))
            _required_headers(operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    schema = _clean_schema_names(schema)
    components = schema["components"]["schemas"]
    _schema_examples(components)
    _problem_examples(schema)
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            _media_examples(operation, components)
    for name in sorted(components):  # a stable order, so the committed file diffs cleanly
        components[name] = components.pop(name)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def check_operation_ids(schema: dict[str, Any]) -> list[str]:
    """The operationIds that don't read `<tag>-<action>`, for the tests."""
    return [
        operation.get("operationId", f"{method} {path}")
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if not _OPERATION_ID.match(operation.get("operationId", ""))
        or not operation["operationId"].startswith(f"{operation['tags'][0]}-")
    ]
