// Drag-and-drop of task cards on the board page (templates/kanban/board_detail.html).
//
// Needs window.Sortable (static/vendor/sortablejs, loaded by a plain <script> before this
// module). Every drop is saved with POST tasks/<id>/move/ {column, position}; if the server
// refuses it, the card goes back where it was and the reason is shown above the board.
// While a move is being saved, dragging is paused, so moves reach the server in order.

import { postForm } from "./lib/http.js";

const board = document.getElementById("board");
const errorBox = document.getElementById("board-error");

/** The move URL for a task, from the pattern rendered for task id 0 (".../tasks/0/move/"). */
function moveUrl(taskId) {
  return board.dataset.taskMoveUrl.replace(/\/0\/move\/$/, `/${encodeURIComponent(taskId)}/move/`);
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.classList.remove("d-none");
}

function clearError() {
  errorBox.textContent = "";
  errorBox.classList.add("d-none");
}

function refreshCounts() {
  for (const column of board.querySelectorAll(".board-column[data-column-id]")) {
    const count = column.querySelector(".column-count");
    const list = column.querySelector(".task-list");
    if (count && list) count.textContent = String(list.querySelectorAll(".task-card").length);
  }
}

/** Put a card back at `index` among the children of `list`. */
function putBack(item, list, index) {
  item.remove();
  list.insertBefore(item, list.children[index] || null);
}

function setup() {
  if (!board || !errorBox || !board.dataset.taskMoveUrl) return;
  if (typeof window.Sortable !== "function") {
    showError("Drag and drop is unavailable (SortableJS did not load). Use a task's “Move to” form instead.");
    return;
  }

  const sortables = [];
  const setPaused = (paused) => {
    for (const sortable of sortables) sortable.option("disabled", paused);
    board.classList.toggle("is-saving", paused);
  };

  async function onEnd(event) {
    const { item, from, to, oldIndex, newIndex } = event;
    if (from === to && oldIndex === newIndex) return;
    clearError();
    refreshCounts();
    setPaused(true);
    const result = await postForm(moveUrl(item.dataset.taskId), {
      column: to.dataset.columnId,
      position: String(newIndex),
    });
    setPaused(false);
    if (result.ok && result.data && result.data.ok) return;

    putBack(item, from, oldIndex);
    refreshCounts();
    const reason =
      (result.data && result.data.error) ||
      (result.status === 0 ? "the server could not be reached" : `HTTP ${result.status}`);
    showError(`Could not move “${item.querySelector(".task-title")?.textContent.trim() || "the task"}”: ${reason}`);
  }

  for (const list of board.querySelectorAll(".task-list[data-column-id]")) {
    sortables.push(
      window.Sortable.create(list, {
        group: "tasks",
        draggable: ".task-card",
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
        onEnd,
      }),
    );
  }
}

setup();
