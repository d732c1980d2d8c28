// Confirmation before a destructive action, for any form or button on any page:
//
//   <form method="post" data-confirm="Remove Bob from this board?"> ... </form>
//   <button type="submit" data-confirm="Delete this column?" data-confirm-label="Delete">
//
// The submit is held, a dialog (#confirm-dialog in base.html) asks, and only "Confirm"
// lets it through. Without JavaScript the form simply submits (the server still checks
// everything); pages for deleting boards and tasks have their own confirmation step.

let dialogOpen = false;

/** Ask; resolves true when the person confirms. Falls back to window.confirm. */
export function confirmAction(message, { confirmLabel = "Confirm", title = "Are you sure?" } = {}) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(message));
  const text = dialog.querySelector("#confirm-text");
  const heading = dialog.querySelector("#confirm-title");
  const accept = dialog.querySelector("#confirm-accept");
  text.textContent = message;
  heading.textContent = title;
  accept.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      accept.removeEventListener("click", onAccept);
      dialog.removeEventListener("close", onClose);
      dialogOpen = false;
      resolve(answer);
    };
    const onAccept = () => {
      done(true);
      dialog.close("confirm");
    };
    const onClose = () => done(false);
    accept.addEventListener("click", onAccept);
    dialog.addEventListener("close", onClose);
    dialogOpen = true;
    dialog.showModal();
    // The safe choice has the focus, so a stray Enter cancels.
    const cancel = dialog.querySelector("[data-dialog-close]");
    if (cancel) cancel.focus();
  });
}

function messageFor(form, submitter) {
  return (submitter && submitter.dataset.confirm) || form.dataset.confirm || "";
}

/** Hold every submit that carries data-confirm (on the form or on the button pressed). */
export function installConfirmations(root = document) {
  root.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || form.dataset.confirmed === "true") return;
      const submitter = event.submitter || null;
      const message = messageFor(form, submitter);
      if (!message) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      if (dialogOpen) return;
      const label = (submitter && submitter.dataset.confirmLabel) || form.dataset.confirmLabel || "Confirm";
      confirmAction(message, { confirmLabel: label }).then((yes) => {
        if (!yes) {
          if (submitter) submitter.focus();
          return;
        }
        form.dataset.confirmed = "true";
        try {
          form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
        } finally {
          delete form.dataset.confirmed;
        }
      });
    },
    true,
  );
}
