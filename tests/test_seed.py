"""`techtribe seed`: demo members and a demo catalog, added once however often it runs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from techtribe.seed import seed
from tests.catalog import walk


async def test_seed_adds_the_demo_catalog_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    await seed(app.state.sessionmaker, app.state.settings)

    again = await seed(app.state.sessionmaker, app.state.settings)

    assert again == 0
    courses = await walk(client, "/courses", {"q": "Rust ownership", "limit": 100})
    demo = [c for c in courses if c["title"] == "Rust ownership in practice"]
    assert len(demo) == 1
    assert demo[0]["price_cents"] == 35000
    detail = (await client.get(f"/api/v1/courses/{demo[0]['id']}")).json()
    assert len(detail["lessons"]) == 3
    slots = await walk(
        client, "/advisories", {"instructor_id": demo[0]["instructor"]["id"], "limit": 100}
    )
    assert len(slots) == 2
    assert {(s["price_cents"], s["duration_minutes"]) for s in slots} == {(4000, 120)}
