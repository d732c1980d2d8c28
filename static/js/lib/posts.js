// Rendering of one message or comment's conversation state (issue 10): the Markdown body, the
// "(edited)" marker, the tombstone, the reactions and the reply count, plus the small action
// bar (reply, react, edit, delete). The server-rendered markup (_message.html) has the same
// structure, so live updates and page loads look alike.
//
// The body is the one place user content is inserted as HTML: only the `html` the server
// rendered and cleaned with its allow-list (messaging/formatting.py). Everything else goes in
// with textContent.

export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

/** Body: the server-cleaned html; a pending item (no html yet) shows its text as text. */
export function renderBody(el, payload, textKey) {
  const body = el.querySelector(".body");
  if (!body) return;
  const text = payload[textKey];
  if (payload.is_deleted) {
    body.classList.add("md");
    const stone = document.createElement("em");
    stone.className = "tombstone text-muted";
    stone.textContent = "message deleted";
    body.replaceChildren(stone);
    el.dataset.text = "";
  } else if (typeof payload.html === "string" && payload.html !== "") {
    body.classList.add("md");
    body.innerHTML = payload.html; // server-rendered and nh3-cleaned: the only HTML we insert
    el.dataset.text = text ?? "";
  } else if (text !== undefined) {
    body.classList.remove("md");
    body.textContent = text;
    el.dataset.text = text;
  }
}

export function renderEdited(el, isEdited, isDeleted) {
  const marker = el.querySelector(".edited");
  if (marker) marker.hidden = !isEdited || Boolean(isDeleted);
}

export function renderDeleted(el) {
  el.classList.add("deleted");
  renderBody(el, { is_deleted: true });
  renderEdited(el, false, true);
  renderReactions(el, [], "");
  const history = el.querySelector(".versions");
  if (history) history.remove();
}

/** Reactions: one toggle button per emoji; the title says who reacted. */
export function renderReactions(el, reactions, myUsername) {
  const box = el.querySelector(".reactions");
  if (!box) return;
  const buttons = (Array.isArray(reactions) ? reactions : []).map((r) => {
    const button = document.createElement("button");
    button.type = "button";
    const names = Array.isArray(r.usernames) ? r.usernames : [];
    button.className = names.includes(myUsername) ? "reaction mine" : "reaction";
    button.dataset.emoji = r.emoji;
    button.title = names.join(", ");
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = String(r.count);
    button.append(`${r.emoji} `, count);
    return button;
  });
  box.replaceChildren(...buttons);
}

export function renderReplies(el, count) {
  const button = el.querySelector(".replies");
  if (!button) return;
  const n = Number(count) || 0;
  button.hidden = n === 0;
  button.textContent = n === 1 ? "1 reply" : `${n} replies`;
}

/** The action bar of an item: buttons carry data-action, handled by the thread. */
export function decorate(el, { mine, canModerate, canReply }) {
  if (el.classList.contains("pending") || el.classList.contains("deleted")) {
    const old = el.querySelector(".actions");
    if (old && el.classList.contains("deleted")) old.remove();
    return;
  }
  if (el.querySelector(".actions")) return;
  const bar = document.createElement("span");
  bar.className = "actions";
  const add = (action, label, title) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-link btn-sm p-0 ms-2 align-baseline";
    button.dataset.action = action;
    button.textContent = label;
    button.title = title;
    bar.append(button);
  };
  if (canReply) add("reply", "Reply", "Reply in thread");
  add("react", "React", "Add a reaction");
  if (mine) add("edit", "Edit", "Edit your message");
  if (mine || canModerate) add("delete", "Delete", "Delete this message");
  const meta = el.querySelector(".meta");
  (meta || el).append(bar);
}

/** The quick emoji picker under an item (toggles closed when open). */
export function togglePicker(el) {
  const existing = el.querySelector(".emoji-picker");
  if (existing) {
    existing.remove();
    return;
  }
  const picker = document.createElement("div");
  picker.className = "emoji-picker";
  picker.setAttribute("role", "group");
  picker.setAttribute("aria-label", "Pick a reaction");
  for (const emoji of QUICK_EMOJI) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "pick";
    button.dataset.emoji = emoji;
    button.textContent = emoji;
    picker.append(button);
  }
  el.append(picker);
}

/** Earlier versions of an edited item, oldest first (text only). */
export function showVersions(el, versions) {
  let box = el.querySelector(".versions");
  if (box) {
    box.remove();
    return;
  }
  box = document.createElement("ol");
  box.className = "versions small text-muted";
  for (const version of versions) {
    const li = document.createElement("li");
    const when = new Date(version.created_at);
    li.textContent = `${Number.isNaN(when.getTime()) ? "" : when.toLocaleString()}: ${version.content}`;
    box.append(li);
  }
  el.append(box);
}

/** Inline editor: resolves with the new text, or null when cancelled. */
export function editInPlace(el, currentText) {
  return new Promise((resolve) => {
    const body = el.querySelector(".body");
    const editor = document.createElement("div");
    editor.className = "inline-editor";
    const area = document.createElement("textarea");
    area.className = "form-control form-control-sm edit-input";
    area.rows = 2;
    area.value = currentText;
    area.setAttribute("aria-label", "Edit message");
    const hint = document.createElement("div");
    hint.className = "small text-muted";
    hint.textContent = "Enter to save · Esc to cancel";
    editor.append(area, hint);
    body.hidden = true;
    body.after(editor);
    area.focus();
    const done = (value) => {
      editor.remove();
      body.hidden = false;
      resolve(value);
    };
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        done(null);
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const value = area.value.trim();
        done(value && value !== currentText ? value : null);
      }
    });
  });
}
