// Search: the filters of GET /events, paging through its Link header, an event's detail with
// its payload pretty-printed, and the curl command that runs the same query.

import {
  activatable,
  copyText,
  curlFor,
  el,
  formatTime,
  getJson,
  nextLink,
  preview,
  queryOf,
  showError,
} from "./client.js";

let form;
let next = null;
let searched = false;

export function mount() {
  form = document.getElementById("search-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(pathOfForm());
  });
  document.getElementById("search-first").addEventListener("click", () => run(pathOfForm()));
  document.getElementById("search-next").addEventListener("click", () => next && run(next, true));
  document.getElementById("search-copy").addEventListener("click", (event) =>
    copyText(curlFor(pathOfForm()), event.currentTarget),
  );
  document.getElementById("search-detail-close").addEventListener("click", closeDetail);
  form.addEventListener("input", () => {
    document.getElementById("search-curl").textContent = curlFor(pathOfForm());
  });
}

// `params` (from `#search?topic=...`) fill the form and search at once.
export function show(params) {
  let given = false;
  for (const [name, value] of params || []) {
    if (form.elements[name]) {
      form.elements[name].value = value;
      given = true;
    }
  }
  if (given || !searched) run(pathOfForm());
}

function pathOfForm() {
  return `/events?${queryOf(form)}`;
}

async function run(path, paging = false) {
  searched = true;
  document.getElementById("search-curl").textContent = curlFor(path);
  const summary = document.getElementById("search-summary");
  summary.textContent = "Searching…";
  try {
    const { body: events, response } = await getJson(path);
    next = nextLink(response);
    document.getElementById("search-next").disabled = !next;
    showRows(events);
    summary.textContent = `${events.length} event${events.length === 1 ? "" : "s"}${
      paging ? " (a further page)" : ""
    }${next ? "; more on the next page" : ""}.`;
    showError("");
  } catch (error) {
    summary.textContent = "";
    showError(`Search: ${error.message}`);
  }
}

function showRows(events) {
  const rows = events.map((event) => {
    const row = el(
      "tr",
      { "data-event-id": event.event_id, "data-topic": event.topic },
      el("td", { text: formatTime(event.timestamp) }),
      el("td", { text: event.topic }),
      el("td", { text: event.source }),
      el("td", { class: "mono", text: event.event_id }),
      el("td", { class: "mono payload", text: preview(event.payload) }),
    );
    activatable(row, () => openDetail(event, row));
    return row;
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 5, text: "No event matches." })));
  document.querySelector("#search-results tbody").replaceChildren(...rows);
}

// The path of GET /events/{topic}/{event_id} (a topic may contain `/`; an id's `/` is encoded).
function eventPath(event) {
  const topic = event.topic.split("/").map(encodeURIComponent).join("/");
  return `/events/${topic}/${encodeURIComponent(event.event_id)}`;
}

function openDetail(event, row) {
  for (const selected of document.querySelectorAll("#search-results tr[aria-selected]")) {
    selected.removeAttribute("aria-selected");
  }
  row.setAttribute("aria-selected", "true");
  const detail = document.getElementById("search-detail");
  detail.hidden = false;
  document.getElementById("search-detail-json").textContent = JSON.stringify(event, null, 2);
  const copy = document.getElementById("search-detail-copy");
  copy.onclick = () => copyText(curlFor(eventPath(event)), copy);
  document.getElementById("search-detail-close").focus();
}

function closeDetail() {
  document.getElementById("search-detail").hidden = true;
  document.querySelector("#search-results tr[aria-selected]")?.focus();
}
