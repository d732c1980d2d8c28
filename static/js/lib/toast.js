// Short-lived notices ("Copied", "Column deleted. Undo") in the polite live region
// #app-toasts from base.html. Text goes in with textContent only.

const TOAST_MS = 6000;

/**
 * @param {string} message
 * @param {{actionLabel?: string, onAction?: () => void, timeoutMs?: number}} options
 */
export function showToast(message, { actionLabel, onAction, timeoutMs = TOAST_MS } = {}) {
  const region = document.getElementById("app-toasts");
  if (!region) return null;
  const toast = document.createElement("div");
  toast.className = "app-toast";
  const text = document.createElement("span");
  text.textContent = message;
  toast.append(text);
  if (actionLabel && onAction) {
    const action = document.createElement("button");
    action.type = "button";
    action.className = "btn btn-link btn-sm app-toast-action";
    action.textContent = actionLabel;
    action.addEventListener("click", () => {
      toast.remove();
      onAction();
    });
    toast.append(action);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => toast.remove());
  toast.append(close);
  region.append(toast);
  window.setTimeout(() => toast.remove(), timeoutMs);
  return toast;
}
