// Files in conversations (issue 12): the paperclip, drag-and-drop onto the log, pasted images,
// a progress bar with Cancel per upload (XMLHttpRequest: fetch cannot report upload
// progress), and the rendering of a message's attachments: image previews that open in a
// lightbox, file cards for everything else, a placeholder until the thumbnail is ready
// ({"type": "attachment_ready"}). User text goes in with textContent only.

import { csrfToken } from "./http.js";

/** An icon drawn by CSS (a data: SVG background in app.css): no markup, no emoji font. */
function icon(kind) {
  const span = document.createElement("span");
  span.className = kind;
  span.setAttribute("aria-hidden", "true");
  return span;
}

export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** One attachment's element: a preview (thumbnail ready), a placeholder, or a file card. */
export function attachmentElement(item) {
  let el;
  if (item.thumbnail_url) {
    el = document.createElement("a");
    el.className = "att att-image";
    el.href = `${item.url}?inline=1`;
    el.title = item.name;
    const img = document.createElement("img");
    img.src = item.thumbnail_url;
    img.alt = item.name;
    img.loading = "lazy";
    el.append(img);
  } else if (item.pending || (item.content_type || "").startsWith("image/") && item.width) {
    el = document.createElement("span");
    el.className = "att att-pending";
    el.title = item.name;
    el.append("Preparing preview of ");
    const name = document.createElement("span");
    name.className = "att-name";
    name.textContent = item.name;
    el.append(name, "…");
  } else {
    el = document.createElement("a");
    el.className = "att att-card";
    el.href = item.url;
    el.setAttribute("download", "");
    const glyph = icon("att-icon");
    const name = document.createElement("span");
    name.className = "att-name";
    name.textContent = item.name;
    const size = document.createElement("span");
    size.className = "att-size text-muted";
    size.textContent = formatSize(item.size);
    el.append(glyph, " ", name, " ", size);
  }
  el.dataset.attachmentId = String(item.id);
  return el;
}

/** Fill an item's .attachments box from a payload's `attachments` list. */
export function renderAttachments(el, items) {
  let box = el.querySelector(".attachments");
  if (!box) {
    box = document.createElement("div");
    box.className = "attachments";
    const reactions = el.querySelector(".reactions");
    if (reactions) reactions.before(box);
    else el.append(box);
  }
  const list = Array.isArray(items) ? items : [];
  box.replaceChildren(...list.map(attachmentElement));
  box.hidden = list.length === 0;
}

/** {"type": "attachment_ready", "attachment": {...}}: swap the placeholder for the preview. */
export function applyAttachmentReady(root, data) {
  const item = data && data.attachment;
  if (!item || !Number.isFinite(Number(item.id))) return;
  for (const old of root.querySelectorAll(`.att[data-attachment-id="${Number(item.id)}"]`)) {
    old.replaceWith(attachmentElement(item));
  }
}

/** A full-size view of an image preview; closes on click, Escape or the close button. */
export function openLightbox(href, name) {
  const overlay = document.createElement("div");
  overlay.className = "att-lightbox";
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", name || "Image");
  const img = document.createElement("img");
  img.src = href;
  img.alt = name || "";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close btn-close-white att-lightbox-close";
  close.setAttribute("aria-label", "Close");
  const download = document.createElement("a");
  download.href = href.replace(/\?inline=1$/, "");
  download.className = "btn btn-sm btn-light att-lightbox-download";
  download.textContent = "Download";
  overlay.append(img, close, download);
  const done = () => {
    overlay.remove();
    document.removeEventListener("keydown", onKey);
  };
  const onKey = (event) => {
    if (event.key === "Escape") done();
  };
  overlay.addEventListener("click", (event) => {
    if (event.target !== download) done();
  });
  document.addEventListener("keydown", onKey);
  document.body.append(overlay);
  close.focus();
  return overlay;
}

/** Clicks on previews anywhere under `container` open the lightbox. */
export function wireLightbox(container) {
  container.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.att-image");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    openLightbox(link.getAttribute("href"), link.title);
  });
}

/** One upload: XMLHttpRequest for progress and abort. Resolves {ok, status, data}. */
function upload(url, context, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve) => {
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data });
    });
    xhr.addEventListener("error", () => resolve({ ok: false, status: 0, data: null }));
    xhr.addEventListener("abort", () => resolve({ ok: false, status: -1, data: null }));
    const form = new FormData();
    const [key, value] = context.split("=");
    form.append(key, value);
    form.append("file", file, file.name || "pasted-image.png");
    xhr.send(form);
  });
  return { xhr, promise };
}

/** The files waiting to go with the next message, above the composer. */
export class AttachmentTray {
  constructor(root, form, log, { onChange } = {}) {
    this.url = root.dataset.uploadUrl;
    this.context = root.dataset.uploadContext;
    this.form = form;
    this.onChange = onChange || (() => {});
    /** @type {Map<HTMLElement, {state: string, item: object|null, xhr: XMLHttpRequest}>} */
    this.entries = new Map();
    this.box = document.createElement("div");
    this.box.className = "att-tray";
    this.box.hidden = true;
    form.prepend(this.box);
    this.input = document.createElement("input");
    this.input.type = "file";
    this.input.multiple = true;
    this.input.hidden = true;
    this.input.className = "att-input";
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "btn btn-outline-secondary att-button";
    this.button.title = "Attach files";
    this.button.setAttribute("aria-label", "Attach files");
    this.button.append(icon("att-clip"));
    const submit = form.querySelector("[type=submit]");
    if (submit) submit.before(this.button, this.input);
    else form.append(this.button, this.input);
    this.button.addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => {
      this.addFiles([...this.input.files]);
      this.input.value = "";
    });
    for (const target of [log, form]) {
      if (!target) continue;
      target.addEventListener("dragover", (event) => {
        if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
        event.preventDefault();
        target.classList.add("att-drop");
      });
      target.addEventListener("dragleave", () => target.classList.remove("att-drop"));
      target.addEventListener("drop", (event) => {
        target.classList.remove("att-drop");
        const files = [...(event.dataTransfer?.files || [])];
        if (!files.length) return;
        event.preventDefault();
        this.addFiles(files);
      });
    }
    form.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (!files.length) return;
      event.preventDefault();
      this.addFiles(files);
    });
  }

  addFiles(files) {
    for (const file of files) this.addFile(file);
  }

  addFile(file) {
    const row = document.createElement("div");
    row.className = "att-upload";
    const name = document.createElement("span");
    name.className = "att-name";
    name.textContent = file.name || "pasted image";
    const size = document.createElement("span");
    size.className = "att-size text-muted";
    size.textContent = formatSize(file.size);
    const bar = document.createElement("progress");
    bar.className = "att-progress";
    bar.max = 1;
    bar.value = 0;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-link btn-sm att-cancel";
    cancel.textContent = "Cancel";
    const note = document.createElement("span");
    note.className = "att-note small";
    row.append(name, " ", size, " ", bar, " ", cancel, " ", note);
    this.box.append(row);
    this.box.hidden = false;
    const { xhr, promise } = upload(this.url, this.context, file, (fraction) => {
      bar.value = fraction;
    });
    const entry = { state: "uploading", item: null, xhr };
    this.entries.set(row, entry);
    cancel.addEventListener("click", () => {
      if (entry.state === "uploading") xhr.abort();
      this.remove(row);
    });
    this.onChange();
    promise.then((result) => {
      if (!this.entries.has(row)) return;
      if (result.ok && result.data) {
        entry.state = "ready";
        entry.item = result.data;
        bar.value = 1;
        bar.hidden = true;
        cancel.textContent = "Remove";
        note.textContent = "ready";
      } else if (result.status !== -1) {
        entry.state = "failed";
        bar.hidden = true;
        note.className = "att-note small text-danger";
        note.textContent = (result.data && result.data.error) || "Upload failed.";
      }
      this.onChange();
    });
  }

  remove(row) {
    this.entries.delete(row);
    row.remove();
    this.box.hidden = this.entries.size === 0;
    this.onChange();
  }

  get busy() {
    return [...this.entries.values()].some((e) => e.state === "uploading");
  }

  /** The uploaded files for the message being sent (and clear the tray of them). */
  take() {
    const items = [];
    for (const [row, entry] of [...this.entries]) {
      if (entry.state !== "ready") continue;
      items.push({
        id: entry.item.attachment_id,
        name: entry.item.name,
        size: entry.item.size,
        content_type: entry.item.content_type,
        url: entry.item.url,
        thumbnail_url: entry.item.thumbnail_url,
      });
      this.remove(row);
    }
    return { ids: items.map((i) => i.id), items };
  }
}
