"""`techtribe seed`: demo members and a demo catalog, added once however often it runs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from techtribe.seed import ADMIN_PASSWORD as ADMIN
from techtribe.seed import STUDENT_PASSWORD as STUDENT
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


async def test_seed_makes_demo_sales_and_a_refund_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await seed(app.state.sessionmaker, app.state.settings)
    await seed(app.state.sessionmaker, app.state.settings)
    token = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "admin@techtribe.dev", "password": ADMIN},
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    student = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "student@techtribe.dev", "password": STUDENT},
    )
    mine = await client.get(
        "/api/v1/purchases",
        headers={"Authorization": f"Bearer {student.json()['access_token']}"},
    )
    report = await client.get("/api/v1/admin/revenue", headers=headers)

    assert len(mine.json()["items"]) == 2  # twice seeded, bought once
    totals = report.json()["currency_totals"]
    usd = next(t for t in totals if t["currency"] == "USD")
    assert usd["gross_cents"] > 0
    assert usd["refunded_cents"] > 0
