// The web client's entry point: hash routes to pages, the header's session state, and the
// landing of Sign in with Google (`#login_code=...` / `#error=...`).

import { exchangeLoginCode, hasSession, logout, onSessionChange, refresh } from "./api.js";
import { h, mount } from "./dom.js";
import { forgotPage, loginPage, oidcErrorText, registerPage, resetPasswordPage, verifyEmailPage } from "./pages-auth.js";
import { adminPage, editCoursePage, teachPage } from "./pages-manage.js";
import { poemPage, poemsPage } from "./pages-poems.js";
import { advisoriesPage, catalogPage, checkoutPage, coursePage, instructorPage, learningPage, lessonPage, purchasePage } from "./pages-shop.js";
import { flash, go, loadMe, pageTitle, session, setTitle } from "./ui.js";

// [address, page, the menu item it belongs to, the tab's title (pages that load a name,
// like a course's, refine it once it is known)].
const ROUTES = [
  [/^$/, (_, params) => catalogPage(params), "catalog", "Courses"],
  [/^courses\/([\w-]+)$/, ([id]) => coursePage(id), "catalog", "Course"],
  [/^courses\/([\w-]+)\/lessons\/([\w-]+)$/, ([id, lesson]) => lessonPage(id, lesson), "learning", "Lesson"],
  [/^instructors\/([\w-]+)$/, ([id]) => instructorPage(id), "catalog", "Instructor"],
  [/^advisories$/, () => advisoriesPage(), "advisories", "Advisory sessions"],
  [/^checkout$/, (_, params) => checkoutPage(params), "catalog", "Checkout"],
  [/^learning$/, () => learningPage(), "learning", "My learning"],
  [/^purchases\/([\w-]+)$/, ([id]) => purchasePage(id), "learning", "Purchase"],
  [/^poems$/, (_, params) => poemsPage(params), "poems", "Poems"],
  [/^poems\/([\w-]+)$/, ([id]) => poemPage(id), "poems", "Poem"],
  [/^teach$/, () => teachPage(), "teach", "Teach"],
  [/^teach\/courses\/([\w-]+)$/, ([id]) => editCoursePage(id), "teach", "Edit course"],
  [/^admin$/, () => adminPage(), "admin", "Admin"],
  [/^login$/, (_, params) => loginPage(params), "login", "Log in"],
  [/^register$/, (_, params) => registerPage(params), "register", "Sign up"],
  [/^forgot-password$/, () => forgotPage(), "login", "Forgot your password?"],
  [/^reset-password$/, (_, params) => resetPasswordPage(params), "login", "Choose a new password"],
  [/^verify-email$/, (_, params) => verifyEmailPage(params), "login", "Confirm your e-mail"],
];

const main = document.getElementById("main");
let firstRender = true;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  return { path: decodeURIComponent(path).replace(/\/$/, ""), params: new URLSearchParams(search) };
}

function render() {
  const { path, params } = parseHash();
  for (const [pattern, page, section, title] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      setTitle(title);
      const view = page(match.slice(1), params);
      mount(main, view);
      markNav(section);
      closeMenu();
      if (!firstRender) {
        main.focus({ preventScroll: true });
        window.scrollTo(0, 0);
      }
      firstRender = false;
      return;
    }
  }
  setTitle("Page not found");
  mount(main, pageTitle("Page not found"), h("p", {}, "There is nothing at this address. ", h("a", { href: "#/" }, "Browse the courses"), "."));
  markNav(null);
  closeMenu();
}

function markNav(section) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function updateHeader() {
  const me = session.me;
  const show = {
    guest: !me,
    member: Boolean(me),
    teacher: Boolean(me) && (me.role === "instructor" || me.role === "admin"),
    admin: Boolean(me) && me.role === "admin",
  };
  for (const item of document.querySelectorAll("[data-when]")) item.hidden = !show[item.dataset.when];
  document.getElementById("who").textContent = me ? me.full_name : "";
}

const toggle = document.getElementById("menu-toggle");
function closeMenu() {
  toggle.setAttribute("aria-expanded", "false");
  document.body.classList.remove("menu-open");
}
toggle.addEventListener("click", () => {
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  document.body.classList.toggle("menu-open", open);
});

document.getElementById("logout").addEventListener("click", async () => {
  await logout();
  session.me = null;
  updateHeader();
  flash("You are logged out.");
  go("#/");
});

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

onSessionChange(() => {
  if (!hasSession()) {
    session.me = null;
    updateHeader();
  }
});

async function start() {
  // Back from Google: the fragment carries a one-time login code or an error code.
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  let oidcError = null;
  if (fragment.has("login_code")) {
    const code = fragment.get("login_code");
    history.replaceState(null, "", `${location.pathname}#/`);
    try {
      await exchangeLoginCode(code);
      flash("You are signed in with Google.");
    } catch {
      oidcError = oidcErrorText("invalid_grant");
    }
  } else if (fragment.has("error") && !location.hash.startsWith("#/")) {
    oidcError = oidcErrorText(fragment.get("error"));
    history.replaceState(null, "", `${location.pathname}#/login`);
  }
  if (hasSession()) {
    await refresh();
    await loadMe();
  }
  updateHeader();
  window.addEventListener("hashchange", () => {
    updateHeader();
    render();
  });
  if (oidcError) {
    setTitle("Log in");
    mount(main, loginPage(new URLSearchParams(), { oidcError }));
    markNav("login");
  } else {
    render();
  }
  document.documentElement.dataset.ready = "true";
}

start();
