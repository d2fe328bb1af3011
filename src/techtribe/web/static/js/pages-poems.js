// The poems corner: list with sorting, read (whitespace kept), publish, rate, see ratings.

import { get, post, query } from "./api.js";
import { day, field, h, mount, select, spinner, stars } from "./dom.js";
import { apiForm, errorBox, flash, go, loginHref, pageTitle, pager, session, setTitle } from "./ui.js";
import { WORDS, count } from "./words.js";

const SCORES = [["5", "5 — loved it"], ["4", "4"], ["3", "3"], ["2", "2"], ["1", "1"]];

function poemItem(poem) {
  return h(
    "li",
    { class: "card poem-card" },
    h("h2", { class: "card-title" }, h("a", { href: `#/poems/${poem.id}` }, poem.title)),
    h("p", { class: "muted" }, `by ${poem.author.full_name} · ${day(poem.created_at)}`),
    h("p", { class: "poem-excerpt" }, poem.body.split("\n").slice(0, 4).join("\n")),
    h("p", { class: "small" }, h("span", { class: "rating" }, stars(poem.average_score)), ` · ${count(poem.ratings_count, WORDS.rating)}`),
  );
}

export function poemsPage(params) {
  const sort = params.get("sort") === "rating" ? "rating" : "newest";
  const sorter = h(
    "form",
    { class: "inline", "aria-label": "Sort poems" },
    field("Sort by", "sort", {}, { control: select("sort", [["newest", "Newest"], ["rating", "Best rated"]], sort) }),
  );
  sorter.addEventListener("change", () => go(`#/poems?sort=${new FormData(sorter).get("sort")}`));
  sorter.addEventListener("submit", (event) => event.preventDefault());
  const list = h("ul", { class: "poem-list", "aria-label": "Poems" });
  const { controls, next } = pager((cursor) => get(`/poems${query({ sort, limit: 10, cursor })}`, { auth: false }), poemItem, list, { empty: "No poems yet. Be the first to publish one." });
  next();
  let publish;
  if (session.me) {
    publish = h(
      "details",
      { class: "card publish" },
      h("summary", {}, "Publish a poem"),
      apiForm({
        submitText: "Publish",
        children: [
          field("Title", "title", { required: true, maxlength: 200 }),
          field("Poem", "body", {}, { control: h("textarea", { name: "body", rows: 10, required: true, class: "poem-input" }), hint: "Line breaks and spacing are kept as you type them." }),
        ],
        action: async (values) => {
          const poem = await post("/poems", { title: values.title, body: values.body });
          flash("Your poem is published.");
          go(`#/poems/${poem.id}`);
        },
      }),
    );
  } else {
    publish = h("p", { class: "muted" }, h("a", { href: loginHref() }, "Log in"), " to publish and rate poems.");
  }
  return h("section", {}, pageTitle("Poems", sorter), publish, list, controls);
}

export function poemPage(poemId) {
  const root = h("section", { class: "poem-page" }, spinner());
  (async () => {
    let poem;
    try {
      poem = await get(`/poems/${encodeURIComponent(poemId)}`, { auth: false });
    } catch (error) {
      mount(root, errorBox(error));
      return;
    }
    setTitle(poem.title, root);
    const ratings = h("ul", { class: "ratings", "aria-label": "Ratings" });
    const { controls, next } = pager(
      (cursor) => get(`/poems/${poem.id}/ratings${query({ limit: 20, cursor })}`, { auth: false }),
      (rating) => h("li", { class: "rating-item" }, h("p", {}, h("strong", {}, `${rating.score} / 5`), ` · ${rating.rater.full_name} · ${day(rating.created_at)}`), rating.comment ? h("p", { class: "prose" }, rating.comment) : null),
      ratings,
      { empty: "No ratings yet." },
    );
    next();
    let rate = null;
    if (!session.me) {
      rate = h("p", { class: "muted" }, h("a", { href: loginHref() }, "Log in"), " to rate this poem.");
    } else if (session.me.id !== poem.author_id) {
      rate = h(
        "div",
        { class: "card" },
        h("h2", {}, "Rate this poem"),
        apiForm({
          submitText: "Rate",
          children: [
            field("Score", "score", {}, { control: select("score", SCORES, "5") }),
            field("Comment (optional)", "comment", {}, { control: h("textarea", { name: "comment", rows: 3 }) }),
          ],
          action: async (values) => {
            await post(`/poems/${poem.id}/ratings`, { score: Number(values.score), comment: values.comment || null });
            flash("Thank you for rating.");
            go(location.hash);
          },
        }),
      );
    }
    mount(
      root,
      h("p", { class: "crumbs" }, h("a", { href: "#/poems" }, "Poems"), " / ", poem.title),
      h(
        "article",
        { class: "card poem" },
        h("h1", { class: "poem-title" }, poem.title),
        h("p", { class: "muted" }, `by ${poem.author.full_name} · ${day(poem.created_at)}`),
        h("div", { class: "poem-body" }, poem.body),
        h("p", { class: "poem-score" }, "Average: ", h("strong", { "data-testid": "average" }, stars(poem.average_score)), ` from ${count(poem.ratings_count, WORDS.rating)}`),
      ),
      rate,
      h("h2", {}, "Ratings"),
      ratings,
      controls,
    );
  })();
  return root;
}
