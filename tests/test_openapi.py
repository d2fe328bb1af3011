"""The OpenAPI document: what generated clients need from it, and the committed copy."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from techtribe.app import create_app
from techtribe.errors import _HTTP_CODES, ERROR_CODES, DomainError
from tests.conftest import make_settings
from tests.helpers import API

PROBLEM = {"$ref": "#/components/schemas/Problem"}
TOKEN_ERROR = {"$ref": "#/components/schemas/TokenErrorResponse"}
# The codes the HTTP contract names; generated clients must know every one.
CONTRACT_CODES = {
    "validation_error", "internal_error", "email_taken", "token_revoked", "inactive_user",
    "fresh_token_required", "invalid_return_to", "not_enrolled", "slot_overlap",
    "idempotency_conflict", "card_declined", "already_owned", "sold_out", "own_poem",
    "already_rated", "not_authenticated", "invalid_token", "token_expired", "forbidden",
    "not_found", "method_not_allowed", "payload_too_large", "idempotency_key_required",
    "already_refunded", "already_reviewed", "course_unavailable", "mixed_currency",
    "invalid_cursor", "own_item", "own_course", "cannot_change_self", "service_unavailable",
}  # fmt: skip


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(make_settings()).openapi()
    return schema


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_read_tag_dash_action_and_are_unique(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(spec)]

    assert len(ids) == len(set(ids))
    for _, _, operation in operations(spec):
        assert len(operation["tags"]) == 1, operation["operationId"]
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", operation["operationId"])
        assert operation["operationId"].startswith(operation["tags"][0] + "-")
    assert {"courses-list", "purchases-create", "auth-token", "courses-read"} <= set(ids)


def test_schema_names_are_plain_identifiers(spec: dict[str, Any]) -> None:
    names = spec["components"]["schemas"]

    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", name) for name in names), sorted(names)
    assert {"CoursePage", "PurchasePage", "PasswordGrant", "RefreshTokenGrant"} <= set(names)


def test_every_error_status_answers_a_problem_or_a_token_error(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status != "default" and int(status) < 400:
                continue
            schemas = [media["schema"] for media in response["content"].values()]
            token_endpoint = path.endswith(("/auth/token", "/auth/oidc/exchange"))
            allowed = [PROBLEM, TOKEN_ERROR] if token_endpoint else [PROBLEM]
            assert schemas, (method, path, status)
            assert all(s in allowed for s in schemas), (method, path, status)


def test_purchase_readyz_and_oidc_errors_are_documented(spec: dict[str, Any]) -> None:
    purchase = spec["paths"][f"{API}/purchases"]["post"]["responses"]
    authorize = spec["paths"][f"{API}/auth/oidc/{{provider}}/authorize"]["get"]["responses"]
    readyz = spec["paths"]["/readyz"]["get"]["responses"]

    for status in ("400", "401", "402", "409", "422"):
        assert purchase[status]["content"]["application/problem+json"]["schema"] == PROBLEM
    assert "card_declined" in purchase["402"]["content"]["application/problem+json"]["examples"]
    assert readyz["503"]["content"]["application/problem+json"]["schema"] == PROBLEM
    assert {"400", "404"} <= set(authorize)


def test_protected_operations_document_401_with_the_bearer_challenge(
    spec: dict[str, Any],
) -> None:
    protected = [op for _, _, op in operations(spec) if op.get("security")]

    assert len(protected) > 20
    for operation in protected:
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    change_password = spec["paths"][f"{API}/users/me/password"]["post"]["responses"]
    assert "fresh_token_required" in change_password["401"]["description"]
    list_users = spec["paths"][f"{API}/users"]["get"]["responses"]
    assert "403" in list_users


def test_problem_code_is_an_enum_of_every_code_the_service_can_answer(
    spec: dict[str, Any],
) -> None:
    def subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]

    enum = set(spec["components"]["schemas"]["ProblemCode"]["enum"])
    raised = {error.code for error in subclasses(DomainError)}

    assert spec["components"]["schemas"]["Problem"]["properties"]["code"]["$ref"].endswith(
        "/ProblemCode"
    )
    assert enum >= CONTRACT_CODES
    assert raised <= enum
    assert set(_HTTP_CODES.values()) <= enum
    assert enum == set(ERROR_CODES)


def test_idempotency_key_is_a_required_non_null_string(spec: dict[str, Any]) -> None:
    parameters = spec["paths"][f"{API}/purchases"]["post"]["parameters"]
    (key,) = [p for p in parameters if p["name"] == "Idempotency-Key"]

    assert key["in"] == "header"
    assert key["required"] is True
    assert key["schema"]["type"] == "string"
    assert "anyOf" not in key["schema"]


def test_token_form_shows_each_grants_required_fields(spec: dict[str, Any]) -> None:
    body = spec["paths"][f"{API}/auth/token"]["post"]["requestBody"]
    form = body["content"]["application/x-www-form-urlencoded"]
    schemas = spec["components"]["schemas"]

    assert body["required"] is True
    assert form["schema"]["discriminator"]["propertyName"] == "grant_type"
    assert set(schemas["PasswordGrant"]["required"]) == {"grant_type", "username", "password"}
    assert set(schemas["RefreshTokenGrant"]["required"]) == {"grant_type", "refresh_token"}
    assert "422" not in spec["paths"][f"{API}/auth/token"]["post"]["responses"]


def test_oauth2_flow_names_the_token_endpoint_for_refresh_too(spec: dict[str, Any]) -> None:
    flow = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]

    assert flow["tokenUrl"] == flow["refreshUrl"] == f"{API}/auth/token"


def test_document_names_servers_license_and_contact(spec: dict[str, Any]) -> None:
    assert spec["servers"][0]["url"]
    assert spec["info"]["license"]["identifier"] == "MIT"
    assert spec["info"]["contact"]["name"]


def test_every_request_body_and_main_response_has_an_example(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            assert "example" in media, (method, path)
    for path, method, status in (
        (f"{API}/auth/token", "post", "200"),
        (f"{API}/courses", "get", "200"),
        (f"{API}/courses/{{course_id}}", "get", "200"),
        (f"{API}/purchases", "post", "201"),
        (f"{API}/users/me", "get", "200"),
        (f"{API}/poems", "post", "201"),
    ):
        content = spec["paths"][path][method]["responses"][status]["content"]
        assert "example" in content["application/json"], (method, path)


async def test_missing_token_form_fields_are_still_400_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    for form in ({}, {"grant_type": "password", "username": "a@example.com"}):
        response = await client.post(f"{API}/auth/token", data=form)

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        assert response.headers["cache-control"].startswith("no-store")


async def test_redoc_page_uses_only_the_bundle_the_service_serves(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/redoc")
    bundle = await client.get("/static/redoc/redoc.standalone.js")
    license_text = await client.get("/static/redoc/LICENSE")

    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/redoc/redoc.standalone.js" in sources
    assert all(source.startswith("/") for source in sources), sources
    assert "/openapi.json" in page.text
    assert bundle.status_code == 200
    assert len(bundle.content) > 500_000
    assert "MIT License" in license_text.text
