// The preferences page's opt-in for browser notifications (issue 11): a button that asks
// the browser's permission (Notification.requestPermission, which needs a click). Once
// granted, notifications.js shows a system notification for a direct message or a mention
// that arrives while the tab is hidden.

const button = document.getElementById("browser-notifications-enable");
const status = document.getElementById("browser-notifications-status");

function show() {
  if (!button || !status) return;
  if (!("Notification" in window)) {
    button.hidden = true;
    status.textContent = "This browser does not support notifications.";
    return;
  }
  const permission = Notification.permission;
  button.hidden = permission !== "default";
  if (permission === "granted") {
    status.textContent = "Browser notifications are on for this browser.";
  } else if (permission === "denied") {
    status.textContent = "Browser notifications are blocked; allow them in the browser's site settings.";
  } else {
    status.textContent = "";
  }
  document.body.dataset.browserNotifications = permission;
}

if (button) {
  button.addEventListener("click", async () => {
    try {
      await Notification.requestPermission();
    } finally {
      show();
    }
  });
}
show();
