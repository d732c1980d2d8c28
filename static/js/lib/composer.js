// The message box's length limit, said out loud instead of enforced silently.
//
// A maxlength attribute cuts a paste short without a word, so message boxes carry
// data-max-length instead: a counter appears near the limit, turns into a sentence when the
// text is too long, and lib/thread.js refuses to send (keeping the text) until it fits.
// Lengths are counted in characters (code points), as the server counts them.

const SHOW_FROM_RATIO = 0.9;

export function charCount(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** A sentence when `text` is over `max` characters, else "". */
export function overLimitMessage(text, max) {
  const excess = charCount(text) - max;
  if (!max || excess <= 0) return "";
  return `This message is ${excess.toLocaleString()} character${excess === 1 ? "" : "s"} too long: the limit is ${max.toLocaleString()}. Shorten it to send.`;
}

/** Add a live counter below a textarea[data-max-length]. */
export function attachCounter(textarea) {
  const max = Number(textarea.dataset.maxLength);
  if (!max || textarea.dataset.counterAttached === "true") return;
  textarea.dataset.counterAttached = "true";
  const counter = document.createElement("div");
  counter.className = "composer-counter";
  counter.id = `${textarea.id || "composer"}-counter`;
  counter.setAttribute("aria-live", "polite");
  counter.hidden = true;
  const anchor = textarea.form || textarea.parentElement;
  anchor.append(counter);
  const describedBy = (textarea.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  textarea.setAttribute("aria-describedby", [...describedBy, counter.id].join(" "));

  const update = () => {
    const count = charCount(textarea.value);
    const over = count > max;
    counter.hidden = count < max * SHOW_FROM_RATIO;
    counter.classList.toggle("over", over);
    counter.textContent = over
      ? overLimitMessage(textarea.value, max)
      : `${count.toLocaleString()} of ${max.toLocaleString()} characters`;
    if (over) textarea.setAttribute("aria-invalid", "true");
    else textarea.removeAttribute("aria-invalid");
  };
  textarea.addEventListener("input", update); // lib/thread.js fires one when it empties the box
  update();
}
