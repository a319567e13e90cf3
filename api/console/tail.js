// Live tail: GET /events/stream (Server-Sent Events) read with fetch(), so the token can go in a
// header (EventSource cannot send one). Pause closes the stream and remembers the last event's
// cursor; resume reconnects with Last-Event-ID, so nothing published meanwhile is missed. A
// dropped connection reconnects the same way.

import { el, formatTime, preview, queryOf, request } from "./client.js";

// Rows kept on screen; older ones are dropped.
const MAX_ROWS = 500;
const RECONNECT_MS = 2000;

let form;
let controller = null;
let lastEventId = null;
let paused = false;
let visible = false;
let received = 0;

export function mount() {
  form = document.getElementById("tail-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // New filters start at the current end.
    lastEventId = null;
    restart();
  });
  document.getElementById("tail-toggle").addEventListener("click", () => setPaused(!paused));
  document.getElementById("tail-clear").addEventListener("click", () => {
    document.querySelector("#tail-table tbody").replaceChildren();
    received = 0;
  });
}

export function show() {
  visible = true;
  if (!paused) restart();
}

export function hide() {
  visible = false;
  close();
}

function setPaused(value) {
  paused = value;
  const toggle = document.getElementById("tail-toggle");
  toggle.textContent = paused ? "Resume" : "Pause";
  toggle.setAttribute("aria-pressed", String(paused));
  if (paused) {
    close();
    status(`Paused after ${received} events; resume continues where it stopped.`);
  } else {
    restart();
  }
}

function status(text) {
  document.getElementById("tail-status").textContent = text;
}

function close() {
  controller?.abort();
  controller = null;
}

function restart() {
  close();
  if (!visible || paused) return;
  controller = new AbortController();
  follow(controller).catch(() => {});
}

async function follow(own) {
  const headers = lastEventId ? { "Last-Event-ID": lastEventId } : {};
  status(lastEventId ? "Reconnecting…" : "Connecting…");
  let response;
  try {
    response = await request(`/events/stream?${queryOf(form)}`, { headers, signal: own.signal });
  } catch {
    return retryLater(own);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    status(`The stream was refused: ${body.error || response.status}`);
    if (response.status >= 500) retryLater(own);
    return;
  }
  status(`Live: ${received} events so far`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch {
    // Aborted (pause, new filters, page left) or the connection broke.
  }
  retryLater(own);
}

function retryLater(own) {
  if (controller !== own || own.signal.aborted) return;
  status("Connection lost; reconnecting…");
  setTimeout(() => controller === own && restart(), RECONNECT_MS);
}

// One SSE message: `id:` and `data:` lines; comment lines (heartbeats) start with `:`.
function dispatch(message) {
  let id = null;
  const data = [];
  for (const line of message.split("\n")) {
    if (line.startsWith("id:")) id = line.slice(3).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return;
  if (id) lastEventId = id;
  try {
    append(JSON.parse(data.join("\n")));
  } catch {
    // Not an event (never sent by the API); skipped.
  }
}

function append(event) {
  received += 1;
  const body = document.querySelector("#tail-table tbody");
  body.prepend(
    el(
      "tr",
      { "data-event-id": event.event_id, "data-topic": event.topic },
      el("td", { text: formatTime(event.processed_at) }),
      el("td", { text: formatTime(event.timestamp) }),
      el("td", { text: event.topic }),
      el("td", { text: event.source }),
      el("td", { class: "mono", text: event.event_id }),
      el("td", { class: "mono payload", text: preview(event.payload) }),
    ),
  );
  while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  status(`Live: ${received} events so far`);
}
