// The page's one way to the head: fetch with the session cookie (same-origin) and, when the
// user typed one into the token prompt, a bearer token. A 401 opens the prompt and retries.
// SSE is read with fetch rather than EventSource so the same headers apply to it.

const TOKEN_KEY = 'flotilla.token';

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : { code: 'FLO_HTTP', message: `HTTP ${status}` };
    super(e.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = e.code;
    /** [{field, message}] for a 400 FLO_VALIDATION */
    this.details = Array.isArray(e.details) ? e.details : [];
  }
}

function headers(extra) {
  const h = { ...extra };
  const t = sessionStorage.getItem(TOKEN_KEY);
  if (t) h.authorization = `Bearer ${t}`;
  return h;
}

let prompting = null;
/** Shows the token dialog once for any number of concurrent 401s; resolves when a token is set. */
function askToken(message) {
  if (prompting) return prompting;
  const dlg = document.getElementById('token-dialog');
  const form = dlg.querySelector('form');
  dlg.querySelector('.why').textContent = message || 'This head needs a token.';
  prompting = new Promise((resolve) => {
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const v = form.elements.token.value.trim();
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      dlg.close();
      prompting = null;
      resolve();
    };
  });
  if (!dlg.open) dlg.showModal();
  return prompting;
}

/** JSON request; throws ApiError with the catalogue code and field details. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  for (;;) {
    const res = await fetch(path, {
      method,
      signal,
      credentials: 'same-origin',
      headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status === 401) {
      await askToken(json?.error?.message);
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }
}

/** A file as a Blob through fetch (so a bearer token applies, which an <img src> could not carry). */
export async function fetchBlob(path, signal) {
  for (;;) {
    const res = await fetch(path, { signal, credentials: 'same-origin', headers: headers({}) });
    if (res.status === 401) {
      await askToken();
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
    return res.blob();
  }
}

/** Downloads a file through fetch (so a bearer token applies) and saves it under its name. */
export async function download(path, name) {
  const url = URL.createObjectURL(await fetchBlob(path));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Follows a job's events (GET /v1/jobs/:id/events). Calls onEvent(seq, event) for each; on a
 * dropped connection it resumes from the last seq + 1 after a second; ends when the head ends
 * the stream (job terminal) or the signal aborts.
 */
export async function followEvents(jobId, onEvent, signal) {
  let from = 1;
  while (!signal.aborted) {
    try {
      const res = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events?follow=true&from=${from}`, {
        signal,
        credentials: 'same-origin',
        headers: headers({ accept: 'text/event-stream' }),
      });
      if (res.status === 401) {
        await askToken();
        continue;
      }
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return; // the head ends the stream once the job is terminal
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let seq = 0,
            data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) seq = Number(line.slice(4));
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (!data) continue;
          from = seq + 1;
          onEvent(seq, JSON.parse(data));
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && e.status < 500) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
