// The live task page (templates/kanban/task_detail.html): its fields, labels, checklist and
// activity follow the board socket (lib/board-live.js), so an edit made elsewhere shows at
// once; a version gap or reconnect fetches the board state with this task's details. Label
// and checklist forms post with fetch(); the resulting frame redraws them for every viewer.
// When access ends the page says so, its forms stop, and typed text stays where it is.

import { BoardLive } from "./lib/board-live.js";
import { longDate, renderLabels, retarget, setBadge } from "./lib/card.js";
import { postForm } from "./lib/http.js";
import { describeStatus } from "./lib/thread-ui.js";
import { Viewers } from "./lib/viewers.js";

const root = document.getElementById("task-live");

class LiveTask {
  constructor(el) {
    this.root = el;
    this.taskId = Number(el.dataset.taskId);
    this.gone = false;
    this.viewers = new Viewers(document.getElementById("board-viewers"));
    this.errorBox = document.getElementById("board-error");
    this.columns = new Map(
      [...document.querySelectorAll("#move-column option")].map((o) => [Number(o.value), o.textContent]),
    );
    this.labels = [...document.querySelectorAll("#task-label-choices input[name=labels]")].map((input) => ({
      id: Number(input.value),
      name: input.nextElementSibling.textContent,
      colour: [...input.nextElementSibling.firstElementChild.classList].find((c) => c.startsWith("label-")).slice(6),
    }));
  }

  start() {
    this.root.addEventListener("submit", (event) => this.onSubmit(event));
    // Unsaved label picks are the user's: live updates leave them alone until saved.
    this.labelsDirty = false;
    document.getElementById("task-labels-form")?.addEventListener("change", () => {
      this.labelsDirty = true;
    });
    this.statusEl = document.getElementById("board-connection");
    const url = new URL(this.root.dataset.stateUrl, window.location.href);
    url.searchParams.set("task", String(this.taskId));
    this.live = new BoardLive({
      wsPath: this.root.dataset.wsPath,
      stateUrl: url.pathname + url.search,
      version: Number(this.root.dataset.version),
      onFrame: (frame) => this.apply(frame),
      onState: (state) => this.reconcile(state),
      onViewer: (frame) => this.viewers.handle(frame),
      onStatus: (status) => this.onStatus(status),
    }).start();
    return this;
  }

  showError(message) {
    this.errorBox.textContent = message;
    this.errorBox.classList.toggle("d-none", !message);
  }

  // --- drawing --------------------------------------------------------------------------

  fill(card) {
    document.getElementById("task-title").textContent = card.title;
    document.title = `${card.title} · TaskFlow`;
    const crumb = document.querySelector(".task-title-crumb");
    if (crumb) crumb.textContent = card.title;
    const columnName = this.columns.get(card.column_id) || "";
    document.getElementById("task-column").textContent = columnName;
    const crumbColumn = document.querySelector(".task-column-name");
    if (crumbColumn) crumbColumn.textContent = columnName;
    const moveSelect = document.getElementById("move-column");
    if (moveSelect && document.activeElement !== moveSelect) moveSelect.value = String(card.column_id);
    const assignee = document.getElementById("task-assignee");
    assignee.replaceChildren(this.muted(card.assignee ? "" : "Unassigned"));
    if (card.assignee) assignee.textContent = card.assignee.display_name;
    setBadge(document.getElementById("task-priority"), card);
    const due = document.getElementById("task-due");
    if (card.due_date) due.textContent = longDate(card.due_date);
    else due.replaceChildren(this.muted("No due date"));
    const article = this.root.querySelector("article.task-detail");
    article.className = article.className.replace(/\bpriority-\S+/g, "").trim();
    article.classList.add(`priority-${card.priority}`);
    const description = document.getElementById("task-description");
    const paragraphs = (card.description || "").split(/\n{2,}/).filter((p) => p.trim());
    if (paragraphs.length) {
      description.replaceChildren(
        ...paragraphs.map((text) => {
          const p = document.createElement("p");
          text.split("\n").forEach((line, index) => {
            if (index) p.append(document.createElement("br"));
            p.append(line);
          });
          return p;
        }),
      );
    } else {
      const p = this.muted("No description.");
      p.className = "text-muted fst-italic";
      description.replaceChildren(p);
    }
    renderLabels(document.getElementById("task-labels"), card.labels);
    if (!this.labelsDirty) {
      const own = new Set(card.labels.map((label) => label.id));
      for (const input of document.querySelectorAll("#task-label-choices input[name=labels]")) {
        input.checked = own.has(Number(input.value));
      }
    }
    const progress = document.getElementById("checklist-progress");
    progress.textContent = card.checklist.total ? `${card.checklist.done}/${card.checklist.total}` : "";
  }

  muted(text) {
    const span = document.createElement(text === "No description." ? "p" : "span");
    span.className = "text-muted";
    span.textContent = text;
    return span;
  }

  drawLabelChoices() {
    const box = document.getElementById("task-label-choices");
    const checked = new Set(
      [...box.querySelectorAll("input[name=labels]:checked")].map((input) => Number(input.value)),
    );
    box.replaceChildren(
      ...this.labels.map((label) => {
        const wrap = document.createElement("div");
        wrap.className = "form-check form-check-inline m-0";
        const input = document.createElement("input");
        input.className = "form-check-input";
        input.type = "checkbox";
        input.name = "labels";
        input.value = String(label.id);
        input.id = `task-label-${label.id}`;
        input.checked = checked.has(label.id);
        input.disabled = this.gone;
        const text = document.createElement("label");
        text.className = "form-check-label";
        text.htmlFor = input.id;
        const chip = document.createElement("span");
        chip.className = `task-label label-${label.colour}`;
        chip.textContent = label.name;
        text.append(chip);
        wrap.append(input, text);
        return wrap;
      }),
    );
  }

  drawChecklist(items) {
    const list = document.getElementById("checklist");
    const template = document.getElementById("checklist-item-template");
    list.replaceChildren(
      ...items.map((item, index) => {
        const el = template.content.firstElementChild.cloneNode(true);
        retarget(el, item.id, { urlPart: "checklist", idPrefixes: [] });
        el.dataset.itemId = String(item.id);
        el.querySelector(".checklist-done-form input[name=done]").value = item.done ? "false" : "true";
        const toggle = el.querySelector(".checklist-toggle");
        toggle.textContent = item.done ? "☑" : "☐";
        toggle.setAttribute("aria-pressed", item.done ? "true" : "false");
        const text = el.querySelector(".checklist-text");
        text.textContent = item.text;
        text.classList.toggle("text-decoration-line-through", item.done);
        text.classList.toggle("text-muted", item.done);
        el.querySelector(".checklist-up-form input[name=position]").value = String(Math.max(index - 1, 0));
        el.querySelector(".checklist-down-form input[name=position]").value = String(index + 1);
        if (this.gone) for (const button of el.querySelectorAll("button")) button.disabled = true;
        return el;
      }),
    );
  }

  addActivities(entries) {
    const list = document.getElementById("activity");
    const template = document.getElementById("activity-template");
    list.querySelector(".activity-empty")?.remove();
    // Entries come newest first; insert oldest first at the top so the newest ends on top.
    for (const entry of [...entries].reverse()) {
      if (list.querySelector(`[data-activity-id="${Number(entry.id)}"]`)) continue;
      const el = template.content.firstElementChild.cloneNode(true);
      el.dataset.activityId = String(entry.id);
      el.querySelector(".activity-actor").textContent = entry.actor ? entry.actor.display_name : "Someone";
      el.querySelector(".activity-text").textContent = entry.text;
      const time = el.querySelector("time");
      time.setAttribute("datetime", entry.timestamp);
      time.textContent = new Date(entry.timestamp).toLocaleString();
      list.prepend(el);
    }
  }

  // --- frames ---------------------------------------------------------------------------

  apply(frame) {
    if (frame.type === "column_created" || frame.type === "column_updated" || frame.type === "column_moved") {
      this.columns.set(frame.column_id, frame.column.name);
      this.syncColumnOptions(frame.column_order);
    } else if (frame.type === "column_deleted") {
      this.columns.delete(frame.column_id);
      this.syncColumnOptions(frame.column_order);
    } else if (frame.type === "labels_updated") {
      this.labels = frame.labels;
      this.drawLabelChoices();
      this.live.resync(); // chips on this card may have changed name or colour
    }
    if (frame.task_id !== this.taskId) return;
    if (frame.type === "task_deleted") {
      document.getElementById("task-deleted").classList.remove("d-none");
      this.disableForms();
      return;
    }
    if (frame.task) this.fill(frame.task);
    if (frame.activities && frame.activities.length) this.addActivities(frame.activities);
    if (frame.type === "checklist_updated") this.drawChecklist(frame.items);
  }

  syncColumnOptions(order) {
    const select = document.getElementById("move-column");
    const current = select.value;
    select.replaceChildren(
      ...order.map((id) => {
        const option = document.createElement("option");
        option.value = String(id);
        option.textContent = this.columns.get(id) || "";
        return option;
      }),
    );
    select.value = current;
  }

  reconcile(state) {
    for (const column of state.columns) this.columns.set(column.id, column.name);
    this.syncColumnOptions(state.columns.map((c) => c.id));
    this.labels = state.labels;
    this.drawLabelChoices();
    const card = state.tasks.find((task) => task.id === this.taskId);
    if (!card) {
      document.getElementById("task-deleted").classList.remove("d-none");
      this.disableForms();
      return;
    }
    this.fill(card);
    if (state.task_detail) {
      this.drawChecklist(state.task_detail.checklist);
      this.addActivities(state.task_detail.activity);
    }
  }

  // --- forms ----------------------------------------------------------------------------

  async onSubmit(event) {
    const form = event.target;
    const live =
      form.id === "task-labels-form" || form.id === "checklist-add-form" || form.closest("#checklist") !== null;
    if (!live) return; // the move form and the comment thread keep their own behaviour
    event.preventDefault();
    if (this.gone) return;
    this.showError("");
    const result = await postForm(form.action, new FormData(form));
    if (!result.ok) {
      this.showError((result.data && result.data.error) || `Could not save (HTTP ${result.status}).`);
      return;
    }
    if (form.id === "checklist-add-form") form.reset();
    if (form.id === "task-labels-form") this.labelsDirty = false;
    if (!this.live.socket.isOpen) this.live.resync(); // no frame will come: fetch it
  }

  onStatus(status) {
    if (this.statusEl) {
      this.statusEl.textContent = status === "gone" ? "" : describeStatus(status).text;
      this.statusEl.dataset.status = status;
    }
    if (status !== "open") this.viewers.clear();
    if (status === "gone") {
      this.gone = true;
      document.getElementById("board-gone").classList.remove("d-none");
      this.disableForms();
    }
  }

  /** Stop every form of the task (not the comment thread, which has its own socket); keep
   * typed text. */
  disableForms() {
    this.gone = true;
    const article = this.root.querySelector("article.task-detail");
    for (const control of article.querySelectorAll("button, select, input[type=checkbox]")) control.disabled = true;
    for (const input of article.querySelectorAll("input:not([type=hidden]):not([type=checkbox])")) input.readOnly = true;
    // Edit and Delete: out of reach of the mouse (.disabled), the keyboard and screen readers.
    for (const link of article.querySelectorAll("a.btn")) {
      link.classList.add("disabled");
      link.setAttribute("aria-disabled", "true");
      link.tabIndex = -1;
    }
  }
}

if (root) new LiveTask(root).start();
