// Presence (issue 11): tells the server whether this page is visible and its user active, and
// draws the online / away / offline dots beside names.
//
// Heartbeats ride on the sockets the page already has open (lib/socket.js attaches every
// LiveSocket here when it opens): {"type": "heartbeat", "visible": bool, "idle": bool} on
// open, every HEARTBEAT_MS, and whenever the page is hidden or shown or its user goes idle
// (no input for IDLE_MS) or comes back. A socket that sent one hears
// {"type": "presence", "user_id", "username", "status"} frames for the people of its rooms
// and boards (a room or board socket answers its first heartbeat with one for each of its
// people online or away); lib/socket.js hands them to `receive`.
//
// Dots are <span class="presence-dot" data-presence-user="<username>"> elements rendered by
// the server (offline until known). Each element with data-presence-url (the endpoint for a
// room or board) asks for the current statuses when the page loads and after a socket comes
// back (frames may have been missed meanwhile); a frame heard while an answer is on its way
// wins over that answer.

const HEARTBEAT_MS = 25000;
const IDLE_MS = 5 * 60 * 1000;
const LABELS = { online: "Online", away: "Away", offline: "Offline" };

const sockets = new Set();
/** @type {Map<string, string>} username -> status */
const statuses = new Map();
// Frames heard so far, and for each user the count when their latest frame came: an answer
// to a refresh asked before that frame is older than it and leaves that user alone.
let framesHeard = 0;
/** @type {Map<string, number>} username -> framesHeard at their latest frame */
const frameAt = new Map();
let idle = false;
let lastInputAt = Date.now();
let started = false;
// The user of this page: while this page is visible and its user active they are online,
// whatever an earlier answer said (it may predate this page's first heartbeat).
const me = document.body ? document.body.dataset.username : undefined;

function report() {
  return { type: "heartbeat", visible: document.visibilityState !== "hidden", idle };
}

function beatAll() {
  const frame = report();
  for (const socket of sockets) socket.send(frame);
  paintMe();
}

function paintMe() {
  const frame = report();
  if (me && frame.visible && !frame.idle) setStatus(me, "online");
}

function onInput() {
  lastInputAt = Date.now();
  if (idle) {
    idle = false;
    beatAll();
  }
}

function checkIdle() {
  if (!idle && Date.now() - lastInputAt >= IDLE_MS) {
    idle = true;
    beatAll();
  }
}

function start() {
  if (started) return;
  started = true;
  window.setInterval(() => {
    checkIdle();
    beatAll();
  }, HEARTBEAT_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") onInput();
    beatAll();
  });
  for (const type of ["pointerdown", "keydown", "scroll", "pointermove"]) {
    window.addEventListener(type, onInput, { passive: true, capture: true });
  }
}

/** A socket opened: report over it now and on every change. `reconnected`: frames may have
 * been missed while it was away, so ask for the statuses again. */
export function attach(socket, { reconnected = false } = {}) {
  start();
  sockets.add(socket);
  socket.send(report());
  paintMe();
  if (reconnected) refresh();
  // Frames reach a socket only after its heartbeat is taken in, and each socket of the page
  // (the notifications one, the room's or board's) opens, or comes back, in its own time: a
  // change in between reaches no socket that hears it. Ask once more when the server has
  // surely taken this socket's heartbeat in.
  window.setTimeout(refresh, 1500);
}

export function detach(socket) {
  sockets.delete(socket);
}

/** A presence frame from any socket. */
export function receive(frame) {
  if (frame && frame.type === "presence" && typeof frame.username === "string") {
    framesHeard += 1;
    frameAt.set(frame.username, framesHeard);
    setStatus(frame.username, frame.status);
  }
}

export function statusOf(username) {
  return statuses.get(username) || "offline";
}

function paint(el, status) {
  const label = LABELS[status] || LABELS.offline;
  el.dataset.status = LABELS[status] ? status : "offline";
  el.title = label;
  el.setAttribute("aria-label", label);
}

export function setStatus(username, status) {
  if (!LABELS[status]) return;
  statuses.set(username, status);
  for (const el of document.querySelectorAll(".presence-dot[data-presence-user]")) {
    if (el.dataset.presenceUser === username) paint(el, status);
  }
}

/** A dot element for a name drawn by a script (kept up to date like the server's). */
export function dotFor(username) {
  const el = document.createElement("span");
  el.className = "presence-dot";
  el.setAttribute("role", "img");
  el.dataset.presenceUser = username;
  paint(el, statusOf(username));
  return el;
}

let refreshing = null;
// Asked for while an answer was on its way: that answer may predate the reason for asking (a
// socket's heartbeat taken in since), so ask once more when it is in.
let askAgain = false;

/** Ask each data-presence-url endpoint on the page for the current statuses. */
export function refresh() {
  if (refreshing) {
    askAgain = true;
    return refreshing;
  }
  const urls = new Set(
    [...document.querySelectorAll("[data-presence-url]")].map((el) => el.dataset.presenceUrl)
  );
  refreshing = Promise.all(
    [...urls].map(async (url) => {
      const asked = framesHeard;
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) return;
        const data = await response.json();
        for (const user of data.users || []) {
          // A frame heard since asking is newer than this answer (it may have been computed
          // before that change): keep what the frame said.
          if ((frameAt.get(user.username) || 0) > asked) continue;
          setStatus(user.username, user.status);
        }
      } catch {
        // The next reconnect or frame brings it up to date.
      }
    })
  ).finally(() => {
    refreshing = null;
    if (sockets.size) paintMe();
    if (askAgain) {
      askAgain = false;
      refresh();
    }
  });
  return refreshing;
}

if (document.querySelector("[data-presence-url]")) refresh();

// Every page with dots asks again now and then while it is visible (a frame lost in a
// reconnect race heals within a minute); a page whose dots hear no presence frames at all
// (the inbox: its only socket is the notifications one) asks every data-presence-poll
// seconds.
const polled = document.querySelector("[data-presence-poll]") || document.querySelector("[data-presence-url]");
if (polled) {
  const seconds = Math.max(5, Number(polled.dataset.presencePoll) || 60);
  window.setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, seconds * 1000);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
  });
}
