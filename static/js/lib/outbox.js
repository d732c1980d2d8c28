// Messages the user has sent but the server has not yet confirmed.
//
// Each entry keeps its client_id for life, so every retry (socket resend after a reconnect,
// HTTP fallback, the Retry button) is the same message to the server, which dedupes on it.
// Lifecycle: queued -> sent over the socket -> confirmed (ack or broadcast) -> gone; or, when
// nothing confirmed it within `timeoutMs`, one HTTP POST. If the browser is offline, or the
// POST cannot reach the server, the entry *waits* (the person is told, in a sentence, that it
// will go when the connection is back) and the next reconnect's flush() sends it. Only a
// definite refusal from the server (rate limit, too long, access gone) marks it failed, and
// the user decides (Retry = another HTTP POST).

import { postForm } from "./http.js";
import { OFFLINE_NOTE, UNREACHABLE_NOTE } from "./thread-ui.js";

const DEFAULT_TIMEOUT_MS = 10000;

/** A v4 UUID. crypto.randomUUID() exists only in secure contexts; a self-hosted instance may
 * run on plain http, so fall back to getRandomValues (available everywhere). */
export function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function" && window.isSecureContext) {
    return window.crypto.randomUUID();
  }
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The server's own sentence for a refused post, or one of ours; never an exception's text. */
function refusalText(result) {
  const error = result.data && typeof result.data.error === "string" ? result.data.error.trim() : "";
  if (error) return `Not sent: ${error}`;
  if (result.status === 403 || result.status === 404) return "Not sent: you may no longer have access here.";
  if (result.status === 429) return "Not sent: you're sending too fast. Wait a moment, then retry.";
  if (result.status >= 500) return "Not sent: TaskFlow had a problem. Try again in a moment.";
  return "Not sent. Try again.";
}

export class Outbox {
  /**
   * @param {{
   *   trySend: (entry: {clientId: string, text: string}) => boolean,   // socket send; false if closed
   *   postUrl: string,                       // HTTP fallback endpoint (fields: content, client_id)
   *   onConfirmed: (clientId: string, payload: object) => void,       // HTTP 201 payload
   *   onFailed: (clientId: string, reason: string) => void,
   *   onRetrying: (clientId: string) => void,
   *   onWaiting?: (clientId: string, note: string) => void,   // cannot send yet; will retry
   *   timeoutMs?: number,
   * }} options
   */
  constructor(options) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    /** @type {Map<string, {clientId: string, text: string, state: string, timer: number|null}>} */
    this.entries = new Map();
  }

  get size() {
    return this.entries.size;
  }

  has(clientId) {
    return this.entries.has(clientId);
  }

  /** Queue a new message and try to send it now. Returns its client_id. */
  add(text, clientId = newClientId(), attachmentIds = []) {
    const entry = { clientId, text, attachmentIds, state: "queued", timer: null };
    this.entries.set(entry.clientId, entry);
    this.attempt(entry);
    return entry.clientId;
  }

  attempt(entry) {
    if (this.options.trySend(entry)) {
      entry.state = "sent";
      this.startTimer(entry);
    } else if (navigator.onLine === false) {
      this.wait(entry, OFFLINE_NOTE); // say so now; flush() sends it when the socket is back
    } else {
      entry.state = "queued";
      this.startTimer(entry);
    }
  }

  startTimer(entry) {
    window.clearTimeout(entry.timer);
    entry.timer = window.setTimeout(() => this.fallBackToHttp(entry), this.timeoutMs);
  }

  /** After a (re)connect: resend everything still unconfirmed, with the same client_ids,
   * and give each a fresh timeout (an entry that was waiting for the network gets its HTTP
   * fallback again if the socket does not confirm it). */
  flush() {
    for (const entry of this.entries.values()) {
      if (entry.state === "queued" || entry.state === "sent" || entry.state === "waiting") {
        if (entry.state === "waiting") this.options.onRetrying(entry.clientId);
        entry.state = this.options.trySend(entry) ? "sent" : "queued";
        this.startTimer(entry);
      }
    }
  }

  wait(entry, note) {
    entry.state = "waiting";
    if (this.options.onWaiting) this.options.onWaiting(entry.clientId, note);
  }

  /** The server confirmed this client_id (ack, broadcast or history): stop tracking it. */
  confirm(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry) return false;
    window.clearTimeout(entry.timer);
    this.entries.delete(clientId);
    return true;
  }

  /** The server is saturated and said so (error code slow_down): nothing was saved, so send
   * the same entry again after `ms` (same client_id, so a duplicate is impossible). */
  later(clientId, ms) {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state === "posting") return;
    window.clearTimeout(entry.timer);
    entry.state = "queued";
    entry.timer = window.setTimeout(() => this.attempt(entry), ms);
  }

  /** A server error frame named this client_id: no point waiting for the timeout. */
  reject(clientId, reason) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    window.clearTimeout(entry.timer);
    entry.timer = null;
    entry.state = "failed";
    this.options.onFailed(clientId, reason);
  }

  async fallBackToHttp(entry) {
    entry.timer = null;
    if (!this.entries.has(entry.clientId) || entry.state === "posting") return;
    if (navigator.onLine === false) {
      this.wait(entry, OFFLINE_NOTE);
      return;
    }
    entry.state = "posting";
    const fields = { content: entry.text, client_id: entry.clientId };
    if (entry.attachmentIds && entry.attachmentIds.length) fields.attachment_ids = entry.attachmentIds.join(",");
    const result = await postForm(this.options.postUrl, fields);
    if (!this.entries.has(entry.clientId)) return; // confirmed by the socket meanwhile
    if (result.ok && result.data) {
      this.entries.delete(entry.clientId);
      this.options.onConfirmed(entry.clientId, result.data);
      return;
    }
    if (result.status === 0) {
      // Nothing reached the server: not a refusal. Wait for the connection.
      this.wait(entry, navigator.onLine === false ? OFFLINE_NOTE : UNREACHABLE_NOTE);
      return;
    }
    entry.state = "failed";
    this.options.onFailed(entry.clientId, refusalText(result));
  }

  /** The user pressed Retry. Straight to HTTP: its answer is immediate and definite, whereas
   * the socket already had its chance (it stays the path for new messages). */
  retry(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== "failed") return;
    this.options.onRetrying(clientId);
    this.fallBackToHttp(entry);
  }

  /** Access is gone: nothing will be delivered over the socket any more. */
  failAll(reason) {
    for (const entry of this.entries.values()) {
      if (entry.state !== "failed" && entry.state !== "posting") this.reject(entry.clientId, reason);
    }
  }
}
