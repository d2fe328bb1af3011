"""The command line: every flag explained, create-admin's password kept off the command line,
compose.yaml's shape, and an empty JWT_SECRET."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from techtribe.cli import app
from techtribe.config import DEV_JWT_SECRET, Settings, get_settings
from tests.conftest import DATABASE_URL
from tests.helpers import API, token_request, unique_email

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "DATABASE_URL": DATABASE_URL,
    "JWT_SECRET": "test-secret-0123456789abcdef0123456789",
    "BCRYPT_ROUNDS": "4",
    "ENVIRONMENT": "test",
}


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """`get_settings` reads the environment CliRunner sets, not a cached earlier one."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str, stdin: str) -> Any:
    # In a thread: the command runs its own event loop (asyncio.run).
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, list(args), input=stdin, env=ENV)


def test_every_cli_flag_has_help_text() -> None:
    group: Any = typer.main.get_command(app)  # typer's own click flavour
    undocumented = [
        f"{name} {param.name}"
        for name, command in group.commands.items()
        for param in command.params
        if param.param_type_name == "option" and not param.help
    ]
    assert set(group.commands) >= {"serve", "migrate", "create-admin", "seed", "worker"}
    assert undocumented == []


async def test_create_admin_reads_the_password_from_stdin(
    migrated: None, fresh_settings: None, client: httpx.AsyncClient
) -> None:
    email, password = unique_email("admin"), "from-stdin-pass-1"
    result = await invoke("create-admin", "--email", email, "--password-stdin", stdin=password)

    assert result.exit_code == 0, result.output
    assert password not in result.output
    response = await token_request(client, grant_type="password", username=email, password=password)
    assert response.status_code == 200, response.text
    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["role"] == "admin"


async def test_create_admin_prompts_twice_without_echo_when_no_password_is_given(
    migrated: None, fresh_settings: None, client: httpx.AsyncClient
) -> None:
    email, password = unique_email("admin"), "prompted-pass-2"
    result = await invoke("create-admin", "--email", email, stdin=f"{password}\n{password}\n")

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert password not in result.output
    response = await token_request(client, grant_type="password", username=email, password=password)
    assert response.status_code == 200, response.text


async def test_create_admin_refuses_two_passwords(fresh_settings: None) -> None:
    result = await invoke(
        "create-admin", "--email", unique_email(), "--password", "x1", "--password-stdin", stdin=""
    )

    assert result.exit_code == 2
    assert "not both" in result.output


def test_an_empty_jwt_secret_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "")
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert Settings(_env_file=None).jwt_secret.get_secret_value() == DEV_JWT_SECRET

    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None)


def test_compose_publishes_only_the_tls_proxy_and_waits_for_migrations() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    proxy_address = services["proxy"]["networks"]["default"]["ipv4_address"]

    assert "ports" not in services["api"]
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == proxy_address
    assert services["mailpit"]["ports"] == ["127.0.0.1:8025:8025"]
    assert services["migrate"]["command"] == ["techtribe", "migrate"]
    for name in ("api", "worker"):
        wait = services[name]["depends_on"]["migrate"]["condition"]
        assert wait == "service_completed_successfully", name
        assert services[name]["environment"]["METRICS_TOKEN"].startswith("${METRICS_TOKEN")
    assert "--no-migrate" in " ".join(services["api"]["command"])


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    assert {name.upper() for name in Settings.model_fields} <= listed
