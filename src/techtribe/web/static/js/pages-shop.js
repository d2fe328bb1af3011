// Catalog, course page, lesson reader, advisories, checkout and "my learning".

import { ApiError, get, newKey, post, query } from "./api.js";
import { day, field, h, mount, money, select, spinner, stars, when } from "./dom.js";
import { apiForm, errorBox, flash, go, isRole, loginHref, loginLinks, needLogin, pageTitle, pager, session, setTitle } from "./ui.js";
import { WORDS, count, seatsLeft } from "./words.js";

const LEVELS = [["", "Any level"], ["beginner", "Beginner"], ["intermediate", "Intermediate"], ["advanced", "Advanced"]];
const SORTS = [["newest", "Newest"], ["price", "Price: low to high"], ["-price", "Price: high to low"], ["rating", "Best rated"]];

function toCents(text) {
  if (text === undefined || text === null || String(text).trim() === "") return "";
  const value = Number(String(text).replace(",", "."));
  return Number.isFinite(value) && value >= 0 ? Math.round(value * 100) : "";
}

function courseCard(course) {
  return h(
    "li",
    { class: "card course-card" },
    h("h2", { class: "card-title" }, h("a", { href: `#/courses/${course.id}` }, course.title)),
    h("p", { class: "muted" }, `by ${course.instructor.full_name}`),
    h("p", { class: "clamp" }, course.description),
    h("div", { class: "meta" }, h("span", { class: `badge level-${course.level}` }, course.level), course.tags.map((tag) => h("span", { class: "tag" }, tag))),
    h("div", { class: "card-foot" }, h("strong", { class: "price" }, money(course.price_cents, course.currency)), h("span", { class: "muted" }, `${stars(course.average_score)} · ${count(course.reviews_count, WORDS.review)}`)),
  );
}

export function catalogPage(params) {
  const filters = {
    q: params.get("q") || "",
    tag: params.get("tag") || "",
    level: params.get("level") || "",
    min: params.get("min") || "",
    max: params.get("max") || "",
    sort: params.get("sort") || "newest",
  };
  const tagSelect = select("tag", [["", "Any tag"]], filters.tag);
  get("/tags?limit=100", { auth: false })
    .then((page) => {
      for (const tag of page.items) {
        tagSelect.appendChild(h("option", { value: tag.name, selected: tag.name === filters.tag }, `${tag.name} (${tag.courses_count})`));
      }
    })
    .catch(() => {});
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find a course" },
    field("Search", "q", { type: "search", value: filters.q, placeholder: "Python, SQL, testing…" }),
    field("Tag", "tag", {}, { control: tagSelect }),
    field("Level", "level", {}, { control: select("level", LEVELS, filters.level) }),
    field("Min price", "min", { type: "number", min: 0, step: "0.01", inputmode: "decimal", value: filters.min }),
    field("Max price", "max", { type: "number", min: 0, step: "0.01", inputmode: "decimal", value: filters.max }),
    field("Sort by", "sort", {}, { control: select("sort", SORTS, filters.sort) }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    go(`#/${query(values)}`);
  });
  const list = h("ul", { class: "grid", "aria-label": "Courses" });
  const { controls, next } = pager(
    (cursor) =>
      get(`/courses${query({ q: filters.q, tag: filters.tag, level: filters.level, min_price: toCents(filters.min), max_price: toCents(filters.max), sort: filters.sort, limit: 12, cursor })}`, { auth: false }),
    courseCard,
    list,
    { empty: "No course matches. Try fewer filters." },
  );
  next();
  return h(
    "section",
    {},
    h("div", { class: "hero" }, h("h1", {}, "Learn to program, one course at a time"), h("p", {}, "Courses from working engineers, one-to-one advisory sessions, and a poems corner for the quieter hours.")),
    form,
    list,
    controls,
  );
}

export function coursePage(courseId) {
  const root = h("section", { class: "course" }, spinner());
  load();
  return root;

  async function load() {
    let course;
    try {
      course = await get(`/courses/${encodeURIComponent(courseId)}`);
    } catch (error) {
      mount(root, errorBox(error));
      return;
    }
    let owned = false;
    if (session.me) {
      owned = (await ownedCourseIds()).has(course.id);
    }
    const mayRead = owned || isRole("admin") || (session.me && session.me.id === course.instructor.id);
    setTitle(course.title, root);
    const outline = h(
      "ol",
      { class: "outline" },
      course.lessons.map((lesson) =>
        h("li", {}, mayRead ? h("a", { href: `#/courses/${course.id}/lessons/${lesson.id}` }, lesson.title) : h("span", {}, lesson.title)),
      ),
    );
    let buy;
    if (owned) {
      buy = h("p", { class: "notice ok" }, "You own this course. ", course.lessons[0] ? h("a", { href: `#/courses/${course.id}/lessons/${course.lessons[0].id}` }, "Start reading") : null);
    } else if (course.published && !course.archived) {
      buy = h("a", { class: "button", href: session.me ? `#/checkout?kind=course&id=${course.id}` : loginHref(`#/checkout?kind=course&id=${course.id}`) }, `Buy for ${money(course.price_cents, course.currency)}`);
    } else {
      buy = h("p", { class: "notice" }, course.archived ? "This course is archived." : "This course is a draft: only you and admins can see it.");
    }
    const reviews = h("ul", { class: "reviews" });
    const { controls, next } = pager(
      (cursor) => get(`/courses/${course.id}/reviews${query({ cursor, limit: 10 })}`, { auth: false }),
      (review) => h("li", { class: "review" }, h("p", {}, h("strong", {}, `${review.score} / 5`), ` · ${review.author.full_name} · ${day(review.created_at)}`), review.comment ? h("p", { class: "prose" }, review.comment) : null),
      reviews,
      { empty: "No reviews yet." },
    );
    next();
    const reviewForm = owned
      ? apiForm({
          submitText: "Post review",
          children: [
            field("Score", "score", {}, { control: select("score", [["5", "5 — excellent"], ["4", "4"], ["3", "3"], ["2", "2"], ["1", "1 — poor"]], "5") }),
            field("Comment", "comment", {}, { control: h("textarea", { name: "comment", rows: 3 }) }),
          ],
          action: async (values) => {
            await post(`/courses/${course.id}/reviews`, { score: Number(values.score), comment: values.comment });
            flash("Thank you for your review.");
            go(location.hash);
          },
        })
      : null;
    mount(
      root,
      h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Courses"), " / ", course.title),
      h(
        "div",
        { class: "course-layout" },
        h(
          "div",
          {},
          h("h1", {}, course.title),
          h("p", { class: "muted" }, "by ", h("a", { href: `#/instructors/${course.instructor.id}` }, course.instructor.full_name), ` · ${stars(course.average_score)} · ${count(course.reviews_count, WORDS.review)}`),
          h("div", { class: "meta" }, h("span", { class: `badge level-${course.level}` }, course.level), course.tags.map((tag) => h("a", { class: "tag", href: `#/?tag=${encodeURIComponent(tag)}` }, tag))),
          h("p", { class: "prose" }, course.description),
          h("h2", {}, "Outline"),
          course.lessons.length ? outline : h("p", { class: "muted" }, "No lessons yet."),
          h("h2", {}, "Reviews"),
          reviews,
          controls,
          reviewForm ? h("h3", {}, "Your review") : null,
          reviewForm,
        ),
        h("aside", { class: "card buy-box" }, h("p", { class: "price big" }, money(course.price_cents, course.currency)), buy, h("p", { class: "muted small" }, `${count(course.lessons.length, WORDS.lesson)} · lifetime access`)),
      ),
    );
  }
}

async function ownedCourseIds() {
  const ids = new Set();
  let cursor = null;
  do {
    const page = await get(`/users/me/enrollments${query({ limit: 100, cursor })}`);
    for (const course of page.items) ids.add(course.id);
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

export function lessonPage(courseId, lessonId) {
  if (!session.me) return [pageTitle("Please log in"), loginLinks("Log in to read this lesson: it comes with its course.")];
  const root = h("section", { class: "reader" }, spinner());
  (async () => {
    try {
      const [course, lesson] = await Promise.all([get(`/courses/${encodeURIComponent(courseId)}`), get(`/courses/${encodeURIComponent(courseId)}/lessons/${encodeURIComponent(lessonId)}`)]);
      setTitle(lesson.title, root);
      const index = course.lessons.findIndex((item) => item.id === lesson.id);
      const prev = course.lessons[index - 1];
      const following = course.lessons[index + 1];
      mount(
        root,
        h("p", { class: "crumbs" }, h("a", { href: `#/courses/${course.id}` }, course.title), ` / lesson ${index + 1} of ${course.lessons.length}`),
        h("article", { class: "card lesson" }, h("h1", {}, lesson.title), h("div", { class: "prose lesson-body" }, lesson.content)),
        h(
          "nav",
          { class: "lesson-nav", "aria-label": "Lessons" },
          prev ? h("a", { class: "button secondary", href: `#/courses/${course.id}/lessons/${prev.id}` }, `← ${prev.title}`) : h("span"),
          following ? h("a", { class: "button", href: `#/courses/${course.id}/lessons/${following.id}` }, `${following.title} →`) : h("a", { class: "button secondary", href: "#/learning" }, "Back to my learning"),
        ),
      );
    } catch (error) {
      mount(root, errorBox(error), error.code === "not_enrolled" ? h("p", {}, h("a", { href: `#/courses/${courseId}` }, "See the course")) : null);
    }
  })();
  return root;
}

function slotItem(slot, { book = true } = {}) {
  const full = slot.seats_left <= 0;
  return h(
    "li",
    { class: "card slot" },
    h("h2", { class: "card-title" }, slot.topic),
    h("p", { class: "muted" }, `with ${slot.instructor.full_name}`),
    h("p", {}, h("time", { datetime: slot.starts_at }, when(slot.starts_at)), ` · ${slot.duration_minutes} min`),
    slot.description ? h("p", { class: "clamp" }, slot.description) : null,
    h(
      "div",
      { class: "card-foot" },
      h("strong", { class: "price" }, money(slot.price_cents, slot.currency)),
      h("span", { class: "muted" }, slot.cancelled ? "cancelled" : slot.booked_at ? `You have a seat · ${seatsLeft(slot)}` : seatsLeft(slot)),
    ),
    book && !full && !slot.cancelled ? h("a", { class: "button small", href: session.me ? `#/checkout?kind=advisory&id=${slot.id}` : loginHref(`#/checkout?kind=advisory&id=${slot.id}`) }, "Book") : null,
  );
}

export function advisoriesPage() {
  const list = h("ul", { class: "grid", "aria-label": "Advisory slots" });
  const { controls, next } = pager((cursor) => get(`/advisories${query({ available: "true", limit: 12, cursor })}`, { auth: false }), (slot) => slotItem(slot), list, { empty: "No open slots right now. Check back soon." });
  next();
  return h("section", {}, pageTitle("Advisory sessions"), h("p", { class: "lead" }, "Book a one-to-one session (asesoría) with an instructor."), list, controls);
}

const SANDBOX_CARDS = [
  ["4242 4242 4242 4242", "pays"],
  ["4000 0000 0000 0002", "is declined"],
];

export function checkoutPage(params) {
  if (!session.me) return needLogin();
  const kind = params.get("kind") === "advisory" ? "advisory" : "course";
  const id = params.get("id") || "";
  const root = h("section", { class: "checkout" }, pageTitle("Checkout"), spinner());
  (async () => {
    let item;
    try {
      item = await get(kind === "course" ? `/courses/${encodeURIComponent(id)}` : `/advisories/${encodeURIComponent(id)}`);
    } catch (error) {
      mount(root, pageTitle("Checkout"), errorBox(error));
      return;
    }
    const title = kind === "course" ? item.title : `${item.topic} (${when(item.starts_at)})`;
    // One key per attempt shown on screen: a double submit or a retry after a network
    // failure is the same purchase, charged once. A changed card makes a new attempt.
    let key = newKey();
    let lastBody = null;
    const year = new Date().getFullYear();
    const form = apiForm({
      submitText: `Pay ${money(item.price_cents, item.currency)}`,
      className: "stack card-form",
      children: [
        field("Name on card", "holder_name", { autocomplete: "cc-name", required: true, value: session.me.full_name }),
        field("Card number", "card_number", { autocomplete: "cc-number", inputmode: "numeric", required: true, placeholder: "4242 4242 4242 4242" }),
        h(
          "div",
          { class: "row" },
          field("Month", "exp_month", {}, { control: select("exp_month", Array.from({ length: 12 }, (_, i) => [String(i + 1), String(i + 1).padStart(2, "0")]), "12", { autocomplete: "cc-exp-month" }) }),
          field("Year", "exp_year", {}, { control: select("exp_year", Array.from({ length: 12 }, (_, i) => [String(year + i), String(year + i)]), String(year + 2), { autocomplete: "cc-exp-year" }) }),
          field("CVC", "cvc", { autocomplete: "cc-csc", inputmode: "numeric", required: true, maxlength: 4, placeholder: "123" }),
        ),
      ],
      action: async (values) => {
        const body = {
          items: [{ kind, id: item.id }],
          payment: {
            card_number: values.card_number.replace(/[\s-]/g, ""),
            exp_month: Number(values.exp_month),
            exp_year: Number(values.exp_year),
            cvc: values.cvc.trim(),
            holder_name: values.holder_name.trim(),
          },
        };
        const text = JSON.stringify(body);
        if (lastBody !== null && lastBody !== text) key = newKey();
        lastBody = text;
        let purchase;
        try {
          purchase = await post("/purchases", body, { headers: { "Idempotency-Key": key } });
        } catch (error) {
          // A declined card is final for this attempt: the next one is a new purchase.
          if (error instanceof ApiError && error.status !== 0) key = newKey();
          throw error;
        }
        mount(
          root,
          pageTitle("Thank you!"),
          h(
            "div",
            { class: "card receipt", role: "status" },
            h("p", {}, `Paid ${money(purchase.total_cents, purchase.currency)} with ${purchase.card.brand} ending in ${purchase.card.last4}.`),
            h("ul", {}, purchase.items.map((line) => h("li", {}, line.title))),
            h(
              "p",
              { class: "actions" },
              kind === "course" ? h("a", { class: "button", href: `#/courses/${item.id}` }, "Go to the course") : null,
              h("a", { class: "button secondary", href: `#/purchases/${purchase.id}` }, "See the receipt"),
              h("a", { class: "button secondary", href: "#/learning" }, "My learning"),
            ),
          ),
        );
      },
    });
    mount(
      root,
      pageTitle("Checkout"),
      h(
        "div",
        { class: "checkout-layout" },
        h("div", { class: "card" }, h("h2", {}, "Card details"), form),
        h(
          "aside",
          {},
          h("div", { class: "card summary" }, h("h2", {}, "Order"), h("p", {}, title), h("p", { class: "price big" }, money(item.price_cents, item.currency))),
          h(
            "div",
            { class: "card sandbox", "aria-label": "Sandbox test cards" },
            h("h2", {}, "Sandbox test cards (development only)"),
            h("p", { class: "small" }, "This server's payment sandbox charges no real money. Any future expiry and any 3-digit CVC work."),
            h("ul", {}, SANDBOX_CARDS.map(([number, outcome]) => h("li", {}, h("code", {}, number), ` ${outcome}`))),
          ),
        ),
      ),
    );
  })();
  return root;
}

export function learningPage() {
  if (!session.me) return needLogin();
  const courses = h("ul", { class: "grid", "aria-label": "My courses" });
  const bookings = h("ul", { class: "grid", "aria-label": "My bookings" });
  const purchases = h("ul", { class: "rows", "aria-label": "My purchases" });
  const c = pager(
    (cursor) => get(`/users/me/enrollments${query({ limit: 12, cursor })}`),
    (course) => h("li", { class: "card course-card" }, h("h3", { class: "card-title" }, h("a", { href: `#/courses/${course.id}` }, course.title)), h("p", { class: "muted" }, `by ${course.instructor.full_name} · since ${day(course.enrolled_at)}`), h("a", { class: "button small", href: `#/courses/${course.id}` }, "Open")),
    courses,
    { empty: "You don't own a course yet. Browse the catalog to find one." },
  );
  const b = pager((cursor) => get(`/users/me/bookings${query({ limit: 12, cursor })}`), (slot) => slotItem(slot, { book: false }), bookings, { empty: "No advisory sessions booked." });
  const p = pager((cursor) => get(`/purchases${query({ limit: 10, cursor })}`), purchaseRow, purchases, { empty: "No purchases yet." });
  c.next();
  b.next();
  p.next();
  return h(
    "section",
    {},
    pageTitle("My learning"),
    h("h2", {}, "Courses"),
    courses,
    c.controls,
    h("h2", {}, "Advisory sessions"),
    bookings,
    b.controls,
    h("h2", {}, "Purchases"),
    purchases,
    p.controls,
  );
}

function buyerText(buyer) {
  if (!buyer) return null;
  if (!buyer.full_name) return "a deleted account";
  return buyer.email ? `${buyer.full_name} <${buyer.email}>` : buyer.full_name;
}

export function purchaseRow(purchase, extra = null) {
  const buyer = buyerText(purchase.buyer);
  return h(
    "li",
    { class: "row-item", "data-purchase": purchase.id },
    h(
      "div",
      {},
      h("strong", {}, h("a", { href: `#/purchases/${purchase.id}` }, purchase.items.map((line) => line.title).join(", "))),
      buyer ? h("p", { class: "small buyer" }, `Bought by ${buyer}`) : null,
      h("p", { class: "muted small" }, `${when(purchase.created_at)} · ${purchase.card.brand} •••• ${purchase.card.last4}`),
    ),
    h("div", { class: "row-end" }, h("span", { class: `badge status-${purchase.status}` }, purchase.status), h("strong", {}, money(purchase.total_cents, purchase.currency)), extra),
  );
}

export function instructorPage(instructorId) {
  const root = h("section", {}, spinner());
  get(`/instructors/${encodeURIComponent(instructorId)}`, { auth: false })
    .then((profile) => {
      setTitle(profile.full_name, root);
      mount(
        root,
        pageTitle(profile.full_name),
        profile.specialization ? h("p", { class: "lead" }, profile.specialization) : null,
        profile.bio ? h("p", { class: "prose" }, profile.bio) : null,
        h("h2", {}, "Courses"),
        profile.courses && profile.courses.length
          ? h("ul", { class: "grid", "aria-label": `Courses by ${profile.full_name}` }, profile.courses.map(courseCard))
          : h("p", { class: "muted empty" }, `${profile.full_name} has no published course yet.`),
      );
    })
    .catch((error) => mount(root, errorBox(error)));
  return root;
}

/** One purchase, as its receipt: what was bought, with which card, and what became of it. */
export function purchasePage(purchaseId) {
  if (!session.me) return needLogin();
  const root = h("section", { class: "purchase" }, pageTitle("Purchase"), spinner());
  (async () => {
    let purchase;
    try {
      purchase = await get(`/purchases/${encodeURIComponent(purchaseId)}`);
    } catch (error) {
      mount(root, pageTitle("Purchase"), errorBox(error), h("p", {}, h("a", { href: "#/learning" }, "Your purchases are under My learning"), "."));
      return;
    }
    const buyer = buyerText(purchase.buyer);
    const lines = purchase.items.map((line) =>
      h(
        "tr",
        { "data-item": line.id },
        h("th", { scope: "row" }, line.kind === "course" ? h("a", { href: `#/courses/${line.id}` }, line.title) : line.title),
        h("td", {}, line.kind === "course" ? "Course" : "Advisory session"),
        h("td", {}, line.refunded ? "refunded" : line.kind === "course" ? "yours to read" : h("a", { href: "#/learning" }, "see your bookings")),
        h("td", {}, money(line.price_cents, line.currency)),
      ),
    );
    mount(
      root,
      h("p", { class: "crumbs" }, h("a", { href: isRole("admin") && purchase.user_id !== session.me.id ? "#/admin" : "#/learning" }, isRole("admin") && purchase.user_id !== session.me.id ? "Admin" : "My learning"), " / purchase"),
      pageTitle("Purchase", h("span", { class: `badge status-${purchase.status}` }, purchase.status)),
      h(
        "dl",
        { class: "card facts" },
        h("dt", {}, "Bought"),
        h("dd", {}, when(purchase.created_at)),
        buyer ? [h("dt", {}, "Buyer"), h("dd", { class: "buyer" }, buyer)] : null,
        h("dt", {}, "Paid with"),
        h("dd", {}, `${purchase.card.brand} ending in ${purchase.card.last4}`),
        h("dt", {}, "Total"),
        h("dd", {}, h("strong", {}, money(purchase.total_cents, purchase.currency))),
        h("dt", {}, "Status"),
        h("dd", { "data-testid": "status" }, purchase.refunded_at ? `Refunded on ${when(purchase.refunded_at)}` : "Paid"),
      ),
      h("h2", {}, "Items"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", {}, count(purchase.items.length, { one: "item", other: "items" })),
          h("thead", {}, h("tr", {}, ["Item", "Kind", "Access", "Price"].map((text) => h("th", { scope: "col" }, text)))),
          h("tbody", {}, lines),
        ),
      ),
    );
  })();
  return root;
}
