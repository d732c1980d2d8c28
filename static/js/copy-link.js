// "Copy" buttons next to read-only link fields (invitation links): copies the field's value
// and says so on the button for a moment. Falls back to selecting the text.

for (const button of document.querySelectorAll("[data-copy-link]")) {
  button.addEventListener("click", async () => {
    const input = button.parentElement.querySelector("input");
    if (!input) return;
    input.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch {
      copied = false; // no clipboard permission: the text stays selected for Ctrl+C
    }
    const label = button.textContent;
    button.textContent = copied ? "Copied" : "Press Ctrl+C";
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  });
}
