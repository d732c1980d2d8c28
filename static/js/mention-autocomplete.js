// @mention autocomplete for every <textarea>/<input> with a data-mentions-url attribute
// (the chat and comment inputs), using vendored Tribute.js (window.Tribute, loaded by
// base.html). Suggestions come from that URL + "&q=<prefix>" (members of the board or room
// only); picking one inserts "@username ". While the menu is open the element carries
// data-mention-menu-open="true" so the chat script leaves Enter to the menu. Each name has its
// presence dot (lib/presence.js, issue 11).

import { dotFor } from "./lib/presence.js";

const SELECTOR = "textarea[data-mentions-url], input[data-mentions-url]";

function escapeHtml(text) {
  // Tribute inserts menu items with innerHTML: user data must be escaped first.
  const span = document.createElement("span");
  span.textContent = String(text ?? "");
  return span.innerHTML.replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function suggestionsUrl(base, prefix) {
  const url = new URL(base, window.location.href);
  url.searchParams.set("q", prefix);
  return url.pathname + url.search;
}

function makeFetcher(base) {
  const cache = new Map();
  // Tribute filters whatever arrives against the text typed by then, so an answer that
  // arrives late cannot show names that no longer match.
  return async (prefix, callback) => {
    if (!cache.has(prefix)) {
      let results = [];
      try {
        const response = await fetch(suggestionsUrl(base, prefix), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.ok) {
          const data = await response.json();
          results = Array.isArray(data.results) ? data.results : [];
          cache.set(prefix, results);
        }
      } catch {
        results = [];
      }
      callback(results);
      return;
    }
    callback(cache.get(prefix));
  };
}

function attach(element) {
  if (typeof window.Tribute !== "function" || element.dataset.mentionsAttached) return;
  element.dataset.mentionsAttached = "true";
  const tribute = new window.Tribute({
    trigger: "@",
    values: makeFetcher(element.dataset.mentionsUrl),
    lookup: (item) => `${item.username} ${item.display_name}`,
    fillAttr: "username",
    requireLeadingSpace: true,
    allowSpaces: false,
    menuItemLimit: 10,
    menuShowMinLength: 0,
    noMatchTemplate: () => null,
    selectTemplate: (item) => (item ? `@${item.original.username}` : ""),
    menuItemTemplate: (item) =>
      // outerHTML of an element built with DOM calls: the username is an attribute value there.
      `${dotFor(String(item.original.username ?? "")).outerHTML} ` +
      `<span class="mention-name">${escapeHtml(item.original.display_name)}</span>` +
      ` <small class="mention-username">@${escapeHtml(item.original.username)}</small>`,
  });
  tribute.attach(element);
  element.addEventListener("tribute-active-true", () => {
    element.dataset.mentionMenuOpen = "true";
  });
  element.addEventListener("tribute-active-false", () => {
    // Deferred: the Enter (or Tab) that picked an item is still being dispatched, and the
    // chat script must see the menu as open for that keystroke. Tribute also hides and
    // re-shows the menu on every keystroke, so only clear it if the menu stayed closed.
    window.setTimeout(() => {
      if (!tribute.isActive) delete element.dataset.mentionMenuOpen;
    }, 0);
  });
}

function attachAll(root = document) {
  root.querySelectorAll(SELECTOR).forEach(attach);
}

attachAll();
// Inputs rendered later (a comment form opened in place) get the menu too.
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      if (node.matches(SELECTOR)) attach(node);
      else attachAll(node);
    }
  }
}).observe(document.body, { childList: true, subtree: true });
