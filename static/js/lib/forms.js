// Required text fields: a value of only spaces passes the browser's own "required" check
// and then came back from the server as an error elsewhere on the page. Here it is refused
// on the field itself, in words that name it ("Column name can't be blank."): the name is
// data-field-name, else the placeholder, else the label.

function labelFor(input) {
  const label = input.id ? document.querySelector(`label[for="${CSS.escape(input.id)}"]`) : null;
  const text =
    input.dataset.fieldName ||
    input.placeholder ||
    (label && label.textContent) ||
    input.getAttribute("aria-label") ||
    "This field";
  return text.replace(/\s+/g, " ").trim();
}

function check(input) {
  const blank = input.value !== "" && input.value.trim() === "";
  input.setCustomValidity(blank ? `${labelFor(input)} can't be blank.` : "");
}

const SELECTOR = "input[required]:not([type]), input[required][type=text], textarea[required]";

export function installBlankChecks(root = document) {
  root.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches(SELECTOR)) check(event.target);
  });
  // A field can be blank-but-spaces before any input event (autofill, restored form), and
  // the browser's own check has already passed by the time "submit" fires: hold it here.
  // Forms marked novalidate leave this to the server, which names the field in its reply.
  root.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || form.noValidate) return;
      let first = null;
      for (const input of form.querySelectorAll(SELECTOR)) {
        check(input);
        if (!first && !input.checkValidity()) first = input;
      }
      if (first) {
        event.preventDefault();
        event.stopImmediatePropagation();
        first.reportValidity();
      }
    },
    true,
  );
}
