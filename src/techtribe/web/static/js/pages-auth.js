// Register, log in (password or Google), password reset and e-mail verification.

import { login, post, query, signInProviders } from "./api.js";
import { field, h } from "./dom.js";
import { apiForm, flash, go, loadMe, pageTitle } from "./ui.js";

const PASSWORD_RULE = "At least 8 characters, with at least one letter and one digit.";

/** The same page with `next` kept, so a detour through sign-up still ends where it began. */
function keepNext(hash, params) {
  const next = params.get("next");
  return next ? `${hash}?next=${encodeURIComponent(next)}` : hash;
}

function afterLogin(params) {
  const next = params.get("next");
  // Only our own hash routes: never send someone elsewhere from a link's parameter.
  go(next && next.startsWith("#/") ? next : "#/");
}

export function loginPage(params, { oidcError } = {}) {
  const google = h("div", { class: "oidc", hidden: true });
  signInProviders().then((providers) => {
    if (!providers.length) return;
    google.append(
      h("p", { class: "divider" }, "or"),
      providers.map((provider) =>
        h("a", { class: "button secondary google", href: `${provider.authorize_url}${query({ return_to: `${location.origin}/` })}` }, `Sign in with ${provider.display_name}`),
      ),
    );
    google.hidden = false;
  });
  const form = apiForm({
    submitText: "Log in",
    children: [
      field("E-mail", "username", { type: "email", autocomplete: "username", required: true }),
      field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
    ],
    action: async (values) => {
      await login(values.username.trim(), values.password);
      await loadMe();
      flash("Welcome back.");
      afterLogin(params);
    },
  });
  return h(
    "section",
    { class: "narrow card" },
    pageTitle("Log in"),
    oidcError ? h("p", { class: "notice error", role: "alert" }, oidcError) : null,
    form,
    google,
    h("p", { class: "muted" }, "New here? ", h("a", { href: keepNext("#/register", params) }, "Create an account"), " · ", h("a", { href: "#/forgot-password" }, "Forgot your password?")),
  );
}

export function registerPage(params) {
  const form = apiForm({
    submitText: "Create account",
    children: [
      field("Full name", "full_name", { autocomplete: "name", required: true }),
      field("E-mail", "email", { type: "email", autocomplete: "email", required: true }),
      field("Password", "password", { type: "password", autocomplete: "new-password", required: true }, { hint: PASSWORD_RULE }),
    ],
    action: async (values) => {
      await post("/auth/register", { ...values, email: values.email.trim() }, { auth: false });
      await login(values.email.trim(), values.password);
      await loadMe();
      flash("Your account is ready. We sent you an e-mail to confirm your address.");
      afterLogin(params);
    },
  });
  return h("section", { class: "narrow card" }, pageTitle("Create your account"), form, h("p", { class: "muted" }, "Already a member? ", h("a", { href: keepNext("#/login", params) }, "Log in")));
}

export function forgotPage() {
  const done = h("p", { class: "notice ok", role: "status", hidden: true }, "If an account exists for that address, we sent it a link to choose a new password.");
  const form = apiForm({
    submitText: "Send reset link",
    children: [field("E-mail", "email", { type: "email", autocomplete: "email", required: true })],
    action: async (values) => {
      await post("/auth/password-reset", { email: values.email.trim() }, { auth: false });
      done.hidden = false;
    },
  });
  return h("section", { class: "narrow card" }, pageTitle("Forgot your password?"), done, form);
}

export function resetPasswordPage(params) {
  const form = apiForm({
    submitText: "Set new password",
    children: [
      field("New password", "new_password", { type: "password", autocomplete: "new-password", required: true }, { hint: PASSWORD_RULE }),
    ],
    action: async (values) => {
      await post("/auth/password-reset/confirm", { token: params.get("token") || "", new_password: values.new_password }, { auth: false });
      flash("Your password is changed. Log in with the new one.");
      go("#/login");
    },
  });
  return h("section", { class: "narrow card" }, pageTitle("Choose a new password"), form);
}

export function verifyEmailPage(params) {
  const status = h("p", { class: "loading", role: "status" }, "Confirming your e-mail address…");
  post("/auth/verify-email", { token: params.get("token") || "" }, { auth: false })
    .then(() => {
      status.className = "notice ok";
      status.textContent = "Thank you: your e-mail address is confirmed.";
      loadMe();
    })
    .catch((error) => {
      status.className = "notice error";
      status.textContent = error.message;
    });
  return h("section", { class: "narrow card" }, pageTitle("Confirm your e-mail"), status, h("p", {}, h("a", { href: "#/" }, "Browse the courses")));
}

const OIDC_ERRORS = {
  access_denied: "Google sign-in was cancelled.",
  invalid_state: "The sign-in took too long or was already used. Please try again.",
  invalid_id_token: "Google's answer could not be verified. Please try again.",
  email_not_verified: "Your Google account's e-mail address isn't verified.",
  provider_error: "Google could not be reached. Please try again later.",
};

export function oidcErrorText(code) {
  return OIDC_ERRORS[code] || "Signing in with Google failed. Please try again.";
}
