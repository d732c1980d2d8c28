// Task comment thread (a partial on the task detail page): live comments via lib/thread.js.
// Does nothing on pages without #comment-thread.

import { LiveThread } from "./lib/thread.js";

const COMMENTS = {
  log: "comment-log",
  template: "comment-template",
  form: "comment-form",
  input: "comment-input",
  older: "load-older-comments",
  newer: "load-newer-comments",
  status: "comment-connection-status",
  postUrlAttr: "postUrl",
  idKey: "comment_id",
  textKey: "comment",
  liveType: "new_comment",
  historyKey: "comments",
  domPrefix: "comment-",
  dataKey: "commentId",
  noun: "comment",
  frame: (text, clientId) => ({ type: "comment", comment: text, client_id: clientId }),
  editedType: "comment_edited",
  deletedType: "comment_deleted",
  canReply: false,
  editFrame: (id, text) => ({ type: "edit_comment", comment_id: id, comment: text }),
  deleteFrame: (id) => ({ type: "delete_comment", comment_id: id }),
  reactFrame: (id, emoji) => ({ type: "react", comment_id: id, emoji }),
};

const root = document.getElementById("comment-thread");
if (root) new LiveThread(root, COMMENTS).start();
