// Filling a task card (templates/kanban/_task_card.html) from its card JSON
// (kanban.realtime.card). User text goes in with textContent only.

const PRIORITY_BADGES = { urgent: "text-bg-danger", high: "text-bg-warning", low: "text-bg-secondary" };
const BADGE_CLASSES = ["text-bg-danger", "text-bg-warning", "text-bg-secondary", "text-bg-primary"];

export function priorityBadge(priority) {
  return PRIORITY_BADGES[priority] || "text-bg-primary";
}

/** "2026-11-30" -> "Nov 30" (the server's "M j"). */
export function shortDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString("en-US", { month: "short", day: "numeric" });
}

/** "2026-11-30" -> "Mon 30 Nov 2026" (the server's "D j M Y"). */
export function longDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-").map(Number);
  const date = new Date(y, m - 1, d);
  const day = date.toLocaleDateString("en-GB", { weekday: "short" });
  const month = date.toLocaleDateString("en-GB", { month: "short" });
  return `${day} ${d} ${month} ${y}`;
}

export function setBadge(el, card) {
  el.classList.remove(...BADGE_CLASSES);
  el.classList.add(priorityBadge(card.priority));
  el.textContent = card.priority_label || card.priority;
}

/** Replace the chips in `container` with the card's labels. */
export function renderLabels(container, labels) {
  if (!container) return;
  container.replaceChildren(
    ...labels.map((label) => {
      const chip = document.createElement("span");
      chip.className = `task-label label-${label.colour}`;
      chip.dataset.labelId = String(label.id);
      chip.textContent = label.name;
      return chip;
    }),
  );
}

/** Point a cloned template's ids and URLs (made for id 0) at `id`. */
export function retarget(root, id, { urlPart, idPrefixes }) {
  const nodes = [root, ...root.querySelectorAll("*")];
  for (const node of nodes) {
    for (const attr of ["action", "href", "id", "for", "aria-labelledby"]) {
      const value = node.getAttribute(attr);
      if (!value) continue;
      let next = value.replace(new RegExp(`/${urlPart}/0/`), `/${urlPart}/${id}/`);
      for (const prefix of idPrefixes) {
        if (next === `${prefix}0` || next.startsWith(`${prefix}0-`)) next = `${prefix}${id}${next.slice(prefix.length + 1)}`;
      }
      if (next !== value) node.setAttribute(attr, next);
    }
  }
}

export function fillCard(el, card) {
  el.dataset.taskId = String(card.id);
  el.id = `task-${card.id}`;
  el.className = el.className.replace(/\bpriority-\S+/g, "").trim();
  el.classList.add(`priority-${card.priority}`);
  renderLabels(el.querySelector(".task-labels"), card.labels || []);
  const title = el.querySelector(".task-title");
  title.textContent = card.title;
  if (card.url) title.setAttribute("href", card.url);
  setBadge(el.querySelector(".task-priority"), card);
  const due = el.querySelector(".task-due");
  due.hidden = !card.due_date;
  const time = due.querySelector("time");
  time.setAttribute("datetime", card.due_date || "");
  time.textContent = shortDate(card.due_date);
  const checklist = card.checklist || { done: 0, total: 0 };
  el.querySelector(".task-checklist").hidden = !checklist.total;
  el.querySelector(".task-checklist-count").textContent = `${checklist.done}/${checklist.total}`;
  el.querySelector(".task-comments").hidden = !card.comment_count;
  el.querySelector(".task-comment-count").textContent = String(card.comment_count || 0);
  el.querySelector(".task-comment-noun").textContent = card.comment_count === 1 ? "comment" : "comments";
  const assignee = el.querySelector(".task-assignee");
  assignee.textContent = card.assignee ? card.assignee.display_name : "Unassigned";
  assignee.classList.toggle("text-muted", !card.assignee);
  assignee.classList.toggle("fst-italic", !card.assignee);
  const summary = el.querySelector(".card-menu > summary");
  if (summary) summary.setAttribute("aria-label", `Actions for task ${card.title}`);
}
