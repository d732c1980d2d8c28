// A WebSocket that reconnects with exponential backoff and tells its owner when it is back,
// so the owner can fetch what it missed. Server close codes 4000-4999 mean "access gone":
// no reconnect.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class LiveSocket {
  /**
   * @param {string} path  e.g. "/ws/chat-room/3/"
   * @param {{onMessage?: (data: object) => void, onOpen?: (info: {reconnected: boolean}) => void,
   *          onStatus?: (status: "connecting"|"open"|"closed"|"gone") => void}} handlers
   */
  constructor(path, handlers = {}) {
    this.path = path;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = false;
    this.timer = null;
    this.connect();
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}${this.path}`;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  status(value) {
    if (this.handlers.onStatus) this.handlers.onStatus(value);
  }

  connect() {
    if (this.stopped) return;
    this.status("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.status("open");
      if (this.handlers.onOpen) this.handlers.onOpen({ reconnected });
    });
    ws.addEventListener("message", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (this.handlers.onMessage) this.handlers.onMessage(data);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code >= 4000 && event.code < 5000) {
        this.stopped = true;
        this.status("gone");
        return;
      }
      this.status("closed");
      this.reconnectSoon();
    });
  }

  reconnectSoon(delay) {
    if (this.stopped || this.timer !== null || this.isOpen) return;
    const backoff = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    const wait = delay ?? backoff * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      if (!this.isOpen && this.ws === null) this.connect();
    }, wait);
  }

  /** Send a JSON frame; returns false (and sends nothing) while disconnected. */
  send(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  close() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }
}
