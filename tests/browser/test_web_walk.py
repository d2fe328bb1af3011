"""Every route as each role (visitor, student, instructor, admin), and every link the pages
and e-mails make: no `null`/`undefined`/`NaN`, no console error, each page titled as
itself, and no serious or critical axe-core violation. Charts show the tables' figures.
Instructor and admin walk in the dark theme, so both themes meet axe's contrast rules."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, DESKTOP, mailed_link, snap
from tests.browser.test_web_client import log_in, member
from tests.helpers import API, Member
from tests.purchasing import buy, create_slot

STRAY = re.compile(r"\b(null|undefined|NaN)\b")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The router's title for each route; pages that load a name (a course's, a poem's...) are
# titled by it: their h1. A page asking to log in keeps its route's title.
STATIC_TITLES = {
    "#/": "Courses",
    "#/advisories": "Advisory sessions",
    "#/checkout": "Checkout",
    "#/learning": "My learning",
    "#/purchases/:id": "Purchase",
    "#/poems": "Poems",
    "#/teach": "Teach",
    "#/admin": "Admin",
    "#/login": "Log in",
    "#/register": "Sign up",
    "#/forgot-password": "Forgot your password?",
    "#/reset-password": "Choose a new password",
    "#/verify-email": "Confirm your e-mail",
}
ROUTE_TITLES = {
    "#/courses/:id": "Course",
    "#/courses/:id/lessons/:id": "Lesson",
    "#/instructors/:id": "Instructor",
    "#/poems/:id": "Poem",
    "#/teach/courses/:id": "Edit course",
}
# Counts fetches in flight, so a check waits until the page has everything it asked for.
COUNT_FETCHES = """
(() => {
  const original = window.fetch;
  window.__inflight = 0;
  window.fetch = (...args) => {
    window.__inflight += 1;
    return original(...args).finally(() => { window.__inflight -= 1; });
  };
})();
"""
SETTLED = (
    "() => document.documentElement.dataset.ready === 'true' && window.__inflight === 0"
    " && !document.querySelector('main .loading')"
)
AXE_SCRIPT = Axe().axe_script  # axe-core's own axe.min.js, shipped in the wheel


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page; injected once per document (hash routes keep it)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SCRIPT)
    results = await page.evaluate("() => axe.run({resultTypes: ['violations']})")
    violations: list[dict[str, Any]] = results["violations"]
    return violations


async def axe_catches_a_nameless_button(page: Page) -> None:
    """The check itself works: a button without a name is a critical violation to it."""
    await page.goto("/#/")
    await page.evaluate(
        "() => document.querySelector('main').append(document.createElement('button'))"
    )
    assert "button-name" in [v["id"] for v in await axe_violations(page)]
    await page.evaluate("() => document.querySelector('main > button').remove()")


def shape(address: str) -> str:
    """`#/courses/<uuid>?x=1` -> `#/courses/:id`: one visit per kind of page."""
    path = address.split("?")[0].rstrip("/") or "#"
    return UUID.sub(":id", path if path != "#" else "#/")


@dataclass
class Walk:
    page: Page
    role: str
    console: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    async def settle(self) -> None:
        # (Polled with evaluate: wait_for_function evaluates a string, which the CSP forbids.)
        # Settled twice in a row, apart: a page may start its next request as one ends.
        calm = 0
        for _ in range(200):
            calm = calm + 1 if await self.page.evaluate(SETTLED) else 0
            if calm == 2:
                return
            await self.page.wait_for_timeout(100)
        raise AssertionError(f"{self.page.url} never settled")

    async def visit(self, address: str) -> list[str]:
        """Open `address`, check it, and answer the app's own links found on it."""
        self.console.clear()
        await self.page.goto(f"/{address}")
        await self.settle()
        kind = shape(address)
        self.seen.add(kind)
        where = f"{self.role} {address}"
        text = await self.page.locator("main").inner_text()
        title = await self.page.title()
        heading = self.page.get_by_role("heading", level=1)
        h1 = (await heading.first.inner_text()) if await heading.count() else ""
        if STRAY.search(text) or STRAY.search(title):
            self.problems.append(f"{where}: null/undefined/NaN in {title!r} / {text[:300]!r}")
        if "Page not found" in text:
            self.problems.append(f"{where}: Page not found")
        expected = STATIC_TITLES.get(kind)
        if expected is None:
            failed = await self.page.locator("main .notice.error:not([hidden])").count()
            asks_login = h1 == "Please log in" or failed
            expected = ROUTE_TITLES[kind] if asks_login else h1
        if title != f"{expected} · TechTribe":
            self.problems.append(f"{where}: title {title!r}, expected {expected!r}")
        if self.console:
            self.problems.append(f"{where}: console errors {self.console}")
        for violation in await axe_violations(self.page):
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.problems.append(f"{where}: axe {violation['id']} {targets}")
        links: list[str] = await self.page.eval_on_selector_all(
            "main a[href^='#/']", "links => links.map(a => a.getAttribute('href'))"
        )
        return links

    async def walk(self, addresses: list[str]) -> None:
        found: list[str] = []
        for address in addresses:
            found += await self.visit(address)
        # Then one of each kind of page the app links to that the list above didn't cover.
        for link in found:
            if shape(link) not in self.seen:
                await self.visit(link)


@dataclass
class World:
    teacher: Member
    student: Member
    course: dict[str, Any]
    lesson_id: str
    poem_id: str
    purchase_id: str


async def world(api: httpx.AsyncClient) -> World:
    teacher = await member(api, role="instructor", name="Ivy Instructor")
    body = {
        "title": f"Walking the routes {uuid.uuid4().hex[:6]}",
        "description": "Every page, every role.",
        "price_cents": 2500,
        "currency": "USD",
        "level": "beginner",
        "tags": ["walks"],
        "published": True,
    }
    course = (await api.post(f"{API}/courses", json=body, headers=teacher.headers)).json()
    lesson = await api.post(
        f"{API}/courses/{course['id']}/lessons",
        json={"title": "First steps", "content": "Go.", "position": 1},
        headers=teacher.headers,
    )
    slot = await create_slot(api, teacher, capacity=2, topic="Walk-through")
    student = await member(api, name="Sid Student")
    purchase = await buy(api, student, ("course", course["id"]), ("advisory", slot["id"]))
    assert purchase.status_code == 201, purchase.text
    poem = await api.post(
        f"{API}/poems", json={"title": "Footsteps", "body": "One, two."}, headers=student.headers
    )
    return World(
        teacher,
        student,
        course,
        lesson.json()["id"],
        poem.json()["id"],
        purchase.json()["id"],
    )


async def open_walk(browser: Any, server: str, role: str, scheme: str) -> Walk:
    context = await browser.new_context(viewport=DESKTOP, base_url=server, color_scheme=scheme)
    context.set_default_timeout(10_000)
    await context.add_init_script(COUNT_FETCHES)
    page = await context.new_page()
    walk = Walk(page, role)
    page.on("console", lambda m: walk.console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: walk.console.append(str(error)))
    return walk


async def chart_matches_table(page: Page) -> int:
    """Each bar's figure is its table cell's, and bars are drawn to one scale."""
    bars: list[dict[str, Any]] = await page.eval_on_selector_all(
        "figure.chart rect.chart-bar",
        """bars => bars.map(bar => {
          const currency = bar.closest('figure').dataset.chart.match(/\\((\\w+)\\)$/)[1];
          const row = document.querySelector(
            `tr[data-month="${bar.dataset.category}"][data-currency="${currency}"]`);
          const cell = row && row.querySelector(`td[data-series="${bar.dataset.series}"]`);
          return {
            title: bar.querySelector('title').textContent,
            value: Number(bar.dataset.value),
            height: Number(bar.getAttribute('height')),
            figure: bar.closest('figure').dataset.chart,
            cell: cell ? cell.textContent : null,
          };
        })""",
    )
    assert bars, "no chart"
    for bar in bars:
        assert bar["cell"] is not None, bar
        assert bar["title"].endswith(f": {bar['cell']}"), bar
    for figure in {bar["figure"] for bar in bars}:
        drawn = [b for b in bars if b["figure"] == figure and b["value"] > 0]
        scales = [b["height"] / b["value"] for b in drawn]
        assert max(scales) - min(scales) <= 0.01 * max(scales), (figure, drawn)
    return len(bars)


async def test_every_route_as_every_role_and_every_link_they_make(
    browser: Any, server: str, api: httpx.AsyncClient
) -> None:
    w = await world(api)
    course, lesson = w.course["id"], w.lesson_id
    public = [
        "#/",
        f"#/courses/{course}",
        f"#/courses/{course}/lessons/{lesson}",
        f"#/instructors/{w.teacher.id}",
        "#/advisories",
        f"#/checkout?kind=course&id={course}",
        "#/learning",
        "#/poems",
        f"#/poems/{w.poem_id}",
        "#/teach",
        "#/admin",
    ]
    guest = ["#/login", "#/register", "#/forgot-password", "#/reset-password?token=x"]
    problems: list[str] = []
    walks = []
    for role, scheme in (
        ("visitor", "light"),
        ("student", "light"),
        ("instructor", "dark"),
        ("admin", "dark"),
    ):
        walk = await open_walk(browser, server, role, scheme)
        walks.append(walk)
        addresses = list(public)
        if role == "visitor":
            await axe_catches_a_nameless_button(walk.page)
            addresses += [*guest, f"#/purchases/{w.purchase_id}"]
        elif role == "student":
            await log_in(walk.page, w.student.email)
            # The links the e-mails make, as delivered.
            receipt = await mailed_link(
                w.student.email, "Your TechTribe receipt", r"http://\S+/#/purchases/[\w-]+"
            )
            welcome = await mailed_link(
                w.student.email, "Welcome to TechTribe", r"http://\S+/#/verify-email\?\S+"
            )
            addresses += [receipt.split("/", 3)[3], welcome.split("/", 3)[3]]
        elif role == "instructor":
            await log_in(walk.page, w.teacher.email)
            addresses.append(f"#/teach/courses/{course}")
        else:
            await log_in(walk.page, ADMIN_EMAIL, ADMIN_PASSWORD)
            addresses += [f"#/purchases/{w.purchase_id}", f"#/teach/courses/{course}"]
        await walk.walk(addresses)
        problems += walk.problems
        if role in ("instructor", "admin"):
            area = "#/teach" if role == "instructor" else "#/admin"
            await walk.page.goto(f"/{area}")
            await walk.settle()
            assert await chart_matches_table(walk.page) >= 4
            for theme in ("dark", "light"):
                await walk.page.emulate_media(color_scheme=theme)
                await snap(walk.page, f"chart-{role}-{theme}")
    for walk in walks:
        await walk.page.context.close()

    assert not problems, "\n".join(problems)
    # The walks met every kind of page there is.
    seen = set().union(*(walk.seen for walk in walks))
    assert set(STATIC_TITLES) | set(ROUTE_TITLES) <= seen, sorted(seen)


async def test_search_buy_and_rate_with_the_keyboard_alone(
    page: Page, api: httpx.AsyncClient
) -> None:
    w = await world(api)
    buyer = await member(api, name="Kay Board")
    word = w.course["title"].split()[-1]
    await log_in(page, buyer.email)
    await page.goto("/#/")

    async def tab_to(target: Any, limit: int = 40) -> None:
        for _ in range(limit):
            await page.keyboard.press("Tab")
            focused = await page.evaluate_handle("document.activeElement")
            # Whatever has the focus shows it.
            outline = await focused.evaluate("el => getComputedStyle(el).outlineStyle")
            assert outline != "none", await focused.evaluate("el => el.outerHTML.slice(0, 120)")
            if await target.evaluate("el => el === document.activeElement"):
                return
        raise AssertionError(f"Tab never reached {target}")

    search = page.get_by_role("searchbox", name="Search")
    await tab_to(search)
    await page.keyboard.type(word)
    await page.keyboard.press("Enter")
    await expect(page.locator(".course-card")).to_have_count(1)
    await tab_to(page.get_by_role("link", name=w.course["title"]))
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text(w.course["title"])
    await expect(page.get_by_text("No reviews yet.")).to_be_visible()
    await tab_to(page.get_by_role("link", name=re.compile(r"^Buy for")))
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Card number")).to_be_visible()
    await tab_to(page.get_by_label("Card number"))
    await page.keyboard.type("4242424242424242")
    await tab_to(page.get_by_label("CVC"))
    await page.keyboard.type("123")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text(re.compile(r"Paid \$25\.00 with visa"))).to_be_visible()

    await page.goto(f"/#/poems/{w.poem_id}")
    await expect(page.get_by_label("Score")).to_be_visible()
    await tab_to(page.get_by_label("Score"))
    await page.keyboard.press("ArrowDown")  # 5 -> 4
    await tab_to(page.get_by_role("button", name="Rate"))
    await page.keyboard.press("Enter")
    await expect(page.locator("[data-testid=average]")).to_have_text("4.0 / 5")
