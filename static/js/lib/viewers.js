// "Who's here": the avatars of the members viewing this board, from the board socket's
// viewer_join/viewer_leave frames. One entry per socket (viewer_id); a user with two tabs
// shows once. The current user is rendered by the server and always stays.

export class Viewers {
  constructor(list) {
    this.list = list;
    this.myUserId = list ? Number(list.dataset.myUserId) : 0;
    /** @type {Map<string, {userId: number, name: string}>} */
    this.viewers = new Map();
  }

  handle(frame) {
    if (frame.type === "viewer_join") {
      this.viewers.set(frame.viewer_id, { userId: Number(frame.user_id), name: frame.display_name || frame.username });
    } else if (frame.type === "viewer_leave") {
      this.viewers.delete(frame.viewer_id);
    }
    this.render();
  }

  /** The socket closed: we no longer hear leaves, so forget everyone else until it is back. */
  clear() {
    this.viewers.clear();
    this.render();
  }

  render() {
    if (!this.list) return;
    const others = new Map();
    for (const viewer of this.viewers.values()) {
      if (viewer.userId !== this.myUserId) others.set(viewer.userId, viewer.name);
    }
    for (const el of [...this.list.querySelectorAll(".viewer-avatar")]) {
      const userId = Number(el.dataset.userId);
      if (userId !== this.myUserId && !others.has(userId)) el.remove();
    }
    for (const [userId, name] of others) {
      if (this.list.querySelector(`.viewer-avatar[data-user-id="${userId}"]`)) continue;
      const li = document.createElement("li");
      li.className = "viewer-avatar";
      li.dataset.userId = String(userId);
      li.title = name;
      li.textContent = (name || "?").slice(0, 1).toUpperCase();
      this.list.append(li);
    }
  }
}
