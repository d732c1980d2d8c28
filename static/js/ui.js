// Page-wide behaviour for every page (loaded by base.html): the collapsing nav, the colour
// theme toggle, keyboard shortcuts, confirmations (data-confirm), blank-field checks and the
// message box counters. Each part is small and does nothing where its elements are absent.

import { postForm } from "./lib/http.js";
import { attachCounter } from "./lib/composer.js";
import { installConfirmations } from "./lib/confirm.js";
import { installBlankChecks } from "./lib/forms.js";
import { showToast } from "./lib/toast.js";

const root = document.documentElement;

// --- Nav: a disclosure button on narrow screens ----------------------------------------------

const navToggle = document.getElementById("nav-toggle");
const navMenu = document.getElementById("nav-menu");

function setNavOpen(open) {
  if (!navToggle || !navMenu) return;
  navToggle.setAttribute("aria-expanded", String(open));
  navMenu.classList.toggle("show", open);
}

if (navToggle && navMenu) {
  navToggle.addEventListener("click", () => setNavOpen(navToggle.getAttribute("aria-expanded") !== "true"));
}

// The phone header shows the unread count next to the Menu button too.
const badge = document.getElementById("notification-badge");
const mirror = document.querySelector("[data-notification-mirror]");
if (badge && mirror) {
  const sync = () => {
    mirror.textContent = badge.textContent;
    mirror.classList.toggle("d-none", badge.classList.contains("d-none"));
  };
  new MutationObserver(sync).observe(badge, { childList: true, characterData: true, subtree: true, attributes: true });
  sync();
}

// --- Colour theme -----------------------------------------------------------------------------

const themeToggle = document.getElementById("theme-toggle");
const darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

function effectiveTheme(pref) {
  if (pref === "light" || pref === "dark") return pref;
  return darkQuery && darkQuery.matches ? "dark" : "light";
}

function applyTheme(pref) {
  root.dataset.themePref = pref;
  root.setAttribute("data-bs-theme", effectiveTheme(pref));
  if (themeToggle) themeToggle.setAttribute("aria-pressed", String(effectiveTheme(pref) === "dark"));
}

/** Remember the choice (this browser, and the account when signed in); true if saved. */
async function saveTheme(pref) {
  try {
    window.localStorage.setItem("taskflow-theme", pref);
  } catch {
    // Private mode: the server copy still holds it for signed-in people.
  }
  const url = root.dataset.themeUrl;
  if (!url) return true;
  const result = await postForm(url, { theme: pref });
  return result.ok;
}

if (darkQuery) darkQuery.addEventListener("change", () => applyTheme(root.dataset.themePref || "auto"));
applyTheme(root.dataset.themePref || "auto");
if (themeToggle) {
  themeToggle.addEventListener("click", () => {
    const next = effectiveTheme(root.dataset.themePref || "auto") === "dark" ? "light" : "dark";
    applyTheme(next);
    saveTheme(next).then((saved) => {
      if (!saved) showToast("Couldn't save the theme for your account; it applies to this browser for now.");
    });
  });
}
// The profile page's theme form applies at once without leaving the page.
const themeForm = document.getElementById("theme-form");
if (themeForm) {
  themeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const pref = themeForm.elements.theme.value;
    applyTheme(pref);
    saveTheme(pref).then((saved) =>
      showToast(saved ? "Theme saved." : "Couldn't save the theme for your account. Try again."),
    );
  });
}

// --- Keyboard shortcuts -----------------------------------------------------------------------

const shortcuts = document.getElementById("shortcuts-dialog");
const shortcutsButton = document.getElementById("shortcuts-open");

function openShortcuts() {
  if (shortcuts && !shortcuts.open && typeof shortcuts.showModal === "function") shortcuts.showModal();
}

if (shortcutsButton) shortcutsButton.addEventListener("click", openShortcuts);
for (const dialog of document.querySelectorAll("dialog.app-dialog")) {
  dialog.addEventListener("click", (event) => {
    if (event.target.closest("[data-dialog-close]")) dialog.close("cancel");
  });
}

function isTyping(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

/** Close the innermost open panel: a column menu (<details>), the phone nav. */
function closePanels() {
  let closed = false;
  for (const details of document.querySelectorAll("details[open]")) {
    details.open = false;
    const summary = details.querySelector("summary");
    if (summary && details.contains(document.activeElement)) summary.focus();
    closed = true;
  }
  if (navToggle && navToggle.getAttribute("aria-expanded") === "true") {
    setNavOpen(false);
    navToggle.focus();
    closed = true;
  }
  return closed;
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape") {
    // Open <dialog>s close themselves on Esc; the mention menu handles its own.
    if (document.querySelector("dialog[open]")) return;
    if (closePanels()) event.preventDefault();
    return;
  }
  if (isTyping(event.target)) return;
  if (event.key === "?") {
    event.preventDefault();
    openShortcuts();
  } else if (event.key === "/") {
    // The search page's own box first, else the nav's.
    const search =
      document.querySelector("main [role=search] input[type=search], [data-search-input]") ||
      document.getElementById("nav-search-input");
    if (search) {
      event.preventDefault();
      if (navMenu && navMenu.contains(search)) setNavOpen(true);
      search.focus();
    }
  }
});

// --- Forms ------------------------------------------------------------------------------------

// Blank checks first: a form that cannot be sent is not worth confirming.
installBlankChecks(document);
installConfirmations(document);
for (const textarea of document.querySelectorAll("textarea[data-max-length]")) attachCounter(textarea);
