// The instructor area (courses, lessons, slots, earnings) and the admin area (users,
// purchases and refunds, revenue, failed e-mails).

import { ApiError, del, get, patch, post, query } from "./api.js";
import { day, field, h, mount, money, select, spinner, when } from "./dom.js";
import { apiForm, errorBox, flash, go, isRole, messageOf, pageTitle, pager, session, setTitle } from "./ui.js";
import { purchaseRow } from "./pages-shop.js";
import { barChart } from "./chart.js";
import { WORDS, count } from "./words.js";

const LEVELS = [["beginner", "Beginner"], ["intermediate", "Intermediate"], ["advanced", "Advanced"]];

function toCents(text) {
  const value = Number(String(text || "").replace(",", "."));
  // Not a number: sent as is, so the API's validation message lands next to the field.
  return Number.isFinite(value) && String(text).trim() !== "" ? Math.round(value * 100) : text;
}

function tagsOf(text) {
  return String(text || "").split(",").map((tag) => tag.trim()).filter(Boolean);
}

// The API lists only published courses; drafts made in this browser are remembered by id.
function draftsKey() {
  return `techtribe.my_courses.${session.me.id}`;
}

function rememberCourse(id) {
  const ids = new Set(JSON.parse(localStorage.getItem(draftsKey()) || "[]"));
  ids.add(id);
  localStorage.setItem(draftsKey(), JSON.stringify([...ids]));
}

function rememberedCourses() {
  try {
    return JSON.parse(localStorage.getItem(draftsKey()) || "[]");
  } catch {
    return [];
  }
}

const SERIES = [
  ["gross_cents", "Gross"],
  ["refunded_cents", "Refunded"],
  ["platform_fee_cents", "Platform fee"],
  ["instructor_share_cents", "Instructors' share"],
];

/** "2026-12" as "Dec 2026" (a calendar month, whatever the reader's time zone). */
function monthLabel(month) {
  const [year, number] = String(month).split("-").map(Number);
  if (!year || !number) return String(month);
  return new Date(Date.UTC(year, number - 1, 1)).toLocaleDateString(undefined, { month: "short", year: "numeric", timeZone: "UTC" });
}

function shortMoney(cents, currency) {
  try {
    const fmt = new Intl.NumberFormat(undefined, { style: "currency", currency, notation: "compact" });
    const digits = new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    return fmt.format(cents / 10 ** digits);
  } catch {
    return String(Math.round(cents / 100));
  }
}

/**
 * A revenue or earnings report: a chart per currency of its months, then the table with
 * every figure (per-currency totals first). `shareLabel` names the instructors' column.
 */
function reportView(report, { caption, shareLabel = "Instructors' share", chartLabel }) {
  const series = SERIES.map(([key, text]) => ({ key, label: key === "instructor_share_cents" ? shareLabel : text }));
  const months = report.groups;
  if (!report.currency_totals.length && !months.length) return h("p", { class: "muted" }, "No sales yet.");
  const currencies = [...new Set(months.map((row) => row.currency))];
  const charts = currencies.map((currency) => {
    const rows = months.filter((row) => row.currency === currency);
    return barChart({
      label: `${chartLabel} (${currency})`,
      categories: rows.map((row) => row.month),
      categoryLabel: monthLabel,
      series,
      values: rows.map((row) => series.map((item) => row[item.key])),
      format: (cents) => money(cents, currency),
      short: (cents) => shortMoney(cents, currency),
    });
  });
  const row = (head, data, attrs) =>
    h(
      "tr",
      attrs,
      h("th", { scope: "row" }, head),
      series.map((item) => h("td", { "data-series": item.key }, money(data[item.key], data.currency))),
    );
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Period"), series.map((item) => h("th", { scope: "col" }, item.label)))),
      h(
        "tbody",
        {},
        report.currency_totals.map((totals) => row(`All (${totals.currency})`, totals, { "data-total": totals.currency })),
        months.map((month) => row(`${monthLabel(month.month)}${currencies.length > 1 ? ` (${month.currency})` : ""}`, month, { "data-month": month.month, "data-currency": month.currency })),
      ),
    ),
  );
  return [charts, table];
}

export function teachPage() {
  if (!isRole("instructor", "admin")) return [pageTitle("Teach"), h("p", { class: "notice" }, "The instructor area is for instructors. An admin can give your account the instructor role.")];
  const me = session.me;
  const earnings = h("div", {}, spinner());
  if (me.role === "instructor") {
    get("/instructors/me/earnings?limit=10")
      .then((report) => mount(earnings, reportView(report, { caption: "Your earnings by month (your share is what you keep)", shareLabel: "Your share", chartLabel: "Earnings by month" })))
      .catch((error) => mount(earnings, errorBox(error)));
  } else {
    mount(earnings, h("p", { class: "muted" }, "Admins see all revenue in the ", h("a", { href: "#/admin" }, "admin area"), "."));
  }

  const courses = h("ul", { class: "rows", "aria-label": "My courses" });
  (async () => {
    const seen = new Map();
    try {
      let cursor = null;
      do {
        const page = await get(`/courses${query({ instructor_id: me.id, limit: 100, cursor })}`);
        for (const course of page.items) seen.set(course.id, course);
        cursor = page.next_cursor;
      } while (cursor);
      const drafts = await Promise.all(rememberedCourses().filter((id) => !seen.has(id)).map((id) => get(`/courses/${id}`).catch(() => null)));
      for (const course of drafts) if (course && !course.archived) seen.set(course.id, course);
    } catch (error) {
      mount(courses, errorBox(error));
      return;
    }
    if (!seen.size) mount(courses, h("li", { class: "muted" }, "No courses yet: create your first one below."));
    for (const course of seen.values()) {
      courses.appendChild(
        h(
          "li",
          { class: "row-item" },
          h("div", {}, h("strong", {}, h("a", { href: `#/teach/courses/${course.id}` }, course.title)), h("p", { class: "muted small" }, `${course.level} · ${money(course.price_cents, course.currency)}`)),
          h("div", { class: "row-end" }, h("span", { class: `badge ${course.published ? "status-paid" : "status-draft"}` }, course.published ? "published" : "draft"), h("a", { class: "button small secondary", href: `#/teach/courses/${course.id}` }, "Edit")),
        ),
      );
    }
  })();

  const create = apiForm({
    submitText: "Create course",
    children: [
      field("Title", "title", { required: true }),
      field("Description", "description", {}, { control: h("textarea", { name: "description", rows: 4 }) }),
      h(
        "div",
        { class: "row" },
        field("Price", "price_cents", { type: "number", min: 0, step: "0.01", required: true, inputmode: "decimal" }),
        field("Currency", "currency", { value: "USD", maxlength: 3, required: true }),
        field("Level", "level", {}, { control: select("level", LEVELS, "beginner") }),
      ),
      field("Tags", "tags", { placeholder: "python, testing" }, { hint: "Separated by commas." }),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "published", value: "yes" }), " Publish now (else it stays a draft)"),
    ],
    action: async (values) => {
      const course = await post("/courses", {
        title: values.title,
        description: values.description,
        price_cents: toCents(values.price_cents),
        currency: values.currency.trim().toUpperCase(),
        level: values.level,
        tags: tagsOf(values.tags),
        published: values.published === "yes",
      });
      rememberCourse(course.id);
      flash(course.published ? "Your course is published." : "Your draft is saved. Add lessons, then publish it.");
      go(`#/teach/courses/${course.id}`);
    },
  });

  const slots = h("ul", { class: "rows", "aria-label": "My advisory slots" });
  const s = pager(
    (cursor) => get(`/advisories${query({ instructor_id: me.id, limit: 20, cursor })}`),
    (slot) => {
      const cancel = h("button", { type: "button", class: "small danger" }, "Cancel slot");
      const row = h("li", { class: "row-item" }, h("div", {}, h("strong", {}, slot.topic), h("p", { class: "muted small" }, `${when(slot.starts_at)} · ${slot.duration_minutes} min · ${slot.capacity - slot.seats_left} of ${count(slot.capacity, WORDS.seat)} booked`)), h("div", { class: "row-end" }, slot.cancelled ? h("span", { class: "badge status-refunded" }, "cancelled") : cancel));
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          await del(`/advisories/${slot.id}`);
          cancel.replaceWith(h("span", { class: "badge status-refunded" }, "cancelled"));
          flash("The slot is cancelled; anyone booked is refunded and told.");
        } catch (error) {
          cancel.disabled = false;
          row.appendChild(errorBox(error));
        }
      });
      return row;
    },
    slots,
    { empty: "No slots yet." },
  );
  s.next();
  const newSlot = apiForm({
    submitText: "Offer slot",
    children: [
      field("Topic", "topic", { required: true }),
      field("Description", "description", {}, { control: h("textarea", { name: "description", rows: 2 }) }),
      h(
        "div",
        { class: "row" },
        field("Starts at", "starts_at", { type: "datetime-local", required: true }),
        field("Minutes", "duration_minutes", { type: "number", min: 15, max: 480, value: 60, required: true }),
        field("Seats", "capacity", { type: "number", min: 1, value: 1, required: true }),
      ),
      h("div", { class: "row" }, field("Price", "price_cents", { type: "number", min: 0, step: "0.01", required: true }), field("Currency", "currency", { value: "USD", maxlength: 3, required: true })),
    ],
    action: async (values) => {
      const start = values.starts_at ? new Date(values.starts_at) : null;
      await post("/advisories", {
        topic: values.topic,
        description: values.description,
        // The browser's local time, sent with its UTC offset as the API requires.
        starts_at: start && !Number.isNaN(start.getTime()) ? start.toISOString() : values.starts_at,
        duration_minutes: Number(values.duration_minutes),
        capacity: Number(values.capacity),
        price_cents: toCents(values.price_cents),
        currency: values.currency.trim().toUpperCase(),
      });
      flash("Your slot is open for booking.");
      go("#/teach");
    },
  });

  return h(
    "section",
    { class: "manage" },
    pageTitle("Teach"),
    h("h2", {}, "Earnings"),
    earnings,
    h("h2", {}, "Your courses"),
    courses,
    h("details", { class: "card" }, h("summary", {}, "Create a course"), create),
    h("h2", {}, "Your advisory slots"),
    slots,
    s.controls,
    h("details", { class: "card" }, h("summary", {}, "Offer an advisory slot"), newSlot),
  );
}

export function editCoursePage(courseId) {
  const root = h("section", { class: "manage" }, spinner());
  (async () => {
    let course;
    try {
      course = await get(`/courses/${encodeURIComponent(courseId)}`);
    } catch (error) {
      mount(root, errorBox(error));
      return;
    }
    if (session.me && session.me.id === course.instructor.id) rememberCourse(course.id);
    setTitle(`Edit: ${course.title}`, root);
    const edit = apiForm({
      submitText: "Save changes",
      children: [
        field("Title", "title", { required: true, value: course.title }),
        field("Description", "description", {}, { control: h("textarea", { name: "description", rows: 5 }, course.description) }),
        h(
          "div",
          { class: "row" },
          field("Price", "price_cents", { type: "number", min: 0, step: "0.01", value: (course.price_cents / 100).toFixed(2) }),
          field("Currency", "currency", { value: course.currency, maxlength: 3 }),
          field("Level", "level", {}, { control: select("level", LEVELS, course.level) }),
        ),
        field("Tags", "tags", { value: course.tags.join(", ") }, { hint: "Separated by commas." }),
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "published", value: "yes", checked: course.published }), " Published (shown in the catalog)"),
      ],
      action: async (values) => {
        course = await patch(`/courses/${course.id}`, {
          title: values.title,
          description: values.description,
          price_cents: toCents(values.price_cents),
          currency: values.currency.trim().toUpperCase(),
          level: values.level,
          tags: tagsOf(values.tags),
          published: values.published === "yes",
        });
        flash(course.published ? "Saved. The course is published." : "Saved as a draft.");
        go(location.hash);
      },
    });
    const addLesson = apiForm({
      submitText: "Add lesson",
      children: [
        field("Lesson title", "title", { required: true }),
        field("Content", "content", {}, { control: h("textarea", { name: "content", rows: 8 }), hint: "Plain text; line breaks are kept." }),
        field("Position", "position", { type: "number", min: 1, value: course.lessons.length + 1 }),
      ],
      action: async (values) => {
        await post(`/courses/${course.id}/lessons`, { title: values.title, content: values.content, position: Number(values.position) });
        flash("Lesson added.");
        go(location.hash);
      },
    });
    mount(
      root,
      h("p", { class: "crumbs" }, h("a", { href: "#/teach" }, "Teach"), " / ", course.title),
      pageTitle(`Edit: ${course.title}`, h("a", { class: "button secondary small", href: `#/courses/${course.id}` }, "View page")),
      h("div", { class: "card" }, edit),
      h("h2", {}, "Lessons"),
      course.lessons.length
        ? h("ol", { class: "outline" }, course.lessons.map((lesson) => h("li", {}, h("a", { href: `#/courses/${course.id}/lessons/${lesson.id}` }, lesson.title))))
        : h("p", { class: "muted" }, "No lessons yet."),
      h("div", { class: "card" }, h("h3", {}, "New lesson"), addLesson),
    );
  })();
  return root;
}

export function adminPage() {
  if (!isRole("admin")) return [pageTitle("Admin"), h("p", { class: "notice" }, "This area is for admins.")];

  const revenue = h("div", {}, spinner());
  get("/admin/revenue?group=month")
    .then((report) => mount(revenue, reportView(report, { caption: "Revenue by month", chartLabel: "Revenue by month" })))
    .catch((error) => mount(revenue, errorBox(error)));

  // Users
  let users = h("ul", { class: "rows", "aria-label": "Users" });
  const userSearch = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find users" },
    field("Name or e-mail", "q", { type: "search" }),
    field("Role", "role", {}, { control: select("role", [["", "Any role"], ["student", "Student"], ["instructor", "Instructor"], ["admin", "Admin"]], "") }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Find")),
  );
  let usersPager;
  function loadUsers() {
    const filters = Object.fromEntries(new FormData(userSearch).entries());
    // A new list each time: a slower earlier search can't add its rows to this one.
    if (usersPager) {
      const fresh = h("ul", { class: "rows", "aria-label": "Users" });
      users.replaceWith(fresh);
      users = fresh;
    }
    const old = usersPager && usersPager.controls;
    usersPager = pager((cursor) => get(`/users${query({ ...filters, limit: 20, cursor })}`), userRow, users, { empty: "No user matches." });
    if (old) old.replaceWith(usersPager.controls);
    usersPager.next();
  }
  userSearch.addEventListener("submit", (event) => {
    event.preventDefault();
    loadUsers();
  });
  loadUsers();

  // Purchases and refunds
  const purchases = h("ul", { class: "rows", "aria-label": "Purchases" });
  const p = pager((cursor) => get(`/purchases${query({ limit: 20, cursor })}`), adminPurchaseRow, purchases, { empty: "No purchases yet." });
  p.next();

  // Failed e-mails: the endpoint may not exist on this server; then the section stays hidden.
  const outboxSection = h("section", { hidden: true, "aria-labelledby": "failed-mail-title" });
  const outbox = h("ul", { class: "rows", "aria-label": "Failed e-mails" });
  const o = pager((cursor) => get(`/admin/outbox${query({ status: "failed", limit: 20, cursor })}`), outboxRow, outbox, { empty: "No failed e-mails." });
  get("/admin/outbox?status=failed&limit=1")
    .then(() => {
      outboxSection.hidden = false;
      o.next();
    })
    .catch(() => {});
  outboxSection.append(h("h2", { id: "failed-mail-title" }, "Failed e-mails"), outbox, o.controls);

  return h(
    "section",
    { class: "manage" },
    pageTitle("Admin"),
    h("h2", {}, "Revenue"),
    revenue,
    h("h2", {}, "Users and roles"),
    userSearch,
    users,
    usersPager.controls,
    h("h2", {}, "Purchases and refunds"),
    purchases,
    p.controls,
    outboxSection,
  );
}

function userRow(user) {
  const status = h("p", { class: "small", role: "status" });
  const role = select("role", [["student", "Student"], ["instructor", "Instructor"], ["admin", "Admin"]], user.role, { "aria-label": `Role of ${user.full_name}` });
  const active = h("input", { type: "checkbox", checked: user.is_active, "aria-label": `${user.full_name} may sign in` });
  async function save(change, undo) {
    status.textContent = "Saving…";
    status.className = "small";
    try {
      await patch(`/users/${user.id}`, change);
      status.textContent = "Saved.";
    } catch (error) {
      undo();
      status.textContent = messageOf(error);
      status.className = "small error-text";
    }
  }
  role.addEventListener("change", () => {
    const before = user.role;
    save({ role: role.value }, () => {
      role.value = before;
    }).then(() => {
      if (status.textContent === "Saved.") user.role = role.value;
    });
  });
  active.addEventListener("change", () => save({ is_active: active.checked }, () => (active.checked = !active.checked)));
  return h(
    "li",
    { class: "row-item", "data-user": user.id },
    h("div", {}, h("strong", {}, user.full_name || "(deleted account)"), h("p", { class: "muted small" }, `${user.email || "no e-mail"} · joined ${day(user.created_at)} · ${count(user.poems_count, WORDS.poem)}, ${count(user.ratings_count, WORDS.rating)}`)),
    h("div", { class: "row-end" }, role, h("label", { class: "check" }, active, " Active"), status),
  );
}

function adminPurchaseRow(purchase) {
  const button = h("button", { type: "button", class: "small danger" }, "Refund");
  const row = purchaseRow(purchase, purchase.status === "paid" ? button : null);
  let armed = false;
  button.addEventListener("click", async () => {
    // Two steps: the first click asks, the second refunds.
    if (!armed) {
      armed = true;
      button.textContent = "Confirm refund";
      return;
    }
    button.disabled = true;
    try {
      const refunded = await post(`/purchases/${purchase.id}/refund`);
      row.replaceWith(adminPurchaseRow(refunded));
      flash("Refunded: the access it granted is withdrawn.");
    } catch (error) {
      button.disabled = false;
      row.appendChild(errorBox(error));
    }
  });
  return row;
}

function outboxRow(message) {
  const retry = h("button", { type: "button", class: "small" }, "Retry");
  const row = h(
    "li",
    { class: "row-item" },
    h(
      "div",
      {},
      h("strong", {}, message.subject || message.template || message.kind || "E-mail"),
      h("p", { class: "muted small" }, [message.to || message.recipient, message.attempts !== undefined ? count(message.attempts, WORDS.attempt) : null, message.created_at ? when(message.created_at) : null].filter(Boolean).join(" · ")),
      message.last_error ? h("p", { class: "small error-text" }, message.last_error) : null,
    ),
    h("div", { class: "row-end" }, retry),
  );
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      await post(`/admin/outbox/${message.id}/retry`);
      retry.replaceWith(h("span", { class: "badge status-paid" }, "queued again"));
    } catch (error) {
      retry.disabled = false;
      row.appendChild(error instanceof ApiError ? errorBox(error) : h("p", {}, "Retry failed."));
    }
  });
  return row;
}
