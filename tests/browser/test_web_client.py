"""The web client, end to end in Chromium against a real server: what people do in a browser."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, snap
from tests.helpers import API, PASSWORD, Member, bearer, login, register, unique_email
from tests.purchasing import DECLINED_CARD, buy


async def member(
    api: httpx.AsyncClient, *, role: str = "student", name: str = "Test Member"
) -> Member:
    """A member made through the API; roles other than student are granted by the admin."""
    user = await register(api, full_name=name)
    if role != "student":
        admin = await login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
        response = await api.patch(
            f"{API}/users/{user['id']}", json={"role": role}, headers=bearer(admin["access_token"])
        )
        assert response.status_code == 200, response.text
    tokens = await login(api, user["email"])
    return Member(
        user["id"], user["email"], PASSWORD, tokens["access_token"], tokens["refresh_token"]
    )


async def published_course(api: httpx.AsyncClient, word: str, **fields: Any) -> dict[str, Any]:
    teacher = await member(api, role="instructor", name="Grace Teacher")
    body = {
        "title": f"Async {word} in depth",
        "description": f"Everything about {word}.\nWith exercises.",
        "price_cents": 4900,
        "currency": "USD",
        "level": "intermediate",
        "tags": ["python"],
        "published": True,
        **fields,
    }
    course = (await api.post(f"{API}/courses", json=body, headers=teacher.headers)).json()
    lesson = {
        "title": "Getting started",
        "content": f"First steps with {word}.\n\n  Indented.",
        "position": 1,
    }
    response = await api.post(
        f"{API}/courses/{course['id']}/lessons", json=lesson, headers=teacher.headers
    )
    assert response.status_code == 201, response.text
    return dict(course)


def token_type(value: str) -> str | None:
    try:
        claims = value.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except (IndexError, ValueError):
        return None
    kind: str | None = payload.get("type")
    return kind


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/#/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


async def pay(page: Page, number: str) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("CVC").fill("123")
    await page.get_by_role("button", name=re.compile(r"^Pay ")).click()


async def test_visitor_registers_logs_in_finds_buys_and_reads_a_lesson(
    page: Page, api: httpx.AsyncClient
) -> None:
    word = f"kestrel{uuid.uuid4().hex[:6]}"
    course = await published_course(api, word)
    email = unique_email("visitor")

    await page.goto("/")
    await expect(page.locator(".course-card").first).to_be_visible()
    await snap(page, "catalog")
    await page.get_by_role("link", name="Sign up").click()
    await page.get_by_label("Full name").fill("Vera Visitor")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator("#who")).to_have_text("Vera Visitor")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()
    await log_in(page, email)

    await page.goto("/#/")
    await page.get_by_role("searchbox", name="Search").fill(word)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(".course-card")).to_have_count(1)
    await page.get_by_role("link", name=course["title"]).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])
    await snap(page, "course")
    await page.get_by_role("link", name=re.compile(r"^Buy for")).click()
    await expect(page.get_by_text("Sandbox test cards (development only)")).to_be_visible()
    await snap(page, "checkout")
    await pay(page, "4242 4242 4242 4242")
    await expect(
        page.get_by_text(re.compile(r"Paid \$49\.00 with visa ending in 4242"))
    ).to_be_visible()

    await page.get_by_role("link", name="Go to the course").click()
    await page.get_by_role("link", name="Getting started").click()
    body = page.locator(".lesson-body")
    await expect(body).to_contain_text(f"First steps with {word}.")
    assert (await body.inner_text()).endswith("\n\n  Indented.")  # whitespace kept
    await page.goto("/#/learning")
    courses = page.get_by_role("list", name="My courses")
    await expect(courses.get_by_role("link", name=course["title"])).to_be_visible()
    await snap(page, "learning")


async def test_declined_card_shows_the_error_and_grants_nothing(
    page: Page, api: httpx.AsyncClient
) -> None:
    course = await published_course(api, f"heron{uuid.uuid4().hex[:6]}")
    buyer = await member(api, name="Dee Clined")
    await log_in(page, buyer.email)

    await page.goto(f"/#/checkout?kind=course&id={course['id']}")
    await pay(page, DECLINED_CARD)
    await expect(page.get_by_role("alert")).to_have_text(
        "Your card was declined. Nothing was charged and nothing was bought."
    )

    owned = (await api.get(f"{API}/users/me/enrollments", headers=buyer.headers)).json()
    purchases = (await api.get(f"{API}/purchases", headers=buyer.headers)).json()
    assert owned["items"] == []
    assert purchases["items"] == []


async def test_field_errors_are_shown_next_to_the_field(page: Page) -> None:
    await page.goto("/#/register")
    await page.get_by_label("Full name").fill("Weak Password")
    await page.get_by_label("E-mail").fill(unique_email())
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    password = page.get_by_label("Password")
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("[data-error-for='password']")).to_be_visible()


async def test_member_publishes_a_poem_another_rates_it_and_the_author_sees_the_rating(
    page: Page, new_page: Any, api: httpx.AsyncClient
) -> None:
    author = await member(api, name="Pablo Poet")
    reader = await member(api, name="Rita Reader")
    title = f"Tide {uuid.uuid4().hex[:6]}"
    body = "The sea comes in,\n    and goes.\n\nAnd goes."

    await log_in(page, author.email)
    await page.goto("/#/poems")
    await page.get_by_text("Publish a poem").click()
    await page.get_by_label("Title").fill(title)
    await page.get_by_role("textbox", name="Poem", exact=True).fill(body)
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert await page.locator(".poem-body").inner_text() == body
    poem_url = page.url

    other = await new_page()
    await log_in(other, reader.email)
    await other.goto(poem_url)
    await other.get_by_label("Score").select_option("4")
    await other.get_by_label("Comment (optional)").fill("Quietly lovely.")
    await other.get_by_role("button", name="Rate").click()
    await expect(other.locator("[data-testid=average]")).to_have_text("4.0 / 5")

    await page.reload()
    await expect(page.locator("[data-testid=average]")).to_have_text("4.0 / 5")
    await expect(page.locator(".ratings")).to_contain_text("Rita Reader")
    await expect(page.locator(".ratings")).to_contain_text("Quietly lovely.")
    await expect(page.get_by_role("button", name="Rate")).to_have_count(0)  # not one's own
    await page.goto("/#/poems?sort=rating")
    await expect(page.get_by_role("link", name=title)).to_be_visible()
    await snap(page, "poems")


async def test_instructor_creates_and_publishes_a_course_that_then_appears_in_the_catalog(
    page: Page, new_page: Any, api: httpx.AsyncClient
) -> None:
    teacher = await member(api, role="instructor", name="Ines Instructor")
    title = f"Profiling Python {uuid.uuid4().hex[:6]}"
    await log_in(page, teacher.email)

    await page.get_by_role("link", name="Teach").click()
    await page.get_by_text("Create a course").click()
    form = page.locator("details", has_text="Create a course")
    await form.get_by_label("Title").fill(title)
    await form.get_by_label("Description").fill("Find the slow parts.")
    await form.get_by_label("Price").fill("19.99")
    await form.get_by_label("Level").select_option("advanced")
    await form.get_by_label("Tags").fill("python, performance")
    await form.get_by_role("button", name="Create course").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit: {title}")

    await page.get_by_label("Lesson title").fill("Measure first")
    await page.get_by_label("Content").fill("py-spy, then think.")
    await page.get_by_role("button", name="Add lesson").click()
    await expect(page.get_by_role("link", name="Measure first")).to_be_visible()
    await page.get_by_label("Published (shown in the catalog)").check()
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_text("Saved. The course is published.")).to_be_visible()
    await page.goto("/#/teach")
    await expect(page.get_by_role("link", name=title)).to_be_visible()
    await snap(page, "instructor")

    visitor = await new_page()
    await visitor.goto(f"/#/?q={title.split()[-1]}")
    card = visitor.locator(".course-card")
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text(title)
    await expect(card).to_contain_text("$19.99")


async def test_admin_refunds_a_purchase(page: Page, api: httpx.AsyncClient) -> None:
    course = await published_course(api, f"osprey{uuid.uuid4().hex[:6]}")
    student = await member(api, name="Stu Refund")
    purchase = (await buy(api, student, ("course", course["id"]))).json()

    await log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    await page.get_by_role("link", name="Admin").click()
    row = page.locator(f"[data-purchase='{purchase['id']}']")
    await expect(row).to_contain_text("paid")
    await snap(page, "admin")
    await row.get_by_role("button", name="Refund").click()
    await row.get_by_role("button", name="Confirm refund").click()
    await expect(page.locator(f"[data-purchase='{purchase['id']}']")).to_contain_text("refunded")

    stored = (await api.get(f"{API}/purchases/{purchase['id']}", headers=student.headers)).json()
    owned = (await api.get(f"{API}/users/me/enrollments", headers=student.headers)).json()
    assert stored["status"] == "refunded"
    assert owned["items"] == []


async def test_admin_changes_a_role(page: Page, api: httpx.AsyncClient) -> None:
    user = await member(api, name=f"Rolf {uuid.uuid4().hex[:6]}")
    await log_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    await page.goto("/#/admin")
    await page.get_by_role("searchbox", name="Name or e-mail").fill(user.email)
    await page.get_by_role("button", name="Find").click()
    row = page.locator(f"[data-user='{user.id}']")
    await row.get_by_role("combobox").select_option("instructor")
    await expect(row.get_by_role("status")).to_have_text("Saved.")
    me = (await api.get(f"{API}/users/me", headers=user.headers)).json()
    assert me["role"] == "instructor"


async def test_a_reload_keeps_the_session_and_logout_ends_it(
    page: Page, api: httpx.AsyncClient
) -> None:
    user = await member(api, name="Rhea Reload")
    await log_in(page, user.email)
    stored = await page.evaluate("Object.values(localStorage)")
    refresh_token = await page.evaluate("localStorage.getItem('techtribe.refresh_token')")
    assert refresh_token
    # The access token stays in memory: nothing stored is one.
    assert [token_type(value) for value in stored] == ["refresh"]

    await page.reload()
    await expect(page.locator("#who")).to_have_text("Rhea Reload")
    await page.goto("/#/learning")
    await expect(page.get_by_role("heading", name="My learning")).to_be_visible()

    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('techtribe.refresh_token')") is None
    await page.reload()
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()


async def test_a_poem_with_markup_in_its_title_renders_as_text(
    page: Page, api: httpx.AsyncClient
) -> None:
    author = await member(api, name="<b>Mallory</b>")
    title = '<img src=x onerror="window.__xss=1">'
    body = "<script>window.__xss=2</script>\n<i>not italic</i>"
    response = await api.post(
        f"{API}/poems", json={"title": title, "body": body}, headers=author.headers
    )
    poem = response.json()

    await page.goto("/#/poems")
    await expect(page.get_by_role("link", name=title)).to_be_visible()
    await page.goto(f"/#/poems/{poem['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert await page.locator(".poem-body").inner_text() == body
    await expect(page.get_by_text("by <b>Mallory</b>")).to_be_visible()
    assert await page.locator("main img, main script, main b, main i").count() == 0
    assert await page.evaluate("window.__xss") is None

    served = await api.get("/")
    assert "script-src 'self'" in served.headers["content-security-policy"]
