// Dead letters: GET /dead-letters (filters, older pages through Link), the raw record of one,
// and POST /dead-letters/{id}/retry (admin scope: a 403 asks for an admin token).

import { activatable, el, formatTime, getJson, nextLink, queryOf, request, showError } from "./client.js";

let form;
let next = null;

export function mount() {
  form = document.getElementById("letters-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(`/dead-letters?${queryOf(form)}&limit=50`, false);
  });
  document.getElementById("letters-next").addEventListener("click", () => next && load(next, true));
  document.getElementById("letters-detail-close").addEventListener("click", () => {
    document.getElementById("letters-detail").hidden = true;
  });
}

export function show() {
  load(`/dead-letters?${queryOf(form)}&limit=50`, false);
}

async function load(path, append) {
  const summary = document.getElementById("letters-summary");
  try {
    const { body: letters, response } = await getJson(path);
    next = nextLink(response);
    document.getElementById("letters-next").disabled = !next;
    const body = document.querySelector("#letters-table tbody");
    const rows = letters.map(row);
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    summary.textContent = body.rows.length
      ? `${body.rows.length} dead letter${body.rows.length === 1 ? "" : "s"} shown${next ? "; older ones on the next page" : ""}.`
      : "No dead letter matches.";
    showError("");
  } catch (error) {
    showError(`Dead letters: ${error.message}`);
  }
}

function statusText(letter) {
  return letter.retried_at ? `retried ${formatTime(letter.retried_at)}` : "pending";
}

function row(letter) {
  const state = el("td", { class: "state", text: statusText(letter) });
  const retry = el("button", {
    type: "button",
    class: "retry",
    text: letter.retried_at ? "Retry again" : "Retry",
    "aria-label": `Retry dead letter ${letter.id}`,
  });
  const tr = el(
    "tr",
    { "data-id": letter.id },
    el("td", { class: "num", text: letter.id }),
    el("td", { text: formatTime(letter.created_at) }),
    el("td", { class: "mono", text: `${letter.partition}/${letter.offset}` }),
    el("td", { class: "error-text", text: letter.error }),
    state,
    el("td", {}, retry),
  );
  activatable(tr, () => openRaw(letter));
  retry.addEventListener("click", (event) => {
    event.stopPropagation();
    retryLetter(letter, tr, state, retry);
  });
  retry.addEventListener("keydown", (event) => event.stopPropagation());
  return tr;
}

function openRaw(letter) {
  const lines = [
    `id:         ${letter.id}`,
    `topic:      ${letter.kafka_topic} partition ${letter.partition} offset ${letter.offset}`,
    `stored:     ${letter.created_at}`,
    `retried:    ${letter.retried_at || "no"}`,
    `error:      ${letter.error}`,
    `key (${letter.key_encoding || "none"}): ${letter.key ?? ""}`,
    `value (${letter.value_encoding || "none"}):`,
    letter.value ?? "",
  ];
  document.getElementById("letters-detail-raw").textContent = lines.join("\n");
  const detail = document.getElementById("letters-detail");
  detail.hidden = false;
  document.getElementById("letters-detail-close").focus();
}

async function retryLetter(letter, tr, state, button) {
  button.disabled = true;
  state.textContent = "retrying…";
  try {
    const response = await request(`/dead-letters/${letter.id}/retry`, { method: "POST" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    Object.assign(letter, body.dead_letter);
    state.textContent = `${statusText(letter)} → partition ${body.partition} offset ${body.offset}`;
    tr.dataset.retried = "true";
    button.textContent = "Retry again";
  } catch (error) {
    state.textContent = statusText(letter);
    showError(`Retry of dead letter ${letter.id}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}
