// Small view helpers for lib/thread.js: local timestamps, the connection status line and the
// dismissible error alerts. All user-visible text goes in with textContent.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

const MAX_ALERTS = 3;

// Tones that keep AA contrast in light and dark themes (Bootstrap's *-emphasis colours).
export const STATUS_TONES = ["text-success-emphasis", "text-warning-emphasis", "text-danger-emphasis", "text-body-secondary"];

// What a pending message says while it cannot be sent (lib/outbox.js decides when).
export const OFFLINE_NOTE = "You're offline. We'll send this when you're back.";
export const UNREACHABLE_NOTE = "Can't reach TaskFlow right now. We'll send this when the connection is back.";

/** Fill a <time> element with an ISO timestamp shown in the browser's local time zone. */
export function showLocalTime(timeEl, iso) {
  if (!timeEl || !iso) return;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return;
  timeEl.setAttribute("datetime", iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  timeEl.textContent = (sameDay ? timeFormat : dateTimeFormat).format(date);
  timeEl.title = fullFormat.format(date);
}

export function setText(root, selector, text) {
  const el = root.querySelector(selector);
  if (el) el.textContent = text ?? "";
}

/**
 * The words for a LiveSocket status: Live, Reconnecting (with when the next try is), Offline
 * (the browser has no network), or access gone. Never an exception's text.
 * @param {"connecting"|"open"|"closed"|"offline"|"gone"} status
 * @param {{everOpened: boolean, nextRetryAt: number|null}|undefined} socket
 * @param {number} now  ms since the epoch
 */
export function describeStatus(status, socket, now = Date.now()) {
  if (status === "open") return { text: "Live", tone: "text-success-emphasis" };
  if (status === "gone") return { text: "You no longer have access", tone: "text-danger-emphasis" };
  if (status === "offline" || navigator.onLine === false) {
    return { text: "Offline. Messages will be sent when you're back online.", tone: "text-danger-emphasis" };
  }
  if (status === "closed" && socket && socket.nextRetryAt) {
    const seconds = Math.ceil((socket.nextRetryAt - now) / 1000);
    const when = seconds >= 1 ? `next try in ${seconds} s` : "trying now";
    return { text: `Reconnecting: ${when}`, tone: "text-warning-emphasis" };
  }
  if (socket && socket.everOpened) return { text: "Reconnecting…", tone: "text-warning-emphasis" };
  return { text: "Connecting…", tone: "text-body-secondary" };
}

/** A few dismissible alerts just above `anchor` (newest last; a repeated text moves down). */
export class AlertList {
  constructor(anchor) {
    this.el = document.createElement("div");
    this.el.className = "thread-alerts";
    anchor.before(this.el);
  }

  show(message) {
    for (const existing of this.el.querySelectorAll(".alert-text")) {
      if (existing.textContent === message) existing.closest(".alert").remove();
    }
    while (this.el.children.length >= MAX_ALERTS) this.el.firstElementChild.remove();
    const alert = document.createElement("div");
    alert.className = "alert alert-warning alert-dismissible py-1 px-2 mb-2 small";
    alert.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.className = "alert-text";
    text.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close py-2";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => alert.remove());
    alert.append(text, close);
    this.el.append(alert);
  }
}
