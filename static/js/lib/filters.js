// The board's card filters, read from the URL (?assignee=me&label=3&due=overdue&q=text).
// Mirrors kanban/filters.py over the same card JSON, so live cards hide as the server would.

export function readFilter(search = window.location.search) {
  const params = new URLSearchParams(search);
  const assignee = (params.get("assignee") || "").trim();
  const label = (params.get("label") || "").trim();
  const due = (params.get("due") || "").trim();
  return {
    assignee: assignee === "me" || assignee === "none" || /^\d+$/.test(assignee) ? assignee : "",
    label: /^\d+$/.test(label) ? label : "",
    due: due === "overdue" || due === "week" ? due : "",
    q: (params.get("q") || "").trim().slice(0, 200),
  };
}

export function isActive(f) {
  return Boolean(f.assignee || f.label || f.due || f.q);
}

function parseDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** The Sunday ending the (Monday-first) week of `today` ("YYYY-MM-DD"). */
export function weekEnd(today) {
  const date = parseDate(today);
  const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
  date.setUTCDate(date.getUTCDate() + 6 - weekday);
  return date.toISOString().slice(0, 10);
}

export function matches(card, f, userId, today) {
  const assignee = card.assignee;
  if (f.assignee === "me" && (!assignee || assignee.id !== userId)) return false;
  if (f.assignee === "none" && assignee) return false;
  if (/^\d+$/.test(f.assignee) && (!assignee || assignee.id !== Number(f.assignee))) return false;
  if (f.label && !(card.labels || []).some((label) => label.id === Number(f.label))) return false;
  if (f.due) {
    if (!card.due_date) return false;
    // ISO dates compare correctly as strings.
    if (f.due === "overdue" && !(card.due_date < today)) return false;
    if (f.due === "week" && !(today <= card.due_date && card.due_date <= weekEnd(today))) return false;
  }
  if (f.q && !card.title.toLocaleLowerCase().includes(f.q.toLocaleLowerCase())) return false;
  return true;
}
