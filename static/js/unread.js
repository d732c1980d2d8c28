// Unread per room (issue 11), on every page of a logged-in user:
// - the nav's Messages count (#messages-badge) and the page title "(3) ...": unread messages
//   in rooms not muted, plus mentions in muted ones;
// - the "3 new" badges and the mention marker in room lists (inbox, a board's rooms);
// - on a room page: the "New messages" line above the first unread message (the page starts
//   there), the read pointer posted while the page is visible, the Mute button, and
//   "Seen by ..." under the newest message in small rooms.
// Counts come from GET /messaging/unread/ and then live `room_unread` frames on the
// notifications socket (notifications.js re-dispatches its frames as DOM events); after a
// reconnect the counts are fetched again. User text only ever goes in with textContent.

import { getJSON, postForm } from "./lib/http.js";

const navLink = document.getElementById("nav-messages");
const badge = document.getElementById("messages-badge");
const unreadUrl = navLink ? navLink.dataset.unreadUrl : null;
const baseTitle = document.title.replace(/^\(\d+\)\s+/, "");

/** @type {Map<number, {unread: number, mentions: number, muted: boolean, last_message_id: number|null, last_read_message_id: number}>} */
const rooms = new Map();

function total() {
  let sum = 0;
  for (const room of rooms.values()) sum += room.muted ? room.mentions : room.unread;
  return sum;
}

function renderTotal() {
  const count = total();
  if (badge) {
    badge.textContent = String(count);
    badge.dataset.count = String(count);
    badge.classList.toggle("d-none", count === 0);
  }
  document.title = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
}

function renderRoom(roomId) {
  const room = rooms.get(roomId);
  if (!room) return;
  for (const item of document.querySelectorAll(`.list-group-item[data-room-id="${roomId}"]`)) {
    item.classList.toggle("has-unread", room.unread > 0);
    const count = item.querySelector("[data-unread-badge]");
    if (count) {
      count.textContent = `${room.unread} new`;
      count.hidden = room.unread === 0;
      count.classList.toggle("muted", room.muted);
    }
    const marker = item.querySelector("[data-mention-marker]");
    if (marker) marker.hidden = room.mentions === 0;
  }
}

// Every change applied gets the next number, so that an answer to GET unread/ sent before
// it (the room page reads the room and loads the counts at the same moment) cannot bring
// back the older counts of that room.
let applied = 0;
/** @type {Map<number, number>} room id -> the number of its latest change */
const appliedAt = new Map();

function apply(item, { asOf = Infinity } = {}) {
  const roomId = Number(item.room_id);
  if (!Number.isFinite(roomId)) return;
  if ((appliedAt.get(roomId) || 0) > asOf) return; // newer counts came in meanwhile
  applied += 1;
  appliedAt.set(roomId, applied);
  rooms.set(roomId, {
    unread: Number(item.unread) || 0,
    mentions: Number(item.mentions) || 0,
    muted: Boolean(item.muted),
    last_message_id: item.last_message_id === null ? null : Number(item.last_message_id),
    last_read_message_id: Number(item.last_read_message_id) || 0,
  });
  renderRoom(roomId);
  renderTotal();
  if (page && page.roomId === roomId) page.onCounts(rooms.get(roomId));
}

async function refresh() {
  if (!unreadUrl) return;
  const asOf = applied;
  const { ok, data } = await getJSON(unreadUrl);
  if (!ok || !data || !Array.isArray(data.rooms)) return;
  const listed = new Set(data.rooms.map((item) => Number(item.room_id)));
  for (const roomId of [...rooms.keys()]) {
    // A room I can no longer read, unless it changed after the request left.
    if (!listed.has(roomId) && (appliedAt.get(roomId) || 0) <= asOf) rooms.delete(roomId);
  }
  for (const item of data.rooms) apply(item, { asOf });
  renderTotal();
  document.body.dataset.unreadLoaded = "true"; // for the browser tests: counts are in
}

document.addEventListener("taskflow:notification-frame", (event) => {
  const frame = event.detail;
  if (frame && frame.type === "room_unread") apply(frame);
});
document.addEventListener("taskflow:notifications-open", (event) => {
  if (event.detail && event.detail.reconnected) refresh(); // frames may have been missed
});

// --- the room page ----------------------------------------------------------------------

class RoomPage {
  constructor(root) {
    this.root = root;
    this.roomId = Number(root.dataset.roomId);
    this.userId = Number(root.dataset.userId);
    this.readUrl = root.dataset.readUrl;
    this.log = document.getElementById("chat-log");
    this.lastRead = Number(root.dataset.lastRead) || 0;
    // The newest message by someone else that I know of (my own are never unread, so reading
    // past them is not worth a request).
    this.lastKnown = Number(root.dataset.unread) > 0 ? Number(root.dataset.lastMessageId) || 0 : 0;
    this.posting = false;
    this.receiptsOn = root.dataset.receiptsEnabled === "true";
    this.seenBy = document.getElementById("seen-by");
    /** @type {Map<number, {name: string, messageId: number}>} */
    this.receipts = new Map();
    let initial = [];
    try {
      initial = JSON.parse(root.dataset.receipts || "[]");
    } catch {
      initial = [];
    }
    for (const r of initial) this.receipts.set(Number(r.user_id), { name: r.display_name || r.username, messageId: Number(r.message_id) });
    this.wireMute();
  }

  /** After chat.js rendered and scrolled the log: draw the divider and start there. */
  start() {
    this.drawDivider();
    this.renderReceipts();
    document.addEventListener("visibilitychange", () => this.markRead());
    document.addEventListener("taskflow:room-frame", (event) => this.onRoomFrame(event.detail));
    this.markRead();
  }

  messageIds() {
    const ids = [];
    for (const el of this.log.querySelectorAll(".chat-msg[data-message-id]")) {
      const id = Number(el.dataset.messageId);
      if (id > 0) ids.push({ id, el });
    }
    return ids;
  }

  drawDivider() {
    const first = this.messageIds().find(({ id, el }) => id > this.lastRead && Number(el.dataset.authorId) !== this.userId);
    if (!first) return;
    const line = document.createElement("div");
    line.id = "unread-divider";
    line.className = "unread-divider";
    line.setAttribute("role", "separator");
    const label = document.createElement("span");
    label.textContent = "New messages";
    line.append(label);
    first.el.before(line);
    if (!window.location.hash && !this.root.dataset.around) {
      const offset = line.getBoundingClientRect().top - this.log.getBoundingClientRect().top;
      this.log.scrollTop = Math.max(0, this.log.scrollTop + offset - 8);
    }
  }

  newestShown() {
    let newest = this.lastKnown;
    for (const { id, el } of this.messageIds()) {
      if (Number(el.dataset.authorId) !== this.userId) newest = Math.max(newest, id);
    }
    return newest;
  }

  /** Move my read pointer to the newest message when the page is visible (never back). */
  async markRead() {
    if (document.visibilityState !== "visible" || this.posting || !this.readUrl) return;
    const target = this.newestShown();
    if (!(target > this.lastRead)) return;
    this.posting = true;
    const { ok, data } = await postForm(this.readUrl, { message_id: String(target) });
    this.posting = false;
    if (ok && data) {
      apply(data);
      this.lastRead = Math.max(this.lastRead, Number(data.last_read_message_id) || 0);
      if (this.newestShown() > this.lastRead) this.markRead(); // more arrived meanwhile
    }
  }

  /** room_unread for this room (another tab read it, a message arrived). */
  onCounts(room) {
    this.lastRead = Math.max(this.lastRead, room.last_read_message_id || 0);
    if (room.unread > 0 && room.last_message_id) {
      this.lastKnown = Math.max(this.lastKnown, room.last_message_id);
      this.markRead();
    }
    this.renderMute(room.muted);
  }

  onRoomFrame(frame) {
    if (!frame) return;
    if (frame.type === "read_receipt" && Number(frame.room_id) === this.roomId) {
      const userId = Number(frame.user_id);
      if (userId === this.userId) return;
      const previous = this.receipts.get(userId);
      const messageId = Number(frame.message_id);
      if (!previous || previous.messageId < messageId) {
        this.receipts.set(userId, { name: frame.display_name || frame.username, messageId });
      }
      this.renderReceipts();
    } else if (frame.type === "chat_message") {
      const id = Number(frame.message_id);
      if (Number(frame.user_id) !== this.userId && id > this.lastKnown) this.lastKnown = id;
      this.renderReceipts();
      this.markRead();
    } else if (frame.type === "message_deleted") {
      this.renderReceipts();
    }
  }

  /** "Seen by bob, carol" under the newest message: the others whose pointer reached it. */
  renderReceipts() {
    if (!this.seenBy || !this.receiptsOn) return;
    const items = this.messageIds();
    const newest = items.length ? items[items.length - 1] : null;
    if (!newest) {
      this.seenBy.hidden = true;
      return;
    }
    const author = Number(newest.el.dataset.authorId);
    const names = [];
    for (const [userId, r] of this.receipts) if (userId !== author && r.messageId >= newest.id) names.push(r.name);
    this.seenBy.textContent = names.length ? `Seen by ${names.join(", ")}` : "";
    this.seenBy.hidden = names.length === 0;
  }

  wireMute() {
    this.muteForm = document.getElementById("mute-form");
    if (!this.muteForm) return;
    this.muteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const field = this.muteForm.querySelector('input[name="muted"]');
      const { ok, data } = await postForm(this.muteForm.action, { muted: field.value });
      if (ok && data) apply(data);
    });
  }

  renderMute(muted) {
    if (!this.muteForm) return;
    const button = this.muteForm.querySelector("button");
    this.muteForm.querySelector('input[name="muted"]').value = muted ? "false" : "true";
    button.textContent = muted ? "Unmute" : "Mute";
    button.setAttribute("aria-pressed", String(muted));
  }
}

const chatRoot = document.getElementById("chat-app");
const page = chatRoot && chatRoot.dataset.readUrl ? new RoomPage(chatRoot) : null;

function begin() {
  if (page) page.start(); // chat.js (a later module) has rendered and scrolled by now
  refresh();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", begin);
else begin();
