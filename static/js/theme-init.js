// Runs in <head>, before the first paint, so a dark page never flashes white.
// The server renders the signed-in user's choice on <html data-theme-pref>: "light" and
// "dark" are already applied as data-bs-theme; "auto" follows the device. Signed-out pages
// use the choice last made in this browser (localStorage). Also marks the page as scripted
// (html.js) so CSS can collapse the nav only when the Menu button works.
(function () {
  var root = document.documentElement;
  root.classList.add("js");
  var pref = root.getAttribute("data-theme-pref") || "auto";
  var stored = null;
  try {
    stored = window.localStorage.getItem("taskflow-theme");
  } catch (e) {
    stored = null;
  }
  if (!root.hasAttribute("data-theme-url") && (stored === "light" || stored === "dark")) pref = stored;
  if (pref !== "light" && pref !== "dark") {
    pref = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  root.setAttribute("data-bs-theme", pref);
})();
