// A live, server-rendered list of messages: the chat room log and the task comment thread.
//
// The page renders the history; this module keeps it current. Items are keyed and ordered by
// their database id and are only ever built from the page's <template> with textContent, so
// user text can never become markup. Anything the socket may have missed (the moments between
// page render and subscribe, a reconnect, a dropped broadcast) is fetched from the history
// endpoint with ?after=<id>. Messages the user sends go through an Outbox, so a send while
// disconnected is shown as pending and delivered later instead of being lost.

import { AttachmentTray, applyAttachmentReady, renderAttachments, wireLightbox } from "./attachments.js";
import { getJSON, postForm } from "./http.js";
import { overLimitMessage } from "./composer.js";
import { Outbox, newClientId } from "./outbox.js";
import {
  decorate,
  editInPlace,
  renderBody,
  renderDeleted,
  renderEdited,
  renderReactions,
  renderReplies,
  showVersions,
  togglePicker,
} from "./posts.js";
import { LiveSocket } from "./socket.js";
import { confirmAction } from "./confirm.js";
import { AlertList, STATUS_TONES, describeStatus, setText, showLocalTime } from "./thread-ui.js";

const NEAR_BOTTOM_PX = 80;
const HISTORY_LIMIT = 50;
// Catching up (resume, back-fill) takes the server's largest page (messaging.forms
// HISTORY_MAX_LIMIT): after an outage every page of a room asks at once, and half the round
// trips let them catch up sooner (fault scenario a on a slow machine).
const CATCH_UP_LIMIT = 100;
const MAX_BACKFILL_PAGES = 20;
// Ids are global across rooms/tasks, so a jump in ids is usually someone else's room, not a
// lost message. A gap still triggers a back-fill, but at most this often.
const GAP_BACKFILL_INTERVAL_MS = 2000;

/**
 * What differs between a chat room and a comment thread. Element ids come from the DOM
 * contract the server templates follow.
 * @typedef {{
 *   log: string, template: string, form: string, input: string, older: string, status: string,
 *   postUrlAttr: "sendUrl"|"postUrl",
 *   idKey: "message_id"|"comment_id", textKey: "message"|"comment",
 *   liveType: "chat_message"|"new_comment", historyKey: "messages"|"comments",
 *   domPrefix: "message-"|"comment-", dataKey: "messageId"|"commentId",
 *   frame: (text: string, clientId: string) => object,
 *   noun: string, newer?: string,
 *   editedType: string, deletedType: string, canReply: boolean,
 *   editFrame: (id: number, text: string) => object, deleteFrame: (id: number) => object,
 *   reactFrame: (id: number, emoji: string) => object,
 * }} ThreadKind
 */

export class LiveThread {
  /**
   * @param {HTMLElement} root  #chat-app or #comment-thread, carrying the data-* attributes
   * @param {ThreadKind} kind
   * @param {{onFrame?: (data: object) => void, onSubmit?: () => void,
   *          onStatus?: (status: string) => void, onReply?: (payload: object) => void,
   *          onOpenThread?: (rootId: number) => void}} hooks
   */
  constructor(root, kind, hooks = {}) {
    this.root = root;
    this.kind = kind;
    this.hooks = hooks;
    this.log = document.getElementById(kind.log);
    this.template = document.getElementById(kind.template);
    this.form = document.getElementById(kind.form);
    this.input = document.getElementById(kind.input);
    this.olderButton = document.getElementById(kind.older);
    this.newerButton = kind.newer ? document.getElementById(kind.newer) : null;
    // Opened around an item (a search result, ?around=<id>) with newer history not loaded:
    // until "Load newer" reaches the present, nothing back-fills past the page on its own.
    this.detached = root.dataset.hasNewer === "true";
    this.statusEl = document.getElementById(kind.status);
    this.userId = Number(root.dataset.userId);
    this.username = root.dataset.username || "";
    this.historyUrl = root.dataset.historyUrl;
    /** @type {Map<number, HTMLElement>} confirmed items by id */
    this.items = new Map();
    /** @type {Map<string, HTMLElement>} my unconfirmed items by client_id */
    this.pending = new Map();
    // Every id <= syncedThrough is known to be rendered (the page is a consistent snapshot).
    this.syncedThrough = 0;
    this.backfilling = false;
    this.backfillAgain = false;
    this.gapTimer = null;
    this.lastBackfillAt = 0;
    this.gone = false;
    this.alerts = null; // AlertList, made on first use
    // Conversations (issue 10): every change of this room/thread up to syncedSeq is shown.
    // Changes reach the socket numbered one by one, so a jump means frames were lost; a
    // socket that comes back, or sees a jump, asks history/?since=<syncedSeq> for every row
    // changed after it (tombstones too).
    this.syncedSeq = Number(root.dataset.seq) || 0;
    // Numbers above syncedSeq + 1 that have arrived: seq -> the row's id.
    /** @type {Map<number, number>} */
    this.aheadSeqs = new Map();
    // Whether every row changed up to syncedSeq is shown (the page is a consistent snapshot;
    // false while a resume runs and after one failed part-way).
    this.seqComplete = true;
    this.resuming = false;
    this.resumeAgain = false;
    this.resumeTimer = null;
    this.canModerate = root.dataset.canModerate === "true";
    /** @type {Map<number, HTMLElement>} items outside the log (the open thread's replies) */
    this.extraItems = new Map();

    this.outbox = new Outbox({
      trySend: (entry) => {
        const frame = kind.frame(entry.text, entry.clientId);
        if (entry.attachmentIds && entry.attachmentIds.length) frame.attachment_ids = entry.attachmentIds;
        return this.socket.send(frame);
      },
      postUrl: root.dataset[kind.postUrlAttr] || (this.form && this.form.action),
      onConfirmed: (clientId, payload) =>
        this.upsert({ user_id: this.userId, ...payload, client_id: clientId }),
      onFailed: (clientId, reason) => this.markFailed(clientId, reason),
      onRetrying: (clientId) => this.markPending(clientId),
      onWaiting: (clientId, note) => {
        this.markWaiting(clientId, note);
        // Neither the socket nor HTTP got through: a socket that still looks open is dead
        // (a network that vanished without the browser noticing). Reconnect, so the status
        // says so and the message goes out with the next successful connection.
        if (this.socket) this.socket.dropIfStale();
      },
    });
    this.statusTicker = null;
  }

  start() {
    if (!this.log || !this.template) return this;
    this.adoptServerRendered();
    // Issue 12: files (paperclip, drop, paste) and image previews in a lightbox.
    if (this.form && this.root.dataset.uploadUrl) this.tray = new AttachmentTray(this.root, this.form, this.log);
    wireLightbox(this.root);
    this.wireForm();
    this.wireActions(this.log);
    this.wireOlder();
    this.wireNewer();
    this.scrollInitially();
    this.socket = new LiveSocket(this.root.dataset.wsPath, {
      onMessage: (data) => this.onFrame(data),
      onOpen: () => this.onOpen(),
      onStatus: (status) => this.onStatus(status),
    });
    return this;
  }

  // --- items ------------------------------------------------------------------------------

  idOf(el) {
    const raw = el.dataset ? el.dataset[this.kind.dataKey] : undefined;
    if (raw === undefined || raw === "" || el.classList.contains("pending")) return null;
    const id = Number(raw);
    return Number.isFinite(id) ? id : null;
  }

  adoptServerRendered() {
    for (const el of this.log.querySelectorAll(".chat-msg")) {
      const id = this.idOf(el);
      if (id === null) continue;
      this.items.set(id, el);
      this.syncedThrough = Math.max(this.syncedThrough, id);
      this.decorateItem(el);
      const time = el.querySelector("time.ts");
      if (time) showLocalTime(time, time.getAttribute("datetime"));
    }
  }

  get firstId() {
    let min = null;
    for (const id of this.items.keys()) if (min === null || id < min) min = id;
    return min;
  }

  createItem() {
    const fragment = this.template.content.cloneNode(true);
    return fragment.querySelector(".chat-msg") || fragment.firstElementChild;
  }

  /** Write a payload into an item element; text goes in with textContent only. */
  fill(el, payload) {
    const id = payload[this.kind.idKey];
    if (id !== undefined && id !== null) {
      el.id = `${this.kind.domPrefix}${id}`;
      el.dataset[this.kind.dataKey] = String(id);
    }
    setText(el, ".author", payload.display_name || payload.username);
    setText(el, ".username", payload.username ? `@${payload.username}` : "");
    const badge = el.querySelector(".bot-badge");
    if (badge && payload.is_bot !== undefined) badge.hidden = !payload.is_bot;
    showLocalTime(el.querySelector("time.ts"), payload.timestamp);
    renderBody(el, payload, this.kind.textKey);
    el.classList.toggle("own", Number(payload.user_id) === this.userId);
    const mentioned = Array.isArray(payload.mentioned_users) ? payload.mentioned_users : [];
    el.classList.toggle("mentions-me", this.username !== "" && mentioned.includes(this.username));
    if (payload.user_id !== undefined) el.dataset.authorId = String(payload.user_id);
    if (payload.seq !== undefined) el.dataset.seq = String(payload.seq);
    if (payload.parent_id) el.dataset.parentId = String(payload.parent_id);
    renderEdited(el, payload.is_edited, payload.is_deleted);
    if (payload.is_deleted) renderDeleted(el);
    else el.classList.remove("deleted");
    if (payload.reactions !== undefined) renderReactions(el, payload.reactions, this.username);
    if (payload.attachments !== undefined) renderAttachments(el, payload.is_deleted ? [] : payload.attachments);
    if (payload.reply_count !== undefined) renderReplies(el, payload.reply_count);
    this.decorateItem(el);
  }

  decorateItem(el) {
    decorate(el, {
      mine: Number(el.dataset.authorId) === this.userId,
      canModerate: this.canModerate,
      canReply: Boolean(this.kind.canReply) && !el.dataset.parentId,
    });
  }

  /** A live frame's sequence number. Frames can arrive a little out of order (the room's
   * posts are broadcast by several server processes): numbers above the next one wait in
   * `aheadSeqs` until the gap fills, and the watermark moves over them then. A gap still
   * open GAP_BACKFILL_INTERVAL_MS / 4 later means frames were lost: resume. */
  liveSeq(seq, rowId) {
    const n = Number(seq);
    if (!Number.isFinite(n) || n <= this.syncedSeq) return;
    const id = Number(rowId);
    this.aheadSeqs.set(n, Number.isFinite(id) ? id : 0);
    this.advanceSeq();
    this.scheduleResume();
  }

  /** Move the watermark over the numbers that have arrived in a row. Each row's change
   * numbers follow the order rows were created in (one lock per room), so every row older
   * than one the watermark passes is shown too: syncedThrough moves with it. */
  advanceSeq() {
    if (this.resuming) return; // resume() moves the watermark itself
    for (const n of [...this.aheadSeqs.keys()]) if (n <= this.syncedSeq) this.aheadSeqs.delete(n);
    while (this.aheadSeqs.has(this.syncedSeq + 1)) {
      this.syncedSeq += 1;
      const id = this.aheadSeqs.get(this.syncedSeq);
      this.aheadSeqs.delete(this.syncedSeq);
      if (id && this.seqComplete && !this.detached) this.syncedThrough = Math.max(this.syncedThrough, id);
    }
  }

  scheduleResume() {
    if (this.resumeTimer !== null || this.aheadSeqs.size === 0) return;
    const target = Math.max(...this.aheadSeqs.keys());
    this.resumeTimer = window.setTimeout(() => {
      this.resumeTimer = null;
      if (this.syncedSeq < target) this.resume();
      else this.scheduleResume();
    }, GAP_BACKFILL_INTERVAL_MS / 4);
  }

  /** A confirmed item anywhere on the page (the log or the open thread). */
  findItem(id) {
    return this.items.get(id) || this.extraItems.get(id) || null;
  }

  /** Whether `payload` is older than what `el` shows (a late history answer, a stale frame). */
  isStale(el, payload) {
    const shown = Number(el.dataset.seq);
    const incoming = Number(payload.seq);
    return Number.isFinite(shown) && Number.isFinite(incoming) && incoming < shown;
  }

  /** Put a confirmed item in id order: after the last smaller id, before any pending item. */
  place(el, id) {
    let node = this.log.lastElementChild;
    while (node) {
      if (node !== el) {
        const nodeId = this.idOf(node);
        if (nodeId !== null && nodeId < id) break;
      }
      node = node.previousElementSibling;
    }
    if (node) node.after(el);
    else this.log.prepend(el);
  }

  /**
   * Render a server payload (live, ack'd, HTTP response or history) exactly once. If it is
   * one of my pending items (same client_id), that element becomes the real item.
   */
  upsert(payload, { stickToBottom } = {}) {
    const id = Number(payload[this.kind.idKey]);
    if (!Number.isFinite(id)) return null;
    const clientId = payload.client_id;
    const mine = Number(payload.user_id) === this.userId;
    let pendingEl = null;
    if (mine && clientId && this.pending.has(clientId)) {
      pendingEl = this.pending.get(clientId);
      this.pending.delete(clientId);
      this.outbox.confirm(clientId);
    }
    const existing = this.items.get(id);
    if (existing) {
      if (this.isStale(existing, payload)) return existing;
      this.fill(existing, payload); // e.g. an ack'd item now gets the server's timestamp
      if (pendingEl && pendingEl !== existing) pendingEl.remove();
      return existing;
    }
    const stick = stickToBottom ?? (this.isNearBottom() || pendingEl !== null);
    const el = pendingEl || this.createItem();
    this.clearSendState(el);
    this.fill(el, payload);
    this.items.set(id, el);
    this.place(el, id);
    if (stick) this.scrollToBottom();
    return el;
  }

  /** A live item: render it, and back-fill if it shows we may have missed some. */
  receiveLive(payload) {
    const id = Number(payload[this.kind.idKey]);
    if (!Number.isFinite(id)) return;
    if (payload.parent_id) {
      // A reply lives in its thread, not in the log.
      if (this.hooks.onReply) this.hooks.onReply(payload);
      return;
    }
    // A numbered frame's gaps are the watermark's business (liveSeq: resume); ids skip
    // numbers anyway (other rooms' messages, replies).
    if (!Number.isFinite(Number(payload.seq))) {
      if (id === this.syncedThrough + 1 && !this.backfilling) this.syncedThrough = id;
      else if (id > this.syncedThrough) this.scheduleGapBackfill();
    }
    this.upsert(payload);
  }

  // --- sending ----------------------------------------------------------------------------

  wireForm() {
    if (!this.form || !this.input) return;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowUp" && this.input.value === "" && !event.isComposing) {
        // Up arrow in an empty box edits my last message (as in Slack).
        const own = [...this.log.querySelectorAll(".chat-msg.own:not(.pending):not(.deleted)")];
        const last = own[own.length - 1];
        if (last) {
          event.preventDefault();
          this.startEdit(last);
        }
        return;
      }
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      // The mention autocomplete uses Enter to pick a name; it flags its open menu on the
      // textarea and (Tribute) also prevents the default.
      if (this.input.dataset.mentionMenuOpen === "true" || event.defaultPrevented) return;
      event.preventDefault();
      this.submit();
    });
    this.log.addEventListener("click", (event) => {
      const button = event.target.closest("button.retry-send");
      if (!button) return;
      const item = button.closest(".chat-msg");
      if (item && item.dataset.clientId) this.outbox.retry(item.dataset.clientId);
    });
  }

  submit() {
    if (this.gone) return;
    const text = this.input.value.trim();
    // Too long: keep every character in the box and say why it was not sent.
    const tooLong = text ? overLimitMessage(text, Number(this.input.dataset.maxLength) || 0) : "";
    if (tooLong) {
      this.showAlert(tooLong);
      this.input.focus();
      return;
    }
    // Issue 12: files waiting in the tray go with it (the text may then be empty).
    if (this.tray && this.tray.busy) {
      this.showAlert("Wait for the uploads to finish (or cancel them), then send.");
      return;
    }
    const files = this.tray ? this.tray.take() : { ids: [], items: [] };
    if (!text && !files.ids.length) return;
    this.input.value = "";
    // Listeners of the box (its length counter) see it emptied.
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
    if (this.hooks.onSubmit) this.hooks.onSubmit();
    const clientId = newClientId();
    const el = this.createItem();
    this.fill(el, {
      username: this.username,
      display_name: this.myDisplayName(),
      user_id: this.userId,
      timestamp: new Date().toISOString(),
      [this.kind.textKey]: text,
      attachments: files.items,
    });
    el.classList.add("pending");
    el.dataset.clientId = clientId;
    this.pending.set(clientId, el);
    this.log.append(el);
    this.scrollToBottom();
    this.outbox.add(text, clientId, files.ids);
  }

  myDisplayName() {
    if (this.root.dataset.displayName) return this.root.dataset.displayName;
    const own = this.log.querySelectorAll(".chat-msg.own:not(.pending) .author");
    const last = own.length ? own[own.length - 1].textContent.trim() : "";
    return last || this.username;
  }

  onAck(data) {
    const clientId = data.client_id;
    const id = Number(data[this.kind.idKey] ?? data.message_id ?? data.comment_id);
    this.outbox.confirm(clientId);
    const el = this.pending.get(clientId);
    if (!el || !Number.isFinite(id)) return;
    this.pending.delete(clientId);
    if (this.items.has(id)) {
      el.remove(); // the broadcast got here first
      return;
    }
    this.clearSendState(el);
    el.id = `${this.kind.domPrefix}${id}`;
    el.dataset[this.kind.dataKey] = String(id);
    this.items.set(id, el);
    this.place(el, id);
  }

  markFailed(clientId, reason) {
    const el = this.pending.get(clientId);
    if (!el) return;
    this.clearSendState(el);
    el.classList.add("failed");
    const note = document.createElement("div");
    note.className = "send-state small";
    const text = document.createElement("span");
    text.className = "text-danger";
    text.textContent = reason || "Not sent.";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-link btn-sm p-0 ms-2 align-baseline retry-send";
    button.textContent = "Retry";
    note.append(text, button);
    el.append(note);
  }

  /** Still unsent, and the reason is the connection: a calm note, not a failure. */
  markWaiting(clientId, note) {
    const el = this.pending.get(clientId);
    if (!el) return;
    this.clearSendState(el);
    el.classList.add("pending", "waiting");
    const div = document.createElement("div");
    div.className = "send-state small text-body-secondary";
    div.setAttribute("role", "status");
    div.textContent = note;
    el.append(div);
  }

  markPending(clientId) {
    const el = this.pending.get(clientId);
    if (!el) return;
    this.clearSendState(el);
    el.classList.add("pending");
  }

  clearSendState(el) {
    el.classList.remove("pending", "failed", "waiting");
    for (const note of el.querySelectorAll(".send-state")) note.remove();
  }

  // --- socket -----------------------------------------------------------------------------

  onFrame(data) {
    if (!data || typeof data !== "object") return;
    if (data.seq !== undefined && data.type !== "error") this.liveSeq(data.seq, data[this.kind.idKey]);
    if (data.type === this.kind.liveType) this.receiveLive(data);
    else if (data.type === this.kind.editedType) this.applyEdited(data);
    else if (data.type === this.kind.deletedType) this.applyDeleted(data);
    else if (data.type === "reactions") this.applyReactions(data);
    else if (data.type === "thread_updated") this.applyThreadUpdated(data);
    else if (data.type === "attachment_ready") applyAttachmentReady(this.root, data);
    else if (data.type === "ack") this.onAck(data);
    else if (data.type === "error") {
      if (data.client_id && data.code === "slow_down" && this.pending.has(data.client_id)) {
        this.outbox.later(data.client_id, (Number(data.retry_after) || 1) * 1000);
      } else if (data.client_id && this.pending.has(data.client_id)) {
        this.outbox.reject(data.client_id, data.message);
      } else {
        this.showAlert(data.message || "Something went wrong.");
      }
    }
    if (this.hooks.onFrame) this.hooks.onFrame(data);
  }

  async onOpen() {
    // Also on the first open: anything posted or changed between page render and subscribe
    // is fetched: new rows (?after=) and every edit, deletion, reaction and reply (?since=).
    await this.resume();
    await this.backfill();
    this.outbox.flush();
  }

  // --- conversations: edits, deletions, reactions, replies (issue 10) ----------------------

  /** Live partial frames apply only if they are not older than what the item shows. */
  partial(data) {
    const el = this.findItem(Number(data[this.kind.idKey]));
    if (!el || this.isStale(el, data)) return null;
    if (data.seq !== undefined) el.dataset.seq = String(data.seq);
    return el;
  }

  applyEdited(data) {
    const el = this.partial(data);
    if (!el) return;
    renderBody(el, { ...data, is_deleted: false }, this.kind.textKey);
    renderEdited(el, true, false);
    const mentioned = Array.isArray(data.mentioned_users) ? data.mentioned_users : [];
    el.classList.toggle("mentions-me", this.username !== "" && mentioned.includes(this.username));
    const versions = el.querySelector(".versions");
    if (versions) versions.remove();
  }

  applyDeleted(data) {
    const el = this.partial(data);
    if (!el) return;
    renderDeleted(el);
    this.decorateItem(el);
  }

  applyReactions(data) {
    const el = this.partial(data);
    if (el) renderReactions(el, data.reactions, this.username);
  }

  applyThreadUpdated(data) {
    const el = this.partial(data);
    if (el) renderReplies(el, data.reply_count);
  }

  /** Fetch every row changed after syncedSeq, in sequence order (single-flight). Read to
   * the end, it shows every row up to the newest one it read: syncedThrough moves there. */
  async resume() {
    if (!this.historyUrl) return false;
    if (this.resuming) {
      this.resumeAgain = true;
      return true;
    }
    this.resuming = true;
    let complete = false;
    try {
      do {
        this.resumeAgain = false;
        complete = false;
        let newest = 0;
        let page = 0;
        for (; page < MAX_BACKFILL_PAGES; page += 1) {
          const result = await getJSON(this.historyQuery({ since: this.syncedSeq, limit: CATCH_UP_LIMIT }));
          if (!result.ok || !result.data) return false;
          const key = this.kind.historyKey;
          const list = Array.isArray(result.data[key]) ? result.data[key] : [];
          for (const payload of list) {
            const id = Number(payload[this.kind.idKey]);
            if (payload.parent_id) {
              if (this.hooks.onReply) this.hooks.onReply(payload);
            } else if (this.items.has(id) || id > (this.firstId ?? 0)) {
              // Rows above the loaded page stay unloaded; changed ones in it are refreshed.
              this.upsert(payload);
            }
            if (Number.isFinite(id)) newest = Math.max(newest, id);
            const seq = Number(payload.seq);
            if (Number.isFinite(seq) && seq > this.syncedSeq) this.syncedSeq = seq;
          }
          if (!result.data.has_more || list.length === 0) break;
        }
        if (page === MAX_BACKFILL_PAGES) return false; // not read to the end
        complete = true;
        if (!this.detached) this.syncedThrough = Math.max(this.syncedThrough, newest);
      } while (this.resumeAgain);
      return true;
    } finally {
      this.resuming = false;
      this.seqComplete = complete;
      this.advanceSeq();
      if (complete) this.scheduleResume(); // after a failure, the next frame asks again
    }
  }

  actionUrl(attr, id) {
    const template = this.root.dataset[attr];
    return template ? template.replace("/0/", `/${id}/`) : null;
  }

  /** Send a frame if the socket is open, else POST the same request. */
  async act(frame, attr, id, fields) {
    if (this.gone) return;
    if (this.socket && this.socket.send(frame)) return;
    const url = this.actionUrl(attr, id);
    if (!url) return;
    const result = await postForm(url, fields);
    if (!result.ok) {
      this.showAlert((result.data && result.data.error) || "That did not work. Try again.");
      return;
    }
    if (result.data && result.data.type === "reactions") this.applyReactions(result.data);
    else if (result.data && result.data.parent_id) this.hooks.onReply && this.hooks.onReply(result.data);
    else if (result.data) this.upsert(result.data);
  }

  async startEdit(el) {
    const id = this.idOf(el);
    if (id === null || el.querySelector(".inline-editor")) return;
    const text = await editInPlace(el, el.dataset.text || "");
    if (text === null) return;
    await this.act(this.kind.editFrame(id, text), "editUrl", id, { content: text });
  }

  /** Clicks on item buttons (in the log, or in another container such as the thread panel). */
  wireActions(container) {
    container.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button || !container.contains(button)) return;
      const el = button.closest(".chat-msg");
      if (!el) return;
      const id = this.idOf(el);
      if (id === null) return;
      if (button.dataset.action === "edit") await this.startEdit(el);
      else if (button.dataset.action === "delete") {
        const message = `Delete this ${this.kind.noun}? This cannot be undone.`;
        if (!(await confirmAction(message, { confirmLabel: `Delete ${this.kind.noun}` }))) {
          button.focus();
          return;
        }
        await this.act(this.kind.deleteFrame(id), "deleteUrl", id, {});
      } else if (button.dataset.action === "react") togglePicker(el);
      else if (button.dataset.action === "reply") {
        if (this.hooks.onOpenThread) this.hooks.onOpenThread(id);
      } else if (button.classList.contains("pick") || button.classList.contains("reaction")) {
        const picker = el.querySelector(".emoji-picker");
        if (picker) picker.remove();
        const emoji = button.dataset.emoji;
        await this.act(this.kind.reactFrame(id, emoji), "reactUrl", id, { emoji });
      } else if (button.classList.contains("edited")) {
        const url = this.actionUrl("editsUrl", id);
        const result = url ? await getJSON(url) : { ok: false };
        if (result.ok && result.data) showVersions(el, result.data.versions || []);
      } else if (button.classList.contains("replies")) {
        if (this.hooks.onOpenThread) this.hooks.onOpenThread(id);
      }
    });
  }

  onStatus(status) {
    if (status === "gone") {
      this.gone = true;
      this.outbox.failAll("You no longer have access.");
      if (this.input) this.input.disabled = true;
      const button = this.form && this.form.querySelector("[type=submit]");
      if (button) button.disabled = true;
    }
    this.showStatus(status);
    if (this.hooks.onStatus) this.hooks.onStatus(status);
  }

  showStatus(status) {
    if (!this.statusEl) return;
    const render = () => {
      const { text, tone } = describeStatus(status, this.socket);
      if (this.statusEl.textContent !== text) this.statusEl.textContent = text;
      this.statusEl.dataset.status = status;
      this.statusEl.classList.remove(...STATUS_TONES);
      this.statusEl.classList.add(tone);
    };
    render();
    this.showRetryNow(status === "closed");
    // "Reconnecting: next try in 8 s" counts down while it waits.
    window.clearInterval(this.statusTicker);
    this.statusTicker = status === "closed" ? window.setInterval(render, 1000) : null;
  }

  /** A "Retry now" button beside the status while a reconnect is scheduled. */
  showRetryNow(visible) {
    if (!this.retryButton) {
      if (!visible) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-link btn-sm p-0 retry-now";
      button.textContent = "Retry now";
      button.addEventListener("click", () => this.socket && this.socket.retryNow());
      this.statusEl.after(button);
      this.retryButton = button;
    }
    this.retryButton.hidden = !visible;
  }

  // --- history ----------------------------------------------------------------------------

  historyQuery(params) {
    const url = new URL(this.historyUrl, window.location.href);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
    return url.pathname + url.search;
  }

  scheduleGapBackfill() {
    if (this.gapTimer !== null) return;
    const wait = Math.max(0, this.lastBackfillAt + GAP_BACKFILL_INTERVAL_MS - Date.now());
    this.gapTimer = window.setTimeout(() => {
      this.gapTimer = null;
      this.backfill();
    }, wait);
  }

  /** Fetch everything after syncedThrough (oldest first, page by page). Single-flight: a
   * request made while one runs makes it go round once more. Returns false on failure. */
  async backfill() {
    if (!this.historyUrl) return false;
    if (this.detached) return true; // "Load newer" catches up, then back-fills

    if (this.backfilling) {
      this.backfillAgain = true;
      return true;
    }
    this.backfilling = true;
    try {
      do {
        this.backfillAgain = false;
        this.lastBackfillAt = Date.now();
        for (let page = 0; page < MAX_BACKFILL_PAGES; page += 1) {
          const result = await getJSON(this.historyQuery({ after: this.syncedThrough, limit: CATCH_UP_LIMIT }));
          if (!result.ok || !result.data) return false;
          const list = Array.isArray(result.data[this.kind.historyKey]) ? result.data[this.kind.historyKey] : [];
          for (const payload of list) {
            this.upsert(payload);
            const id = Number(payload[this.kind.idKey]);
            if (Number.isFinite(id)) this.syncedThrough = Math.max(this.syncedThrough, id);
          }
          if (!result.data.has_more || list.length === 0) break;
        }
      } while (this.backfillAgain);
      return true;
    } finally {
      this.backfilling = false;
    }
  }

  wireOlder() {
    const button = this.olderButton;
    if (!button) return;
    button.hidden = button.dataset.hasMore === "false" || this.items.size === 0;
    button.addEventListener("click", () => this.loadOlder());
  }

  async loadOlder() {
    const button = this.olderButton;
    const first = this.firstId;
    if (first === null || button.disabled) return;
    button.disabled = true;
    const result = await getJSON(this.historyQuery({ before: first, limit: HISTORY_LIMIT }));
    button.disabled = false;
    if (!result.ok || !result.data) {
      this.showAlert(`Could not load older ${this.kind.noun}s. Try again.`);
      return;
    }
    const list = Array.isArray(result.data[this.kind.historyKey]) ? result.data[this.kind.historyKey] : [];
    // Keep what the user is reading in place while items appear above it.
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    for (const payload of list) this.upsert(payload, { stickToBottom: false });
    this.log.scrollTop = this.log.scrollHeight - fromBottom;
    const hasMore = Boolean(result.data.has_more) && list.length > 0;
    button.dataset.hasMore = String(hasMore);
    button.hidden = !hasMore;
  }

  wireNewer() {
    const button = this.newerButton;
    if (!button) return;
    button.hidden = !this.detached;
    button.addEventListener("click", () => this.loadNewer());
  }

  /** The next page after the newest contiguous item; at the present, live back-fill resumes. */
  async loadNewer() {
    const button = this.newerButton;
    if (!button || button.disabled || !this.detached) return;
    button.disabled = true;
    const result = await getJSON(this.historyQuery({ after: this.syncedThrough, limit: HISTORY_LIMIT }));
    button.disabled = false;
    if (!result.ok || !result.data) {
      this.showAlert(`Could not load newer ${this.kind.noun}s. Try again.`);
      return;
    }
    const list = Array.isArray(result.data[this.kind.historyKey]) ? result.data[this.kind.historyKey] : [];
    for (const payload of list) {
      this.upsert(payload, { stickToBottom: false });
      const id = Number(payload[this.kind.idKey]);
      if (Number.isFinite(id)) this.syncedThrough = Math.max(this.syncedThrough, id);
    }
    if (!result.data.has_more || list.length === 0) {
      this.detached = false;
      button.hidden = true;
      await this.backfill();
    }
  }

  // --- scrolling and alerts ---------------------------------------------------------------

  isNearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  scrollInitially() {
    // A notification link (#message-12 / #comment-7) or a search result (?around=<id>) shows
    // that item; a reply's result, its thread's root (the thread opens beside it); otherwise
    // the latest.
    const { around, aroundRoot } = this.root.dataset;
    const candidates = [
      window.location.hash.slice(1),
      around ? `${this.kind.domPrefix}${around}` : "",
      aroundRoot ? `${this.kind.domPrefix}${aroundRoot}` : "",
    ];
    const target = candidates
      .filter(Boolean)
      .map((id) => document.getElementById(id))
      .find((el) => el && this.log.contains(el));
    if (target) {
      target.classList.add("highlighted");
      target.scrollIntoView({ block: "center" });
    } else {
      this.scrollToBottom();
    }
  }

  showAlert(message) {
    if (!this.alerts) this.alerts = new AlertList(this.form || this.log);
    this.alerts.show(message);
  }
}
