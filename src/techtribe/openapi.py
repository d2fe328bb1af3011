"""The OpenAPI document, made to say what the service really answers on errors.

FastAPI documents a 422 of its own shape; ours are RFC 9457 problems. Every operation
gets the `Problem` schema (as `application/problem+json`) for 422 and as its `default`
response, so clients, generated SDKs and fuzzers see the real error format.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable snake_case error code, e.g. `not_found`.")
    errors: list[ValidationIssue] | None = Field(
        default=None, description="Validation failures (422 only)."
    )
    request_id: str | None = Field(default=None, description="On 500s: quote it when reporting.")


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(components["Problem"].pop("$defs", {}))
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = _problem_response("Validation failed (`validation_error`).")
                responses.setdefault("default", _problem_response("An error, as problem details."))
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
