// Inbox: the "New message" picker suggests people from my organizations as I type (the
// last comma-separated name is the one completed). Submitting posts the form as is.

import { getJSON } from "./lib/http.js";

const DEBOUNCE_MS = 150;

function start(form) {
  const input = document.getElementById("new-message-to");
  const list = document.getElementById("new-message-people");
  if (!input || !list) return;
  let timer = null;
  let asked = "";
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const parts = input.value.split(",");
      const prefix = parts[parts.length - 1].trim().replace(/^@/, "");
      if (prefix === asked) return;
      asked = prefix;
      const url = `${form.dataset.peopleUrl}?q=${encodeURIComponent(prefix)}`;
      const result = await getJSON(url);
      if (!result.ok || !result.data) return;
      const head = parts.slice(0, -1).map((p) => p.trim()).filter(Boolean);
      const options = (result.data.people || []).map((person) => {
        const option = document.createElement("option");
        option.value = [...head, person.username].join(", ");
        option.label = person.display_name;
        return option;
      });
      list.replaceChildren(...options);
    }, DEBOUNCE_MS);
  });
}

const form = document.getElementById("new-message");
if (form) start(form);
