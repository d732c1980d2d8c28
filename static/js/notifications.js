// Live notifications on every page (loaded by base.html for logged-in users): keeps the nav
// badge (#notification-badge) in step with the server over /ws/notifications/, shows a small
// toast for each new mention (or marks it read at once when it points into the room or task
// thread on screen), and marks a notification read when its link is followed.
// User text is only ever inserted with textContent.

import { getJSON, postForm } from "./lib/http.js";
import { LiveSocket } from "./lib/socket.js";

const TOAST_MS = 8000;
const MAX_TOASTS = 3;

const badge = document.getElementById("notification-badge");
const navLink = document.getElementById("nav-notifications");
// Endpoint URLs hang off the list URL the nav already links to (messaging:notifications).
const listUrl = navLink ? new URL(navLink.getAttribute("href"), window.location.href) : null;

function endpoint(path) {
  return listUrl ? new URL(path, listUrl).pathname : null;
}

function readUrl(notificationId) {
  return endpoint(`${Number(notificationId)}/read/`);
}

// Issue 11: kinds that earn a system notification when the tab is hidden (opt-in on the
// notification preferences page).
const SYSTEM_KINDS = new Set(["direct_message", "mention"]);

function showSystemNotification(frame) {
  if (!document.hidden || !SYSTEM_KINDS.has(frame.notification_type)) return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const shown = new Notification("TaskFlow", {
      body: frame.text,
      tag: `taskflow-notification-${Number(frame.notification_id)}`,
    });
    shown.addEventListener("click", () => {
      window.focus();
      openNotification(readUrl(frame.notification_id), new URL(frame.url, window.location.href).href);
      shown.close();
    });
  } catch {
    // Some browsers only allow notifications from a service worker: the toast still shows.
  }
}

/** Dismissed (here or in another tab): the row leaves the list. */
function removeRow(notificationId) {
  const row = document.getElementById(`notification-${Number(notificationId)}`);
  if (row) row.remove();
  const list = document.getElementById("notification-list");
  const empty = document.getElementById("notifications-empty");
  if (list && !list.children.length && empty) empty.hidden = false;
  for (const toast of document.querySelectorAll(".notification-toast")) {
    if (toast.dataset.notificationId === String(notificationId)) toast.remove();
  }
}

export function setCount(count) {
  if (!badge) return;
  const value = Math.max(0, Number(count) || 0);
  badge.textContent = String(value);
  badge.dataset.count = String(value);
  badge.classList.toggle("d-none", value === 0);
}

async function refreshCount() {
  const url = endpoint("count/");
  if (!url) return;
  const { ok, data } = await getJSON(url);
  if (ok && data && typeof data.count === "number") setCount(data.count);
}

/** Mark read on the server (best effort), then follow the link. */
async function openNotification(url, href) {
  if (url) {
    const { ok, data } = await postForm(url);
    if (ok && data && typeof data.count === "number") setCount(data.count);
  }
  window.location.assign(href);
}

function isPlainClick(event) {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

function toastContainer() {
  let container = document.getElementById("notification-toasts");
  if (!container) {
    container = document.createElement("div");
    container.id = "notification-toasts";
    container.className = "notification-toasts";
    container.setAttribute("role", "status");
    container.setAttribute("aria-live", "polite");
    document.body.appendChild(container);
  }
  return container;
}

function showToast(frame) {
  const container = toastContainer();
  while (container.children.length >= MAX_TOASTS) container.firstElementChild.remove();

  const toast = document.createElement("div");
  toast.className = "toast show notification-toast";
  toast.dataset.notificationId = String(frame.notification_id);

  const body = document.createElement("div");
  body.className = "toast-body d-flex align-items-start gap-2";

  const link = document.createElement("a");
  link.className = "notification-toast-link flex-grow-1";
  link.href = frame.url;
  link.textContent = frame.text;
  link.addEventListener("click", (event) => {
    if (!isPlainClick(event)) return;
    event.preventDefault();
    openNotification(readUrl(frame.notification_id), link.href);
  });

  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => toast.remove());

  body.append(link, close);
  toast.append(body);
  container.append(toast);
  window.setTimeout(() => toast.remove(), TOAST_MS);
}

/** The notification points into the page being looked at right now (the room or the task
 * thread it came from): the person has seen it. */
function isOnScreen(url) {
  const target = new URL(url, window.location.href);
  return target.pathname === window.location.pathname && document.visibilityState === "visible";
}

async function markRead(url) {
  const { ok, data } = await postForm(url);
  if (ok && data && typeof data.count === "number") setCount(data.count);
}

function onMessage(frame) {
  // Other modules (unread.js: room_unread) hear the same socket through this event.
  document.dispatchEvent(new CustomEvent("taskflow:notification-frame", { detail: frame }));
  if (frame.type === "notification") {
    if (isOnScreen(frame.url)) {
      // Read where it happened: no toast, no badge bump (the server pushes the new count to
      // every tab after the mark-read).
      markRead(readUrl(frame.notification_id));
      return;
    }
    setCount(frame.unread_count);
    showToast(frame);
    showSystemNotification(frame);
  } else if (frame.type === "unread_count") {
    setCount(frame.count);
  } else if (frame.type === "notification_dismissed") {
    removeRow(frame.notification_id);
    setCount(frame.unread_count);
  }
}

// Links on the notifications page: mark read on the way to the message.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a.notification-link[data-read-url]");
  if (!link || !isPlainClick(event)) return;
  event.preventDefault();
  openNotification(link.dataset.readUrl, link.href);
});

// Dismiss buttons on the notifications page: the row goes at once (the form works without
// JavaScript too).
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.notification-dismiss");
  if (!form) return;
  event.preventDefault();
  const row = form.closest("[data-notification-id]");
  const { ok, data } = await postForm(form.action);
  if (ok && data && typeof data.count === "number") {
    setCount(data.count);
    if (row) removeRow(row.dataset.notificationId);
  }
});

if (badge) {
  new LiveSocket("/ws/notifications/", {
    onMessage,
    // The server sends the count on every connect; fetching it too covers a socket that
    // reconnects but whose first frame is lost, and is what the badge shows if sockets fail.
    onOpen: ({ reconnected }) => {
      if (reconnected) refreshCount();
      document.dispatchEvent(new CustomEvent("taskflow:notifications-open", { detail: { reconnected } }));
    },
    onStatus: (status) => {
      // Visible state for people debugging and for the browser tests ("open" = live).
      document.body.dataset.notificationsSocket = status;
      if (status === "closed") refreshCount();
    },
  });
}
