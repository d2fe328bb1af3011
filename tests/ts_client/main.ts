// Drives a running TechTribe server with the client generated from its OpenAPI document
// (openapi-typescript types + openapi-fetch). Compiled with `tsc --strict`: a response or
// error shape the document gets wrong is a compile error here, not a surprise at run time.
// Usage: node dist/main.js <base url> <e-mail> <password> <course title>
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];

const [baseUrl, email, password, title] = process.argv.slice(2);
if (!baseUrl || !email || !password || !title) {
  throw new Error("usage: main.js <base url> <e-mail> <password> <course title>");
}

const api = createClient<paths>({ baseUrl });

const login = await api.POST("/api/v1/auth/token", {
  body: { grant_type: "password", username: email, password },
  bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
});
if (!login.data) {
  throw new Error(`login failed: ${JSON.stringify(login.error)}`);
}
const token: string = login.data.access_token;
const auth = { Authorization: `Bearer ${token}` };

const page = await api.GET("/api/v1/courses", { params: { query: { q: title, limit: 10 } } });
if (!page.data) {
  throw new Error(`listing failed: ${JSON.stringify(page.error)}`);
}
const course = page.data.items.find((item) => item.title === title);
if (!course) {
  throw new Error(`course ${title} not listed`);
}

const purchase = await api.POST("/api/v1/purchases", {
  params: { header: { "Idempotency-Key": crypto.randomUUID() } },
  headers: auth,
  body: {
    items: [{ kind: "course", id: course.id }],
    payment: {
      card_number: "4000000000000002",
      exp_month: 12,
      exp_year: new Date().getFullYear() + 3,
      cvc: "123",
      holder_name: "Tess Typescript",
    },
  },
});
if (purchase.data) {
  throw new Error("a declined card bought the course");
}
const problem: Problem = purchase.error;
const code: Problem["code"] = problem.code;

console.log(
  JSON.stringify({
    token_type: login.data.token_type,
    listed: course.id,
    status: purchase.response.status,
    code,
    price_cents: course.price_cents,
  }),
);
