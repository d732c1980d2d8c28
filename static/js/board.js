// The live board page (templates/kanban/board_detail.html).
//
// The page renders the board and embeds the state it rendered (#board-state, with its
// version). This module keeps it live: board frames from ws/board/<id>/ (lib/board-live.js)
// move, add, change and remove cards and columns in the server's order; a version gap or a
// reconnect fetches the state and reconciles the page with it. Drag and drop (SortableJS,
// loaded by a plain <script>) and each card's "Move to" menu save through the same move
// endpoint; frames that arrive mid-drag wait until the drop. When access ends (close code
// 4403) the page says so, drag and the forms stop, and typed text stays where it is.

import { BoardLive } from "./lib/board-live.js";
import { fillCard, retarget } from "./lib/card.js";
import { isActive, matches, readFilter } from "./lib/filters.js";
import { postForm } from "./lib/http.js";
import { describeStatus } from "./lib/thread-ui.js";
import { Viewers } from "./lib/viewers.js";

const board = document.getElementById("board");
const errorBox = document.getElementById("board-error");

function showError(message) {
  errorBox.textContent = message;
  errorBox.classList.remove("d-none");
}

function clearError() {
  errorBox.textContent = "";
  errorBox.classList.add("d-none");
}

/** The focused element and its selection; `restore()` focuses it again if a DOM move blurred it. */
function keepFocus() {
  const el = document.activeElement;
  let range = null;
  try {
    range = el && typeof el.selectionStart === "number" ? [el.selectionStart, el.selectionEnd] : null;
  } catch {
    range = null; // inputs without a text selection (checkboxes, ...)
  }
  return {
    restore() {
      if (!el || el === document.body || el === document.activeElement || !el.isConnected) return;
      el.focus({ preventScroll: true });
      if (range) el.setSelectionRange(range[0], range[1]);
    },
  };
}

class LiveBoard {
  constructor(root) {
    this.root = root;
    this.userId = Number(root.dataset.userId);
    this.today = root.dataset.today;
    this.filter = readFilter();
    const state = JSON.parse(document.getElementById("board-state").textContent);
    this.columns = state.columns; // [{id, name, position, task_ids}]
    this.tasks = new Map(state.tasks.map((task) => [task.id, task]));
    this.labels = state.labels;
    this.members = state.members;
    this.version = state.version;
    this.sortables = new Map(); // column id -> Sortable
    this.gone = false;
    this.saving = false;
    this.cardTemplate = document.getElementById("task-card-template");
    this.columnTemplate = document.getElementById("column-template");
    this.viewers = new Viewers(document.getElementById("board-viewers"));
    this.statusEl = document.getElementById("board-connection");
  }

  start() {
    this.setupDrag();
    // A card menu is filled as its summary is clicked, before the menu shows: the `toggle`
    // event comes a task later, and filling the menu then would undo a choice already made
    // (a quick keyboard user, assistive technology or a test picks a column at once).
    this.root.addEventListener("click", (event) => this.onMenuClick(event), true);
    this.root.addEventListener("toggle", (event) => this.onMenuToggle(event), true);
    this.root.addEventListener("submit", (event) => this.onSubmit(event));
    this.root.addEventListener("change", (event) => {
      if (event.target.classList.contains("card-move-column")) this.fillPositions(event.target.closest(".card-menu"));
    });
    this.live = new BoardLive({
      wsPath: this.root.dataset.wsPath,
      stateUrl: this.root.dataset.stateUrl,
      version: this.version,
      onFrame: (frame) => this.apply(frame),
      onState: (state) => this.reconcile(state),
      onViewer: (frame) => this.viewers.handle(frame),
      onStatus: (status) => this.onStatus(status),
    }).start();
    return this;
  }

  // --- elements -------------------------------------------------------------------------

  columnEl(id) {
    return this.root.querySelector(`.board-column[data-column-id="${Number(id)}"]`);
  }

  listEl(id) {
    return this.root.querySelector(`.task-list[data-column-id="${Number(id)}"]`);
  }

  cardEl(id) {
    return this.root.querySelector(`.task-card[data-task-id="${Number(id)}"]`);
  }

  newCard(id) {
    const el = this.cardTemplate.content.firstElementChild.cloneNode(true);
    retarget(el, id, { urlPart: "tasks", idPrefixes: ["move-column-", "move-position-", "card-", "task-"] });
    return el;
  }

  /** Create or refresh a card from its JSON; returns its element (not yet placed). */
  renderCard(card) {
    this.tasks.set(card.id, card);
    const el = this.cardEl(card.id) || this.newCard(card.id);
    fillCard(el, card);
    el.hidden = isActive(this.filter) && !matches(card, this.filter, this.userId, this.today);
    return el;
  }

  /** Put the column's cards in `taskIds` order (creating any that are missing). */
  orderColumn(columnId, taskIds) {
    const list = this.listEl(columnId);
    if (!list) return;
    const column = this.columns.find((c) => c.id === columnId);
    if (column) column.task_ids = taskIds.slice();
    let previous = null;
    for (const taskId of taskIds) {
      const card = this.tasks.get(taskId);
      let el = this.cardEl(taskId);
      if (!el && card) el = this.renderCard(card);
      if (!el) continue;
      const wanted = previous ? previous.nextElementSibling : list.firstElementChild;
      if (el !== wanted || el.parentElement !== list) {
        if (previous) previous.after(el);
        else list.prepend(el);
      }
      previous = el;
    }
    // Cards still in this list that the server does not list here belong elsewhere.
    for (const el of [...list.querySelectorAll(".task-card")]) {
      if (!taskIds.includes(Number(el.dataset.taskId))) el.remove();
    }
    this.refreshCounts();
  }

  refreshCounts() {
    for (const column of this.root.querySelectorAll(".board-column[data-column-id]")) {
      const count = column.querySelector(".column-count");
      const list = column.querySelector(".task-list");
      if (count && list) count.textContent = String(list.querySelectorAll(".task-card").length);
    }
    const summary = document.getElementById("filter-summary");
    if (summary && isActive(this.filter)) {
      const cards = [...this.root.querySelectorAll(".task-card")];
      summary.textContent = `Showing ${cards.filter((el) => !el.hidden).length} of ${cards.length} cards`;
    }
  }

  addColumnEl(column) {
    const el = this.columnTemplate.content.firstElementChild.cloneNode(true);
    retarget(el, column.id, { urlPart: "columns", idPrefixes: ["column-", "rename-", "new-task-"] });
    el.dataset.columnId = String(column.id);
    el.querySelector(".task-list").dataset.columnId = String(column.id);
    this.root.querySelector(".add-column").before(el);
    this.makeSortable(el.querySelector(".task-list"));
    return el;
  }

  fillColumn(el, column) {
    el.querySelector(".column-name").textContent = column.name;
    const input = el.querySelector(".column-rename-input");
    if (input && document.activeElement !== input) input.value = column.name;
    el.querySelector(".column-menu > summary").setAttribute("aria-label", `Actions for column ${column.name}`);
    const label = el.querySelector(".quick-add label");
    if (label) label.textContent = `New task title in ${column.name}`;
  }

  /** Put the columns in `order` (ids), dropping those not listed. */
  orderColumns(order) {
    // Moving an element out and back in takes the focus from whatever is typed into inside it
    // (a quick-add title, a column name), and keys pressed next go nowhere: move only the
    // columns that are out of place, and give the focus back if a move took it anyway.
    const focused = keepFocus();
    const addColumn = this.root.querySelector(".add-column");
    let previous = null;
    for (const id of order) {
      const el = this.columnEl(id);
      if (!el) continue;
      const wanted = previous ? previous.nextElementSibling : this.root.querySelector(".board-column[data-column-id]");
      if (el !== wanted) (wanted || addColumn).before(el);
      previous = el;
    }
    focused.restore();
    for (const el of [...this.root.querySelectorAll(".board-column[data-column-id]")]) {
      const id = Number(el.dataset.columnId);
      if (!order.includes(id)) {
        const sortable = this.sortables.get(id);
        if (sortable) sortable.destroy();
        this.sortables.delete(id);
        el.remove();
      }
    }
    const byId = new Map(this.columns.map((c) => [c.id, c]));
    this.columns = order.map((id, position) => ({ ...(byId.get(id) || { id, name: "", task_ids: [] }), position }));
    order.forEach((id, index) => {
      const el = this.columnEl(id);
      if (!el) return;
      el.querySelector(".column-left").disabled = this.gone || index === 0;
      el.querySelector(".column-right").disabled = this.gone || index === order.length - 1;
    });
  }

  // --- frames ---------------------------------------------------------------------------

  apply(frame) {
    switch (frame.type) {
      case "task_created":
      case "task_updated":
      case "task_moved":
      case "checklist_updated":
      case "comment_count": {
        this.renderCard(frame.task);
        const columns = frame.columns || [];
        for (const column of columns) this.orderColumn(column.id, column.task_ids);
        if (frame.type === "task_moved") this.flash(frame.task_id);
        if (!columns.length && !this.cardEl(frame.task_id)?.parentElement) {
          this.live.resync(); // a card we have never placed: ask for the whole picture
        }
        break;
      }
      case "task_deleted": {
        this.tasks.delete(frame.task_id);
        this.cardEl(frame.task_id)?.remove();
        for (const column of frame.columns || []) this.orderColumn(column.id, column.task_ids);
        break;
      }
      case "column_created":
      case "column_updated":
      case "column_moved": {
        const existing = this.columns.find((c) => c.id === frame.column_id);
        if (existing) existing.name = frame.column.name;
        else this.columns.push({ ...frame.column, task_ids: [] });
        const el = this.columnEl(frame.column_id) || this.addColumnEl(frame.column);
        this.fillColumn(el, frame.column);
        this.orderColumns(frame.column_order);
        break;
      }
      case "column_deleted":
        this.orderColumns(frame.column_order);
        break;
      case "member_added":
        if (!this.members.some((m) => m.id === frame.user_id)) this.members.push(frame.member);
        break;
      case "member_removed":
        this.members = this.members.filter((m) => m.id !== frame.user_id);
        break;
      case "labels_updated": {
        this.labels = frame.labels;
        const byId = new Map(frame.labels.map((label) => [label.id, label]));
        for (const card of this.tasks.values()) {
          card.labels = card.labels.filter((label) => byId.has(label.id)).map((label) => byId.get(label.id));
          this.renderCard(card);
        }
        break;
      }
      default:
        break;
    }
    this.refreshCounts();
  }

  /** Converge on a fetched state: columns, their order, every card and its place. */
  reconcile(state) {
    this.labels = state.labels;
    this.members = state.members;
    for (const card of state.tasks) this.tasks.set(card.id, card);
    const known = new Set(state.tasks.map((card) => card.id));
    for (const id of [...this.tasks.keys()]) if (!known.has(id)) this.tasks.delete(id);
    for (const column of state.columns) {
      const el = this.columnEl(column.id) || this.addColumnEl(column);
      this.fillColumn(el, column);
    }
    this.columns = state.columns.map((c) => ({ ...c }));
    this.orderColumns(state.columns.map((c) => c.id));
    for (const card of state.tasks) this.renderCard(card);
    for (const column of state.columns) this.orderColumn(column.id, column.task_ids);
    for (const el of [...this.root.querySelectorAll(".task-card")]) {
      if (!known.has(Number(el.dataset.taskId))) el.remove();
    }
    this.refreshCounts();
  }

  flash(taskId) {
    const el = this.cardEl(taskId);
    if (!el) return;
    el.classList.remove("just-moved");
    void el.offsetWidth; // restart the animation
    el.classList.add("just-moved");
  }

  // --- moving ---------------------------------------------------------------------------

  moveUrl(taskId) {
    return this.root.dataset.taskMoveUrl.replace(/\/0\/move\/$/, `/${encodeURIComponent(taskId)}/move/`);
  }

  async saveMove(taskId, columnId, position, onRefused) {
    clearError();
    this.saving = true;
    this.setDragEnabled(false);
    const fields = { column: String(columnId) };
    if (position !== "") fields.position = String(position);
    const result = await postForm(this.moveUrl(taskId), fields);
    this.saving = false;
    this.setDragEnabled(!this.gone);
    if (result.ok && result.data && result.data.ok) return true;
    if (onRefused) onRefused();
    const title = this.tasks.get(Number(taskId))?.title || "the task";
    const reason =
      (result.data && result.data.error) || (result.status === 0 ? "the server could not be reached" : `HTTP ${result.status}`);
    showError(`Could not move “${title}”: ${reason}`);
    return false;
  }

  setupDrag() {
    if (typeof window.Sortable !== "function") {
      showError("Drag and drop is unavailable (SortableJS did not load). Use a card’s ⋯ menu to move it.");
      return;
    }
    for (const list of this.root.querySelectorAll(".task-list[data-column-id]")) this.makeSortable(list);
  }

  makeSortable(list) {
    if (typeof window.Sortable !== "function") return;
    const sortable = window.Sortable.create(list, {
      group: "tasks",
      draggable: ".task-card",
      filter: ".card-menu",
      preventOnFilter: false,
      animation: 150,
      ghostClass: "sortable-ghost",
      chosenClass: "sortable-chosen",
      // Touch: a swipe scrolls the board (sideways by column, or down a list); a press held
      // for 250 ms picks the card up. Near an edge the board scrolls along with the drag.
      delay: 250,
      delayOnTouchOnly: true,
      touchStartThreshold: 6,
      scroll: true,
      scrollSensitivity: 60,
      bubbleScroll: true,
      disabled: this.gone,
      onStart: () => this.live && this.live.pause(),
      onEnd: (event) => this.onDrop(event),
    });
    this.sortables.set(Number(list.dataset.columnId), sortable);
  }

  setDragEnabled(enabled) {
    for (const sortable of this.sortables.values()) sortable.option("disabled", !enabled);
    this.root.classList.toggle("is-saving", this.saving);
  }

  async onDrop(event) {
    const { item, from, to, oldIndex, newIndex } = event;
    if (from === to && oldIndex === newIndex) {
      this.live.resume();
      return;
    }
    this.refreshCounts();
    // Positions count every card in the column, hidden (filtered) ones included.
    await this.saveMove(item.dataset.taskId, to.dataset.columnId, newIndex, () => {
      item.remove();
      from.insertBefore(item, from.children[oldIndex] || null);
      this.refreshCounts();
    });
    this.live.resume(); // our own task_moved frame (and any others) now put the server's order
  }

  // --- card menu ------------------------------------------------------------------------

  onMenuClick(event) {
    const summary = event.target instanceof Element ? event.target.closest(".card-menu > summary") : null;
    if (summary && !summary.parentElement.open) this.fillMenu(summary.parentElement);
  }

  /** A menu opened some other way (script, restored state) is filled here; one the click
   * already filled is left as the person has set it since. Closing forgets the fill. */
  onMenuToggle(event) {
    const menu = event.target;
    if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("card-menu")) return;
    if (!menu.open) delete menu.dataset.filled;
    else if (!menu.dataset.filled) this.fillMenu(menu);
  }

  /** The menu's choices from the live board state: columns (the card's own selected), its
   * positions, and the board's labels (the card's own checked). */
  fillMenu(menu) {
    const card = this.tasks.get(Number(menu.closest(".task-card").dataset.taskId));
    if (!card) return;
    menu.dataset.filled = "1";
    const select = menu.querySelector(".card-move-column");
    select.replaceChildren(
      ...this.columns.map((column) => {
        const option = document.createElement("option");
        option.value = String(column.id);
        option.textContent = column.name;
        option.selected = column.id === card.column_id;
        return option;
      }),
    );
    this.fillPositions(menu);
    const choices = menu.querySelector(".card-label-choices");
    const own = new Set(card.labels.map((label) => label.id));
    choices.replaceChildren(
      ...this.labels.map((label) => {
        const wrap = document.createElement("div");
        wrap.className = "form-check";
        const input = document.createElement("input");
        input.className = "form-check-input";
        input.type = "checkbox";
        input.name = "labels";
        input.value = String(label.id);
        input.id = `card-${card.id}-label-${label.id}`;
        input.checked = own.has(label.id);
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
    if (!this.labels.length) {
      const none = document.createElement("p");
      none.className = "small text-muted mb-1 no-labels";
      none.textContent = "No labels yet.";
      choices.append(none);
    }
  }

  /** Positions 1..n+1 of the chosen column (the card's own column has n places). */
  fillPositions(menu) {
    const card = this.tasks.get(Number(menu.closest(".task-card").dataset.taskId));
    const columnId = Number(menu.querySelector(".card-move-column").value);
    const column = this.columns.find((c) => c.id === columnId);
    const others = column ? column.task_ids.filter((id) => id !== card.id).length : 0;
    const current = column && card.column_id === columnId ? column.task_ids.indexOf(card.id) : -1;
    const select = menu.querySelector(".card-move-position");
    const options = [];
    for (let index = 0; index <= others; index += 1) {
      const option = document.createElement("option");
      option.value = String(index);
      option.textContent = index === 0 ? "1 (top)" : index === others ? `${index + 1} (bottom)` : String(index + 1);
      option.selected = current >= 0 ? index === current : index === others;
      options.push(option);
    }
    select.replaceChildren(...options);
  }

  async onSubmit(event) {
    const form = event.target;
    if (this.gone) {
      event.preventDefault();
      return;
    }
    if (form.classList.contains("card-move-form")) {
      event.preventDefault();
      const taskId = form.closest(".task-card").dataset.taskId;
      const data = new FormData(form);
      if (await this.saveMove(taskId, data.get("column"), data.get("position") ?? "")) {
        form.closest("details").open = false;
      }
    } else if (form.classList.contains("card-labels-form")) {
      event.preventDefault();
      clearError();
      const result = await postForm(form.action, new FormData(form));
      if (result.ok) form.closest("details").open = false;
      else showError((result.data && result.data.error) || `Could not save the labels (HTTP ${result.status}).`);
    }
  }

  // --- connection -----------------------------------------------------------------------

  onStatus(status) {
    if (this.statusEl) {
      // The same wording as the chat and comment threads (Live / Reconnecting / Offline).
      this.statusEl.textContent = status === "gone" ? "" : describeStatus(status).text;
      this.statusEl.dataset.status = status;
    }
    if (status !== "open") this.viewers.clear();
    if (status === "gone") this.endAccess();
  }

  /** Access ended: say so; stop drag and every form; keep whatever the user typed. */
  endAccess() {
    this.gone = true;
    this.live.resume();
    document.getElementById("board-gone")?.classList.remove("d-none");
    this.root.classList.add("is-gone");
    this.setDragEnabled(false);
    for (const control of this.root.querySelectorAll("button, select, input[type=checkbox]")) control.disabled = true;
    for (const input of this.root.querySelectorAll("input[type=text], input:not([type]), textarea")) input.readOnly = true;
  }
}

if (board && errorBox) new LiveBoard(board).start();
