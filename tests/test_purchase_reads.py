"""Reading purchases: members see their own, admins everyone's, nobody learns of others'."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.catalog import create_course
from tests.helpers import API, assert_problem, assert_unauthorized, member
from tests.purchasing import buy


async def test_members_list_only_their_own_purchases_newest_first_in_pages(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student, other = await member(client, db), await member(client, db)
    mine = []
    for _ in range(5):
        course = await create_course(client, ana)
        mine.append((await buy(client, student, ("course", course["id"]))).json()["id"])
        await buy(client, other, ("course", course["id"]))

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/purchases", params=params, headers=student.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(mine))


async def test_admin_lists_everyones_purchases_or_one_members(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    student = await member(client, db)
    course = await create_course(client, ana)
    purchase_id = (await buy(client, student, ("course", course["id"]))).json()["id"]

    filtered = await client.get(
        f"{API}/purchases", params={"user_id": student.id}, headers=admin.headers
    )
    everyone = await client.get(f"{API}/purchases", params={"limit": 100}, headers=admin.headers)

    assert [item["id"] for item in filtered.json()["items"]] == [purchase_id]
    assert purchase_id in [item["id"] for item in everyone.json()["items"]]


async def test_member_may_not_list_another_members_purchases(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    student, other = await member(client, db), await member(client, db)
    response = await client.get(
        f"{API}/purchases", params={"user_id": other.id}, headers=student.headers
    )
    assert_problem(response, 403, "forbidden")


async def test_another_members_purchase_is_404_and_admins_see_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    owner, stranger = await member(client, db), await member(client, db)
    course = await create_course(client, ana)
    purchase = (await buy(client, owner, ("course", course["id"]))).json()
    path = f"{API}/purchases/{purchase['id']}"

    assert (await client.get(path, headers=owner.headers)).json() == purchase
    assert (await client.get(path, headers=admin.headers)).json() == {
        **purchase,
        "buyer": {"id": owner.id, "full_name": "Test Member", "email": owner.email},
    }
    assert_problem(await client.get(path, headers=stranger.headers), 404, "not_found")
    assert_unauthorized(await client.get(path), "not_authenticated")


async def test_archived_course_stays_in_its_buyers_enrollments(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    student = await member(client, db)
    course = await create_course(client, ana)
    assert (await buy(client, student, ("course", course["id"]))).status_code == 201
    assert (
        await client.delete(f"{API}/courses/{course['id']}", headers=ana.headers)
    ).status_code == 204

    owned = await client.get(f"{API}/users/me/enrollments", headers=student.headers)

    assert [(c["id"], c["archived"]) for c in owned.json()["items"]] == [(course["id"], True)]
    assert owned.json()["items"][0]["enrolled_at"]


async def test_admins_see_who_bought_and_members_get_a_null_buyer(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    owner = await member(client, db, full_name="Bea Buyer")
    course = await create_course(client, ana)
    purchase = (await buy(client, owner, ("course", course["id"]))).json()
    buyer = {"id": owner.id, "full_name": "Bea Buyer", "email": owner.email}

    listed = await client.get(
        f"{API}/purchases", params={"user_id": owner.id}, headers=admin.headers
    )
    own_list = await client.get(f"{API}/purchases", headers=owner.headers)
    refunded = await client.post(f"{API}/purchases/{purchase['id']}/refund", headers=admin.headers)

    assert purchase["buyer"] is None
    assert [item["buyer"] for item in listed.json()["items"]] == [buyer]
    assert [item["buyer"] for item in own_list.json()["items"]] == [None]
    assert refunded.json()["buyer"] == buyer


async def test_a_deleted_buyer_shows_to_admins_without_name_or_email(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ana = await member(client, db, role="instructor")
    admin = await member(client, db, role="admin")
    owner = await member(client, db, full_name="Gone Soon")
    course = await create_course(client, ana)
    purchase = (await buy(client, owner, ("course", course["id"]))).json()
    assert (await client.delete(f"{API}/users/me", headers=owner.headers)).status_code == 204

    seen = await client.get(f"{API}/purchases/{purchase['id']}", headers=admin.headers)

    assert seen.json()["buyer"] == {"id": owner.id, "full_name": None, "email": None}
