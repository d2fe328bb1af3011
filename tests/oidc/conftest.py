"""The sign-in tests' app: OIDC settings, a fake provider and a browser that follows redirects.

A module that needs other settings overrides `settings`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from techtribe.config import Settings
from tests.oidc_provider import FakeProvider
from tests.oidc_support import Browser, browser_for, oidc_app, oidc_settings


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def settings() -> Settings:
    return oidc_settings()


@pytest.fixture
async def app(migrated: None, fake: FakeProvider, settings: Settings) -> AsyncIterator[FastAPI]:
    async with oidc_app(fake, settings) as running:
        yield running


@pytest.fixture
async def browser(app: FastAPI, fake: FakeProvider) -> AsyncIterator[Browser]:
    async with browser_for(app, fake) as browser:
        yield browser
