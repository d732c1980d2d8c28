// Chat room page: live messages (lib/thread.js) plus the typing indicator.
// Loaded on every page that includes it; does nothing without #chat-app.

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
  const thread = new LiveThread(root, CHAT, {
    onFrame: (data) => indicator.handle(data),
    onSubmit: () => sender && sender.stop(),
    onStatus: (status) => {
      if (status === "open") return;
      if (sender) sender.reset();
      indicator.clear(); // stale while we cannot hear stop_typing
    },
  }).start();
  const input = document.getElementById(CHAT.input);
  if (input && thread.socket) sender = new TypingSender(input, (frame) => thread.socket.send(frame));
}

const root = document.getElementById("chat-app");
if (root) start(root);
