"""The web client's corners (issue 21): no stray `null`, a receipt page the e-mails link to,
titles, plurals, log-in detours, sentences for field errors, who bought, sign-in providers."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, mailed_link
from tests.browser.test_web_client import log_in, member, published_course
from tests.helpers import API, Member, login, unique_email
from tests.purchasing import buy, create_slot

RECEIPT = "Your TechTribe receipt"
REFUNDED = "Your TechTribe purchase was refunded"
STRAY = re.compile(r"\b(null|undefined|NaN)\b")


async def main_text(page: Page) -> str:
    text: str = await page.locator("main").inner_text()
    return text


async def assert_no_stray_words(page: Page) -> None:
    text = await main_text(page)
    assert not STRAY.search(text), f"{page.url}: {text!r}"


async def test_own_poem_bare_profile_and_lesson_error_show_no_null(
    page: Page, api: httpx.AsyncClient
) -> None:
    author = await member(api, name="Nora Null")
    poem = (
        await api.post(
            f"{API}/poems", json={"title": "Mine", "body": "Only mine."}, headers=author.headers
        )
    ).json()
    bare = await member(api, role="instructor", name="Bare Profile")
    course = await published_course(api, f"wren{uuid.uuid4().hex[:6]}")
    lesson_id = (await api.get(f"{API}/courses/{course['id']}")).json()["lessons"][0]["id"]
    await log_in(page, author.email)

    await page.goto(f"/#/poems/{poem['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mine")
    await expect(page.get_by_text("No ratings yet.")).to_be_visible()
    await assert_no_stray_words(page)

    await page.goto(f"/#/instructors/{bare.id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bare Profile")
    # An empty state says so, instead of a bare "Courses" heading.
    await expect(page.get_by_text("Bare Profile has no published course yet.")).to_be_visible()
    await assert_no_stray_words(page)

    await page.goto(f"/#/courses/{course['id']}/lessons/{lesson_id}")
    await expect(page.get_by_role("alert")).to_have_text("Buy the course to read its lessons.")
    await expect(page.get_by_role("link", name="See the course")).to_be_visible()
    await page.goto(f"/#/courses/{course['id']}/lessons/{uuid.uuid4()}")
    await expect(page.get_by_role("alert")).to_be_visible()
    await assert_no_stray_words(page)


async def test_purchase_page_opens_from_my_learning_and_from_receipt_and_refund_emails(
    page: Page, new_page: Any, api: httpx.AsyncClient
) -> None:
    course = await published_course(api, f"finch{uuid.uuid4().hex[:6]}")
    student = await member(api, name="Rhys Receipt")
    purchase = (await buy(api, student, ("course", course["id"]))).json()
    await log_in(page, student.email)

    await page.goto("/#/learning")
    await (
        page.get_by_role("list", name="My purchases")
        .get_by_role("link", name=course["title"])
        .click()
    )
    await expect(page).to_have_url(re.compile(f"#/purchases/{purchase['id']}$"))
    await expect(page).to_have_title("Purchase · TechTribe")
    await expect(page.locator(".facts")).to_contain_text("visa ending in 4242")
    await expect(page.locator("[data-testid=status]")).to_have_text("Paid")
    await expect(page.locator("[data-nav=learning]")).to_have_attribute("aria-current", "page")
    await expect(page.locator("[aria-current=page]")).to_have_count(1)
    await page.get_by_role("link", name=course["title"]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])

    # The receipt e-mail's link, as delivered, opens the same page.
    link = await mailed_link(student.email, RECEIPT, r"http://\S+/#/purchases/[\w-]+")
    assert link.endswith(f"#/purchases/{purchase['id']}")
    await page.goto(link)
    await expect(page.locator(".facts")).to_contain_text("visa ending in 4242")

    admin = await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
    refund = await api.post(
        f"{API}/purchases/{purchase['id']}/refund",
        headers={"Authorization": f"Bearer {admin['access_token']}"},
    )
    assert refund.status_code == 200, refund.text
    refunded_link = await mailed_link(student.email, REFUNDED, r"http://\S+/#/purchases/[\w-]+")
    assert refunded_link == link
    other = await new_page()
    await log_in(other, student.email)
    await other.goto(refunded_link)
    await expect(other.locator("[data-testid=status]")).to_contain_text("Refunded on")
    await expect(other.locator("tbody")).to_contain_text("refunded")
    await assert_no_stray_words(other)


async def test_the_router_titles_every_page_even_after_logging_in(
    page: Page, api: httpx.AsyncClient
) -> None:
    student = await member(api, name="Tia Title")
    await log_in(page, student.email)  # from "Log in · TechTribe"
    await expect(page).to_have_title("Courses · TechTribe")
    for address, title in (
        ("#/advisories", "Advisory sessions"),
        ("#/learning", "My learning"),
        ("#/poems", "Poems"),
        ("#/no/such/page", "Page not found"),
    ):
        await page.goto(f"/{address}")
        await expect(page).to_have_title(f"{title} · TechTribe")
    # Not found highlights no menu item.
    await expect(page.locator("[aria-current=page]")).to_have_count(0)


async def test_counts_read_in_the_singular_and_ones_own_booking_says_so(
    page: Page, new_page: Any, api: httpx.AsyncClient
) -> None:
    teacher = await member(api, role="instructor", name="Sam Single")
    course = await published_course(api, f"lark{uuid.uuid4().hex[:6]}")
    slot = await create_slot(api, teacher, capacity=2, topic=f"Pairing {uuid.uuid4().hex[:6]}")
    student = await member(api, name="Una One")
    await buy(api, student, ("course", course["id"]), ("advisory", slot["id"]))
    review = {"score": 5, "comment": "Good."}
    posted = await api.post(
        f"{API}/courses/{course['id']}/reviews", json=review, headers=student.headers
    )
    assert posted.status_code == 201, posted.text
    poem = await api.post(
        f"{API}/poems", json={"title": "Uno", "body": "One."}, headers=teacher.headers
    )
    rated = await api.post(
        f"{API}/poems/{poem.json()['id']}/ratings", json={"score": 4}, headers=student.headers
    )
    assert rated.status_code == 201, rated.text

    await page.goto(f"/#/courses/{course['id']}")
    await expect(page.locator("main")).to_contain_text("· 1 review")
    await expect(page.locator(".buy-box")).to_contain_text("1 lesson ·")
    await page.goto("/#/advisories")
    card = page.locator(".slot", has_text=slot["topic"])
    await expect(card).to_contain_text("1 seat left")
    await page.goto(f"/#/poems/{poem.json()['id']}")
    await expect(page.locator(".poem-score")).to_contain_text("from 1 rating")

    await log_in(page, student.email)
    await page.goto("/#/learning")
    booked = page.get_by_role("list", name="My bookings").locator(".slot")
    await expect(booked).to_contain_text("You have a seat · 1 seat left")

    admin = await new_page()
    await log_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    await admin.goto("/#/admin")
    await admin.get_by_role("searchbox", name="Name or e-mail").fill(student.email)
    await admin.get_by_role("button", name="Find").click()
    row = admin.locator(f"[data-user='{student.id}']")
    await expect(row).to_contain_text("0 poems, 1 rating")
    text = await main_text(admin)
    assert not re.search(r"\b1 (reviews|ratings|poems|seats|lessons)\b", text), text


async def test_anonymous_lesson_offers_a_log_in_that_returns_to_the_lesson(
    page: Page, api: httpx.AsyncClient
) -> None:
    course = await published_course(api, f"swift{uuid.uuid4().hex[:6]}")
    lesson_id = (await api.get(f"{API}/courses/{course['id']}")).json()["lessons"][0]["id"]
    student = await member(api, name="Lena Later")
    await buy(api, student, ("course", course["id"]))
    lesson = f"/#/courses/{course['id']}/lessons/{lesson_id}"

    await page.goto(lesson)
    await page.locator("main").get_by_role("link", name="Log in").click()
    await page.get_by_label("E-mail").fill(student.email)
    await page.get_by_label("Password").fill(student.password)
    await page.get_by_role("button", name="Log in").click()

    await expect(page).to_have_url(re.compile(re.escape(lesson[1:]) + "$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Getting started")
    await expect(page).to_have_title("Getting started · TechTribe")


async def test_sign_up_explains_each_field_in_plain_words(page: Page) -> None:
    await page.goto("/#/register")
    await expect(page.locator(".hint")).to_have_text(
        "At least 8 characters, with at least one letter and one digit."
    )
    await page.get_by_label("E-mail").fill("not-an-address")
    await page.get_by_label("Password").fill("short1")
    await page.get_by_role("button", name="Create account").click()

    errors = {
        name: page.locator(f"[data-error-for='{name}']")
        for name in ("full_name", "email", "password")
    }
    await expect(errors["full_name"]).to_have_text("Please fill this in.")
    await expect(errors["email"]).to_have_text(
        "Please enter an e-mail address like name@example.com."
    )
    await expect(errors["password"]).to_have_text("Use at least 8 characters.")
    await expect(page.get_by_label("Full name")).to_be_focused()  # the first to fix

    await page.get_by_label("Full name").fill("Pat Long")
    await page.get_by_label("E-mail").fill(unique_email())
    await page.get_by_label("Password").fill("é1" * 37)  # 74 characters, 111 bytes
    await page.get_by_role("button", name="Create account").click()
    await expect(errors["password"]).to_contain_text("Use at most 72 characters")
    text = await main_text(page)
    for raw in ("bytes", "String should", "Value error"):
        assert raw not in text


async def test_admin_sees_who_bought_in_the_list_and_on_the_purchase_page(
    page: Page, api: httpx.AsyncClient
) -> None:
    course = await published_course(api, f"egret{uuid.uuid4().hex[:6]}")
    student: Member = await member(api, name="Bob Buyer")
    purchase = (await buy(api, student, ("course", course["id"]))).json()

    await log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    await page.goto("/#/admin")
    row = page.locator(f"[data-purchase='{purchase['id']}']")
    await expect(row).to_contain_text(f"Bought by Bob Buyer <{student.email}>")
    await row.get_by_role("link", name=course["title"]).click()
    await expect(page.locator(".facts .buyer")).to_have_text(f"Bob Buyer <{student.email}>")


async def test_login_page_asks_for_the_providers_once_and_probes_nothing(page: Page) -> None:
    requests: list[str] = []
    console_errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    await page.goto("/#/login")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    await page.goto("/#/register")
    await page.goto("/#/login")
    await page.wait_for_load_state("networkidle")

    assert [url for url in requests if url.endswith("/api/v1/auth/providers")] != []
    assert len([url for url in requests if "/auth/providers" in url]) == 1
    assert not [url for url in requests if "/oidc/" in url]
    assert console_errors == []
    # This server configures no provider: no sign-in button, no divider.
    await expect(page.locator(".oidc")).to_be_hidden()
