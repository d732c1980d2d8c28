// A WebSocket that reconnects with exponential backoff and tells its owner when it is back,
// so the owner can fetch what it missed. Server close codes 4000-4999 mean "access gone":
// no reconnect.
//
// It also listens to the browser: when the browser says it is offline the socket is closed
// at once (an open socket can otherwise look alive for minutes) and no retries are spent
// until the browser is back online, when it reconnects immediately.
//
// Statuses: "connecting" (first try), "open", "closed" (waiting to retry at
// `nextRetryAt`), "offline" (the browser has no network), "gone" (access ended).

import * as presence from "./presence.js";

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class LiveSocket {
  /**
   * @param {string} path  e.g. "/ws/chat-room/3/"
   * @param {{onMessage?: (data: object) => void, onOpen?: (info: {reconnected: boolean}) => void,
   *          onStatus?: (status: "connecting"|"open"|"closed"|"offline"|"gone") => void}} handlers
   */
  constructor(path, handlers = {}) {
    this.path = path;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = false;
    this.timer = null;
    /** When the next reconnect attempt is due (ms since the epoch), or null. */
    this.nextRetryAt = null;
    this.connect();
    window.addEventListener("online", () => {
      this.attempt = 0;
      this.cancelRetry();
      this.reconnectSoon(0);
    });
    window.addEventListener("offline", () => this.goOffline());
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}${this.path}`;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  get browserOnline() {
    return navigator.onLine !== false;
  }

  status(value) {
    this.lastStatus = value;
    if (this.handlers.onStatus) this.handlers.onStatus(value);
  }

  connect() {
    if (this.stopped) return;
    this.nextRetryAt = null;
    if (!this.browserOnline) {
      this.status("offline");
      return;
    }
    this.status("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.status("open");
      presence.attach(this, { reconnected }); // heartbeats ride on every open socket
      if (this.handlers.onOpen) this.handlers.onOpen({ reconnected });
    });
    ws.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data && data.type === "presence") {
        presence.receive(data); // dots, not the owner's business
        return;
      }
      if (this.handlers.onMessage) this.handlers.onMessage(data);
    });
    ws.addEventListener("close", (event) => {
      presence.detach(this);
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code >= 4000 && event.code < 5000) {
        this.stopped = true;
        this.cancelRetry();
        this.status("gone");
        return;
      }
      this.reconnectSoon();
    });
  }

  /** The browser lost its network: say so now and stop trying until it is back. */
  goOffline() {
    if (this.stopped) return;
    this.cancelRetry();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.status("offline");
  }

  cancelRetry() {
    window.clearTimeout(this.timer);
    this.timer = null;
    this.nextRetryAt = null;
  }

  reconnectSoon(delay) {
    if (this.stopped || this.timer !== null || this.isOpen) return;
    if (!this.browserOnline) {
      this.status("offline");
      return;
    }
    const backoff = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const wait = delay ?? backoff * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.nextRetryAt = Date.now() + wait;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      if (!this.isOpen && this.ws === null) this.connect();
    }, wait);
    this.status("closed");
  }

  /** The connection is known to be dead although the socket looks open: close it and
   * reconnect with backoff (statuses follow: closed -> connecting -> open). */
  dropIfStale() {
    if (this.stopped || !this.isOpen) return;
    const ws = this.ws;
    this.ws = null;
    ws.close();
    this.reconnectSoon();
  }

  /** Try again now. */
  retryNow() {
    if (this.stopped || this.isOpen || this.ws !== null) return;
    this.cancelRetry();
    this.connect();
  }

  /** Send a JSON frame; returns false (and sends nothing) while disconnected. */
  send(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  close() {
    this.stopped = true;
    this.cancelRetry();
    if (this.ws) this.ws.close();
  }
}
