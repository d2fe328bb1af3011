// The public API, and the session: the access token lives in memory only, the refresh
// token in localStorage so a reload stays logged in. A `401 token_expired` is refreshed
// silently once and the request retried.

import { problemText } from "./words.js";

const BASE = "/api/v1";
const REFRESH_KEY = "techtribe.refresh_token";

let accessToken = null;
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super(problemText(status, body));
    this.status = status;
    this.body = body || {};
    // Problem details carry `code`; the token endpoint answers RFC 6749 `error`.
    this.code = this.body.code || this.body.error || `http_${status}`;
    this.fieldErrors = Array.isArray(this.body.errors) ? this.body.errors : [];
  }
}

export function onSessionChange(fn) {
  listeners.add(fn);
}

function notify() {
  for (const fn of listeners) fn();
}

export function hasSession() {
  return accessToken !== null || localStorage.getItem(REFRESH_KEY) !== null;
}

function store(tokens) {
  accessToken = tokens.access_token;
  localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  notify();
}

export function forget() {
  accessToken = null;
  localStorage.removeItem(REFRESH_KEY);
  notify();
}

async function tokenRequest(form) {
  let response;
  try {
    response = await fetch(`${BASE}/auth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
  } catch {
    throw new ApiError(0, null);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function login(email, password) {
  store(await tokenRequest({ grant_type: "password", username: email, password }));
}

export async function exchangeLoginCode(loginCode) {
  store(await request("POST", "/auth/oidc/exchange", { login_code: loginCode }, { auth: false }));
}

/** Trade the kept refresh token for a new pair; one at a time, shared by concurrent callers. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = localStorage.getItem(REFRESH_KEY);
      if (!token) return false;
      try {
        store(await tokenRequest({ grant_type: "refresh_token", refresh_token: token }));
        return true;
      } catch (error) {
        // A spent or revoked refresh token ends the session; a network failure doesn't.
        if (error.status === 400 || error.status === 401) forget();
        return false;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

export async function logout() {
  try {
    if (accessToken || (await refresh())) await request("POST", "/auth/logout");
  } catch {
    // The session ends on this side whatever the server said.
  } finally {
    forget();
  }
}

/** One API call. `body` is sent as JSON; answers the parsed body (null for 204). */
export async function request(method, path, body, { auth = true, headers = {}, retried = false } = {}) {
  if (auth && !accessToken && localStorage.getItem(REFRESH_KEY)) await refresh();
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (auth && accessToken) init.headers.Authorization = `Bearer ${accessToken}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401 && auth && !retried && data && data.code === "token_expired") {
    accessToken = null;
    if (await refresh()) return request(method, path, body, { auth, headers, retried: true });
  }
  if (!response.ok) {
    if (response.status === 401 && auth && data && ["token_revoked", "inactive_user"].includes(data.code)) {
      forget();
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body, options) => request("POST", path, body, options);
export const patch = (path, body, options) => request("PATCH", path, body, options);
export const del = (path, options) => request("DELETE", path, undefined, options);

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

let providers = null;

/** The configured sign-in providers (`GET /auth/providers`), asked once per page load. */
export function signInProviders() {
  if (!providers) {
    providers = get("/auth/providers", { auth: false }).catch(() => {
      providers = null; // Not reachable now: the next login page asks again.
      return [];
    });
  }
  return providers;
}

/** A key for `Idempotency-Key`: one per checkout attempt, so a double click charges once. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
