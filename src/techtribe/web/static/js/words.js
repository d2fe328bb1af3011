// Words for people: counts with the right plural, and API problems as plain sentences.
// Every page says these things through here, so the wording stays one voice.

const plurals = new Intl.PluralRules("en");

/** "1 review", "3 reviews": `forms` is {one, other} (the other forms fall back to other). */
export function count(n, forms) {
  const number = Number(n) || 0;
  const form = forms[plurals.select(number)] || forms.other;
  return `${number.toLocaleString("en")} ${form}`;
}

export const WORDS = {
  review: { one: "review", other: "reviews" },
  rating: { one: "rating", other: "ratings" },
  poem: { one: "poem", other: "poems" },
  lesson: { one: "lesson", other: "lessons" },
  seat: { one: "seat", other: "seats" },
  attempt: { one: "attempt", other: "attempts" },
};

/** "1 seat left", "3 seats left", "fully booked". */
export function seatsLeft(slot) {
  if (slot.seats_left <= 0) return "fully booked";
  return `${count(slot.seats_left, WORDS.seat)} left`;
}

// Plain words for the codes people meet; the server's `detail` for the rest.
const MESSAGES = {
  invalid_grant: "That e-mail and password don't match an account.",
  too_many_attempts: "Too many failed attempts. Wait a few minutes and try again.",
  email_taken: "An account with this e-mail already exists. Try logging in instead.",
  card_declined: "Your card was declined. Nothing was charged and nothing was bought.",
  already_owned: "You already own this course: find it under My learning.",
  sold_out: "This advisory slot is full.",
  course_unavailable: "This course can't be bought right now.",
  own_item: "You can't buy your own course or book your own slot.",
  own_poem: "You can't rate your own poem.",
  own_course: "You can't review your own course.",
  already_rated: "You have already rated this poem.",
  already_reviewed: "You have already reviewed this course.",
  already_refunded: "This purchase was already refunded.",
  not_enrolled: "Buy the course to read its lessons.",
  slot_overlap: "This slot overlaps another of your slots.",
  fresh_token_required: "For your safety, log in again to do this.",
  not_authenticated: "Please log in first.",
  forbidden: "You are not allowed to do this.",
  not_found: "This page doesn't exist, or you can't see it.",
  invalid_token: "This link is invalid, expired or already used.",
  invalid_cursor: "This list changed. Please reload the page.",
  mixed_currency: "Items in different currencies can't be paid together.",
  payload_too_large: "That is too long to send.",
  internal_error: "Something went wrong on our side. Please try again.",
  service_unavailable: "The service is busy. Please try again in a moment.",
  concurrent_update: "Someone else changed this at the same moment. Please try again.",
};

/** The sentence for a failed API call: `status` 0 means the server was not reached. */
export function problemText(status, body) {
  const code = body && (body.code || body.error);
  if (code && MESSAGES[code]) return MESSAGES[code];
  if (code === "validation_error") {
    // A malformed id in the address is, to a person, a page that doesn't exist.
    const issues = Array.isArray(body.errors) ? body.errors : [];
    if (issues.length && issues.every((issue) => issue.loc && issue.loc[0] === "path")) return MESSAGES.not_found;
    return "Please check the highlighted fields.";
  }
  if (status === 0) return "The server can't be reached. Check your connection.";
  if (status === 429) return "Too many requests. Wait a moment and try again.";
  if (status >= 500) return MESSAGES.internal_error;
  if (body && (body.detail || body.error_description)) return sentence(body.detail || body.error_description);
  return `The request failed (${status}).`;
}

function sentence(text) {
  const trimmed = String(text).trim().replace(/^Value error, /, "");
  if (!trimmed) return "This value isn't accepted.";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function numberIn(text) {
  const match = String(text).match(/(\d+)/);
  return match ? Number(match[1]) : null;
}

/**
 * One validation issue (`{loc, msg, type}` of a 422 problem) as a sentence for the field
 * it names. Passwords are measured in characters here: the server's byte limit matters
 * only for letters outside plain ASCII, and the long-password sentence says so.
 */
export function fieldText(field, issue) {
  const msg = String(issue.msg || "");
  const type = issue.type || "";
  if (type === "missing") return "Please fill this in.";
  if (field === "password" || field === "new_password" || field === "current_password") {
    if (/at least \d+ bytes?/.test(msg)) return `Use at least ${numberIn(msg)} characters.`;
    if (/at most \d+ bytes?/.test(msg)) return `Use at most ${numberIn(msg)} characters (fewer if it has accents, symbols or emoji).`;
    if (/letter and one digit/.test(msg)) return "Use at least one letter and one digit.";
  }
  if (field === "email" || field === "username" || /e-?mail address/.test(msg)) {
    if (type === "value_error" || /e-?mail/.test(msg)) return "Please enter an e-mail address like name@example.com.";
  }
  if (type === "string_too_short") {
    const n = numberIn(msg);
    return n === null || n <= 1 ? "Please fill this in." : `Use at least ${count(n, { one: "character", other: "characters" })}.`;
  }
  if (type === "string_too_long") return `Use at most ${count(numberIn(msg) || 0, { one: "character", other: "characters" })}.`;
  if (/^(int|float|decimal)_(parsing|type)$/.test(type)) return "Please enter a number.";
  if (type === "greater_than_equal" || type === "greater_than") return `Please enter ${numberIn(msg) ?? "a larger number"} or more.`;
  if (type === "less_than_equal" || type === "less_than") return `Please enter ${numberIn(msg) ?? "a smaller number"} or less.`;
  if (type.startsWith("datetime") || type.startsWith("timezone")) return "Please enter a date and time.";
  if (type === "literal_error" || type === "enum") return "Please choose one of the options.";
  return sentence(msg);
}
