// What every page shares: who is signed in, messages, forms that show API errors in place.

import { ApiError, get } from "./api.js";
import { h } from "./dom.js";
import { fieldText } from "./words.js";

export const session = { me: null };

/** The signed-in user (from `GET /users/me`), or null. */
export async function loadMe() {
  try {
    session.me = await get("/users/me");
  } catch {
    session.me = null;
  }
  return session.me;
}

export function isRole(...roles) {
  return session.me !== null && roles.includes(session.me.role);
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

let flashTimer = null;

/** A short message at the top of the page, read out by screen readers. */
export function flash(text, kind = "ok") {
  const box = document.getElementById("flash");
  box.textContent = text;
  box.className = `flash ${kind}`;
  box.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    box.hidden = true;
  }, 6000);
}

/** An error message for an action, in a box the screen reader announces. */
export function errorBox(error) {
  return h("p", { class: "notice error", role: "alert" }, messageOf(error));
}

export function messageOf(error) {
  return error instanceof ApiError ? error.message : "Something went wrong. Please try again.";
}

function fieldName(loc) {
  const names = (loc || []).filter((part) => typeof part === "string");
  return names[names.length - 1];
}

/** Show an API error on a form: each validation failure next to its field, the rest on top. */
export function showFormError(form, error) {
  const shownFor = new Set();
  if (error instanceof ApiError) {
    for (const issue of error.fieldErrors) {
      const name = fieldName(issue.loc);
      const slot = name && form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (slot) {
        slot.textContent = fieldText(name, issue);
        slot.hidden = false;
        const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
        shownFor.add(name);
      }
    }
  }
  const summary = form.querySelector(".form-error");
  const unplaced = !(error instanceof ApiError) || error.fieldErrors.length === 0 || shownFor.size === 0;
  summary.textContent = unplaced ? messageOf(error) : "Please check the highlighted fields.";
  summary.hidden = false;
  const firstInvalid = form.querySelector("[aria-invalid='true']");
  if (firstInvalid) firstInvalid.focus();
}

export function clearFormErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * A form whose submit runs `action(values, form)`; API errors are shown in the form.
 * `children` are the fields; `submitText` labels the button.
 */
export function apiForm({ children, submitText, action, className = "stack", extra = null }) {
  const button = h("button", { type: "submit" }, submitText);
  const form = h(
    "form",
    { class: className, novalidate: true },
    h("p", { class: "form-error notice error", role: "alert", hidden: true }),
    children,
    h("div", { class: "actions" }, button, extra),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const values = Object.fromEntries(new FormData(form).entries());
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      await action(values, form);
    } catch (error) {
      showFormError(form, error);
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

/** A "More" button that loads the next page of a cursor-paginated list. */
export function pager(load, renderItems, list, { empty = "Nothing here yet." } = {}) {
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
  const status = h("p", { class: "muted", role: "status" });
  let cursor = null;
  async function next() {
    more.disabled = true;
    try {
      const page = await load(cursor);
      for (const item of page.items) list.appendChild(renderItems(item));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = list.childElementCount === 0 ? empty : "";
    } catch (error) {
      status.textContent = messageOf(error);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", next);
  return { controls: h("div", { class: "pager" }, status, more), next };
}

/**
 * The tab's title: the router sets each route's, pages that load a name refine it (only
 * while `view` is still on screen: a late answer never renames the next page's tab).
 */
export function setTitle(text, view = null) {
  if (view && !view.isConnected) return;
  document.title = text ? `${text} · TechTribe` : "TechTribe";
}

/** The page's heading (the tab's title is the router's business, see `setTitle`). */
export function pageTitle(text, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, text), extra);
}

/** `#/login?next=...`: back to `hash` (default: this page) once logged in. */
export function loginHref(hash = location.hash, page = "login") {
  return `#/${page}?next=${encodeURIComponent(hash)}`;
}

/** Links to log in or sign up that come back to this page. */
export function loginLinks(why = "You need an account for this page.") {
  return h("p", { class: "login-needed" }, `${why} `, h("a", { href: loginHref() }, "Log in"), " or ", h("a", { href: loginHref(location.hash, "register") }, "sign up"), ".");
}

export function needLogin(view) {
  return [pageTitle("Please log in"), loginLinks()].concat(view || []);
}
