// fetch() helpers that send Django's CSRF token (from <meta name="csrf-token">) and return
// {ok, status, data} instead of throwing on HTTP errors. Network failures give status 0 and
// no data: callers word that themselves (an exception's text is not for people).

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function request(url, options) {
  try {
    const response = await fetch(url, {
      credentials: "same-origin",
      ...options,
      headers: { Accept: "application/json", "X-Requested-With": "fetch", ...(options.headers || {}) },
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  } catch {
    return { ok: false, status: 0, data: null };
  }
}

export function getJSON(url) {
  return request(url, { method: "GET" });
}

/** POST form fields (an object or FormData) with the CSRF token. */
export function postForm(url, fields = {}) {
  const body = fields instanceof FormData ? fields : new URLSearchParams(fields);
  return request(url, { method: "POST", body, headers: { "X-CSRFToken": csrfToken() } });
}
