// Small view helpers for lib/thread.js: local timestamps, the connection status line and the
// dismissible error alerts. All user-visible text goes in with textContent.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

// After this many failed reconnect attempts the status says "Offline" rather than "Reconnecting".
const OFFLINE_AFTER_ATTEMPTS = 3;
const MAX_ALERTS = 3;

export const STATUS_TONES = ["text-success", "text-warning", "text-danger", "text-muted"];

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
 * The words for a LiveSocket status. Short outages read "Reconnecting…"; once the browser is
 * offline or several attempts have failed, the user is told their messages will wait.
 * @param {"connecting"|"open"|"closed"|"gone"} status
 * @param {{attempt: number, everOpened: boolean}|undefined} socket
 */
export function describeStatus(status, socket) {
  if (status === "open") return { text: "Live", tone: "text-success" };
  if (status === "gone") return { text: "You no longer have access", tone: "text-danger" };
  if (!navigator.onLine || (socket && socket.attempt >= OFFLINE_AFTER_ATTEMPTS)) {
    return { text: "Offline — messages will send when back", tone: "text-danger" };
  }
  if (socket && socket.everOpened) return { text: "Reconnecting…", tone: "text-warning" };
  return { text: "Connecting…", tone: "text-muted" };
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
