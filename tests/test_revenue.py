"""`/admin/revenue` and `/instructors/me/earnings`: what each side made, sales minus refunds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from techtribe.purchases.ledger import split
from techtribe.purchases.ledger_models import RevenueEntry
from techtribe.purchases.models import PurchaseItem
from tests.catalog import create_course
from tests.conftest import client_for, make_settings, running_app
from tests.helpers import API, Member, assert_problem, assert_unauthorized, member
from tests.purchasing import buy


@given(
    price=st.integers(min_value=0, max_value=100_000_000),
    percent=st.integers(min_value=0, max_value=100),
)
def test_fee_and_share_always_add_up_to_the_price(price: int, percent: int) -> None:
    fee, share = split(price, percent)
    assert fee + share == price
    assert 0 <= fee <= price
    assert fee == price * percent // 100  # the fee rounds down; the instructor gets the cent


async def move_to_month(db: AsyncSession, purchase_id: str, month: str) -> None:
    """Date a purchase's ledger entries in `month` (a window no other test writes in)."""
    items = select(PurchaseItem.id).where(PurchaseItem.purchase_id == uuid.UUID(purchase_id))
    when = datetime.strptime(f"{month}-15", "%Y-%m-%d").replace(tzinfo=UTC)
    await db.execute(
        update(RevenueEntry)
        .where(RevenueEntry.purchase_item_id.in_(items))
        .values(occurred_at=when, month=month)
    )
    await db.commit()


async def bought(client: httpx.AsyncClient, buyer: Member, course: dict[str, Any]) -> str:
    response = await buy(client, buyer, ("course", course["id"]))
    assert response.status_code == 201, response.text
    purchase_id: str = response.json()["id"]
    return purchase_id


async def test_report_sums_sales_and_refunds_per_currency_month_and_instructor(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    admin = await member(client, db, role="admin")
    ana = await member(client, db, role="instructor")
    bo = await member(client, db, role="instructor")
    ana_usd = await create_course(client, ana, price_cents=10001, currency="USD")
    ana_eur = await create_course(client, ana, price_cents=5000, currency="EUR")
    bo_usd = await create_course(client, bo, price_cents=20000, currency="USD")
    first, second = await member(client, db), await member(client, db)
    sales = {
        "jan-ana-usd": await bought(client, first, ana_usd),
        "jan-bo-usd": await bought(client, first, bo_usd),
        "feb-ana-eur": await bought(client, first, ana_eur),
        "feb-ana-usd": await bought(client, second, ana_usd),
    }
    refund = await client.post(
        f"{API}/purchases/{sales['jan-bo-usd']}/refund", headers=admin.headers
    )
    assert refund.status_code == 200, refund.text
    for name, purchase_id in sales.items():
        await move_to_month(db, purchase_id, "2001-01" if name.startswith("jan") else "2001-02")
    window = {"from": "2001-01-01T00:00:00Z", "to": "2001-02-28T23:59:59Z"}

    totals = (await client.get(f"{API}/admin/revenue", params=window, headers=admin.headers)).json()
    by_month = await client.get(
        f"{API}/admin/revenue", params={**window, "group": "month"}, headers=admin.headers
    )
    by_instructor = await client.get(
        f"{API}/admin/revenue", params={**window, "group": "instructor"}, headers=admin.headers
    )

    # 10001 -> fee 3000 + share 7001; 20000 -> 6000 + 14000 (refunded); 5000 -> 1500 + 3500.
    assert totals["currency_totals"] == [
        {
            "currency": "EUR",
            "gross_cents": 5000,
            "refunded_cents": 0,
            "platform_fee_cents": 1500,
            "instructor_share_cents": 3500,
        },
        {
            "currency": "USD",
            "gross_cents": 40002,
            "refunded_cents": 20000,
            "platform_fee_cents": 6000,
            "instructor_share_cents": 14002,
        },
    ]
    assert totals["groups"] == []
    months = {(g["month"], g["currency"]): g for g in by_month.json()["groups"]}
    assert set(months) == {("2001-01", "USD"), ("2001-02", "EUR"), ("2001-02", "USD")}
    assert months["2001-01", "USD"]["gross_cents"] == 30001
    assert months["2001-01", "USD"]["refunded_cents"] == 20000
    assert months["2001-01", "USD"]["instructor_share_cents"] == 7001
    assert months["2001-02", "USD"]["platform_fee_cents"] == 3000
    people = {(g["instructor_id"], g["currency"]): g for g in by_instructor.json()["groups"]}
    assert set(people) == {(ana.id, "USD"), (ana.id, "EUR"), (bo.id, "USD")}
    assert people[bo.id, "USD"]["platform_fee_cents"] == 0
    assert people[bo.id, "USD"]["instructor_share_cents"] == 0
    assert people[ana.id, "USD"]["instructor_share_cents"] == 14002
    for group in [*by_month.json()["groups"], *by_instructor.json()["groups"]]:
        kept = group["platform_fee_cents"] + group["instructor_share_cents"]
        assert kept == group["gross_cents"] - group["refunded_cents"]


async def test_instructor_sees_only_their_own_earnings(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    bo = await member(client, db, role="instructor")
    student = await member(client, db)
    ana_course = await create_course(client, ana, price_cents=35000)
    bo_course = await create_course(client, bo, price_cents=15000)
    ana_sale = await bought(client, student, ana_course)
    await bought(client, student, bo_course)

    response = await client.get(f"{API}/instructors/me/earnings", headers=ana.headers)

    assert response.status_code == 200, response.text
    earnings = response.json()
    assert earnings["currency_totals"] == [
        {
            "currency": "USD",
            "gross_cents": 35000,
            "refunded_cents": 0,
            "platform_fee_cents": 10500,
            "instructor_share_cents": 24500,
        }
    ]
    assert [g["month"] for g in earnings["groups"]] == [datetime.now(UTC).strftime("%Y-%m")]
    assert len(earnings["items"]) == 1
    line = earnings["items"][0]
    assert (line["purchase_id"], line["course_id"]) == (ana_sale, ana_course["id"])
    assert (line["price_cents"], line["instructor_share_cents"]) == (35000, 24500)
    assert line["refunded"] is False
    assert earnings["next_cursor"] is None


async def test_earnings_lines_page_newest_first(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    sales = [await bought(client, student, await create_course(client, ana)) for _ in range(5)]

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(
            f"{API}/instructors/me/earnings", params=params, headers=ana.headers
        )
        seen += [item["purchase_id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(sales))


async def test_students_and_instructors_may_not_read_the_revenue_report(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    student = await member(client, db)
    ana = await member(client, db, role="instructor")

    assert_problem(await client.get(f"{API}/admin/revenue", headers=ana.headers), 403, "forbidden")
    assert_problem(
        await client.get(f"{API}/admin/revenue", headers=student.headers), 403, "forbidden"
    )
    assert_problem(
        await client.get(f"{API}/instructors/me/earnings", headers=student.headers),
        403,
        "forbidden",
    )
    assert_unauthorized(await client.get(f"{API}/admin/revenue"), "not_authenticated")


@pytest.mark.parametrize(
    "params", [{"group": "year"}, {"from": "2026-01-01T00:00:00"}, {"instructor_id": "x"}]
)
async def test_bad_report_parameters_are_422(
    client: httpx.AsyncClient, db: AsyncSession, params: dict[str, str]
) -> None:
    admin = await member(client, db, role="admin")
    response = await client.get(f"{API}/admin/revenue", params=params, headers=admin.headers)
    assert_problem(response, 422, "validation_error")


@pytest.fixture
async def fifty_percent_app(migrated: None) -> AsyncIterator[FastAPI]:
    async for running in running_app(make_settings(platform_fee_percent=50)):
        yield running


async def test_a_new_fee_percentage_leaves_past_sales_and_their_refunds_as_they_were(
    client: httpx.AsyncClient, db: AsyncSession, fifty_percent_app: FastAPI
) -> None:
    admin = await member(client, db, role="admin")
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    before = await bought(client, student, await create_course(client, ana, price_cents=10000))
    async with client_for(fifty_percent_app) as later:
        after = await bought(later, student, await create_course(client, ana, price_cents=10000))
        refund = await later.post(f"{API}/purchases/{before}/refund", headers=admin.headers)
        assert refund.status_code == 200, refund.text

    report = await client.get(
        f"{API}/admin/revenue", params={"instructor_id": ana.id}, headers=admin.headers
    )

    assert report.json()["currency_totals"] == [
        {
            "currency": "USD",
            "gross_cents": 20000,
            "refunded_cents": 10000,
            "platform_fee_cents": 5000,  # 30% of the first, reversed; 50% of the second
            "instructor_share_cents": 5000,
        }
    ]
    assert after != before
