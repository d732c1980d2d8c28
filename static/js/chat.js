// Chat room page: live messages (lib/thread.js) plus the typing indicator.
// Loaded on every page that includes it; does nothing without #chat-app.

import { overLimitMessage } from "./lib/composer.js";
import { getJSON, postForm } from "./lib/http.js";
import { LiveThread } from "./lib/thread.js";

const TYPING_THROTTLE_MS = 2000; // send {"type": "typing"} at most this often
const TYPING_IDLE_MS = 3000; // then {"type": "stop_typing"} after this long without input
const DEFAULT_TYPING_EXPIRY_S = 10;

const CHAT = {
  log: "chat-log",
  template: "chat-message-template",
  form: "chat-form",
  input: "chat-input",
  older: "load-older",
  newer: "load-newer",
  status: "connection-status",
  postUrlAttr: "sendUrl",
  idKey: "message_id",
  textKey: "message",
  liveType: "chat_message",
  historyKey: "messages",
  domPrefix: "message-",
  dataKey: "messageId",
  noun: "message",
  frame: (text, clientId) => ({ type: "chat_message", message: text, client_id: clientId }),
  editedType: "message_edited",
  deletedType: "message_deleted",
  canReply: true,
  editFrame: (id, text) => ({ type: "edit_message", message_id: id, message: text }),
  deleteFrame: (id) => ({ type: "delete_message", message_id: id }),
  reactFrame: (id, emoji) => ({ type: "react", message_id: id, emoji }),
};

/** Tells the room when I am typing: throttled while I type, stopped when I pause, send or leave. */
class TypingSender {
  constructor(input, send) {
    this.input = input;
    this.send = send;
    this.active = false;
    this.lastSentAt = 0;
    this.idleTimer = null;
    input.addEventListener("input", () => this.onInput());
    input.addEventListener("blur", () => this.stop());
  }

  onInput() {
    if (this.input.value.trim() === "") {
      this.stop();
      return;
    }
    const now = Date.now();
    if (now - this.lastSentAt >= TYPING_THROTTLE_MS && this.send({ type: "typing" })) {
      this.lastSentAt = now;
      this.active = true;
    }
    window.clearTimeout(this.idleTimer);
    this.idleTimer = window.setTimeout(() => this.stop(), TYPING_IDLE_MS);
  }

  stop() {
    window.clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.active) this.send({ type: "stop_typing" });
    this.active = false;
    this.lastSentAt = 0;
  }

  /** The socket closed: the server has forgotten us, so the next keystroke announces again. */
  reset() {
    window.clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.active = false;
    this.lastSentAt = 0;
  }
}

/** Who else is typing; each typist expires unless refreshed. */
class TypingIndicator {
  constructor(el, myUserId, expirySeconds) {
    this.el = el;
    this.myUserId = myUserId;
    this.expiryMs = expirySeconds * 1000;
    /** @type {Map<number, {name: string, timer: number}>} */
    this.typists = new Map();
    if (el && !el.hasAttribute("aria-live")) el.setAttribute("aria-live", "polite");
    // Typists the server rendered with the page: track them so they expire like live ones.
    for (const span of el ? el.querySelectorAll(".typist[data-user-id]") : []) {
      this.add(Number(span.dataset.userId), span.textContent.trim() || span.dataset.username, this.expiryMs);
    }
  }

  handle(data) {
    const userId = Number(data.user_id);
    if (data.type === "user_typing") {
      if (userId === this.myUserId) return;
      const seconds = Number(data.expires_in);
      this.add(userId, data.display_name || data.username, seconds > 0 ? seconds * 1000 : this.expiryMs);
    } else if (data.type === "user_stop_typing" || data.type === "user_leave" || data.type === "chat_message") {
      this.remove(userId);
    }
  }

  add(userId, name, ttlMs) {
    const previous = this.typists.get(userId);
    if (previous) window.clearTimeout(previous.timer);
    const timer = window.setTimeout(() => this.remove(userId), ttlMs);
    this.typists.set(userId, { name: name || "Someone", timer });
    this.render();
  }

  remove(userId) {
    const typist = this.typists.get(userId);
    if (!typist) return;
    window.clearTimeout(typist.timer);
    this.typists.delete(userId);
    this.render();
  }

  clear() {
    for (const userId of [...this.typists.keys()]) this.remove(userId);
  }

  render() {
    if (!this.el) return;
    const names = [...this.typists.values()].map((t) => t.name);
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "several people are typing…";
    this.el.textContent = text;
  }
}

function start(root) {
  const expiry = Number(root.dataset.typingExpiry) || DEFAULT_TYPING_EXPIRY_S;
  const indicator = new TypingIndicator(
    document.getElementById("typing-indicator"),
    Number(root.dataset.userId),
    expiry
  );
  let sender = null;
  let panel = null;
  const thread = new LiveThread(root, CHAT, {
    onFrame: (data) => {
      indicator.handle(data);
      // unread.js (read pointer, "Seen by") hears the room's frames through this event.
      document.dispatchEvent(new CustomEvent("taskflow:room-frame", { detail: data }));
    },
    onReply: (payload) => panel && panel.receive(payload),
    onOpenThread: (rootId) => panel && panel.open(rootId),
    onSubmit: () => sender && sender.stop(),
    onStatus: (status) => {
      if (status === "open") return;
      if (sender) sender.reset();
      indicator.clear(); // stale while we cannot hear stop_typing
    },
  }).start();
  const input = document.getElementById(CHAT.input);
  if (input && thread.socket) sender = new TypingSender(input, (frame) => thread.socket.send(frame));
  if (document.getElementById("thread-panel")) panel = new ThreadPanel(thread);
  // Opened at a reply (a search result): its thread, with the reply highlighted.
  const aroundRoot = Number(root.dataset.aroundRoot);
  if (panel && aroundRoot) panel.open(aroundRoot).then(() => panel.highlight(Number(root.dataset.around)));
}

/** The thread beside the log: a root's replies, live, and a box to reply (issue 10). */
class ThreadPanel {
  constructor(thread) {
    this.thread = thread;
    this.el = document.getElementById("thread-panel");
    this.rootBox = document.getElementById("thread-root");
    this.log = document.getElementById("thread-log");
    this.form = document.getElementById("thread-form");
    this.input = document.getElementById("thread-input");
    this.rootId = null;
    thread.wireActions(this.log);
    document.getElementById("thread-close").addEventListener("click", () => this.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
  }

  async open(rootId) {
    const root = this.thread.items.get(rootId);
    if (!root) return;
    this.close();
    this.rootId = rootId;
    const preview = document.createElement("div");
    preview.className = "small text-muted thread-root-text";
    preview.textContent = `${root.querySelector(".author")?.textContent || ""}: ${root.dataset.text || ""}`;
    this.rootBox.replaceChildren(preview);
    this.el.hidden = false;
    this.input.focus();
    const url = this.thread.historyQuery({ parent: rootId, limit: 100 });
    const result = await getJSON(url);
    if (this.rootId !== rootId || !result.ok || !result.data) return;
    for (const payload of result.data.messages || []) this.receive(payload);
  }

  highlight(id) {
    const el = this.thread.extraItems.get(id);
    if (!el) return;
    el.classList.add("highlighted");
    el.scrollIntoView({ block: "nearest" });
  }

  close() {
    for (const id of [...this.thread.extraItems.keys()]) this.thread.extraItems.delete(id);
    this.log.replaceChildren();
    this.rootBox.replaceChildren();
    this.rootId = null;
    this.el.hidden = true;
  }

  receive(payload) {
    if (this.rootId === null || Number(payload.parent_id) !== this.rootId) return;
    const id = Number(payload.message_id);
    let el = this.thread.extraItems.get(id);
    if (el && this.thread.isStale(el, payload)) return;
    if (!el) {
      el = this.thread.createItem();
      this.thread.extraItems.set(id, el);
      const after = [...this.log.children].filter((node) => Number(node.dataset.messageId) < id);
      if (after.length) after[after.length - 1].after(el);
      else this.log.prepend(el);
    }
    this.thread.fill(el, payload);
  }

  async send() {
    const text = this.input.value.trim();
    if (!text || this.rootId === null) return;
    // Too long: keep every character in the box and say why (as the main box does).
    const tooLong = overLimitMessage(text, Number(this.input.dataset.maxLength) || 0);
    if (tooLong) {
      this.thread.showAlert(tooLong);
      this.input.focus();
      return;
    }
    this.input.value = "";
    this.input.dispatchEvent(new Event("input", { bubbles: true })); // the counter
    const frame = { type: "chat_message", message: text, parent_id: this.rootId };
    if (this.thread.socket && this.thread.socket.send(frame)) return;
    const url = this.thread.root.dataset.sendUrl;
    const result = await postForm(url, { content: text, parent_id: String(this.rootId) });
    if (result.ok && result.data) this.receive(result.data);
    else {
      if (!this.input.value) this.input.value = text; // not sent: give the text back
      this.thread.showAlert((result.data && result.data.error) || "Reply not sent. Try again.");
    }
  }
}

const root = document.getElementById("chat-app");
if (root) start(root);
