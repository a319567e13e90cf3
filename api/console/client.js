// The console's only way to the API: same-origin requests carrying the token the user gave
// (kept in sessionStorage, so it lives as long as the tab), small DOM helpers, and the curl
// line equivalent to a request.

const TOKEN_KEY = "logagg.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Asks the user for a token: (status, reason) => Promise<boolean> (true when one was given).
let askToken = async () => false;
// One dialog at a time: concurrent 401s share the same answer.
let pendingAsk = null;

export function onTokenNeeded(ask) {
  askToken = ask;
}

function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  return headers;
}

async function errorMessage(response) {
  try {
    const body = await response.clone().json();
    return body.error || response.statusText;
  } catch {
    return response.statusText;
  }
}

// fetch() with the token; a 401/403 asks for a (better) token and tries again.
export async function request(path, options = {}) {
  const { method = "GET", body, headers = {}, signal } = options;
  const response = await fetch(path, { method, body, signal, headers: authHeaders(headers) });
  if (response.status !== 401 && response.status !== 403) return response;
  const reason = await errorMessage(response);
  pendingAsk ??= askToken(response.status, reason).finally(() => {
    pendingAsk = null;
  });
  return (await pendingAsk) ? request(path, options) : response;
}

// The JSON body of a successful request, with the response (for Link); else an ApiError.
export async function getJson(path, options) {
  const response = await request(path, options);
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  return { body: await response.json(), response };
}

// The target of `Link: <...>; rel="next"`, if any.
export function nextLink(response) {
  const link = response.headers.get("link") || "";
  const match = link.match(/<([^>]+)>\s*;\s*rel="next"/);
  return match ? match[1] : null;
}

// A query string from a form: only the fields that have a value.
export function queryOf(form, skip = []) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (!skip.includes(name) && String(value).trim() !== "") params.set(name, String(value).trim());
  }
  return params;
}

function shellQuote(text) {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

// The curl command for a GET of `path` (the token as a variable, never its value).
export function curlFor(path, extra = "") {
  const auth = token() ? ` -H "Authorization: Bearer $LOGAGG_API_TOKEN"` : "";
  return `curl -s${extra}${auth} ${shellQuote(new URL(path, location.origin).href)}`;
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    flash(button, "Copied");
  } catch {
    flash(button, "Select and copy the text above");
  }
}

function flash(button, text) {
  if (!button) return;
  const before = button.textContent;
  button.textContent = text;
  setTimeout(() => (button.textContent = before), 1500);
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

export function formatNumber(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

export function formatTime(text) {
  if (!text) return "–";
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? text : time.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// A one-line preview of a payload, cut to `max` characters.
export function preview(payload, max = 120) {
  const text = JSON.stringify(payload);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// Rows that open with Enter or Space as well as with a click.
export function activatable(row, open) {
  row.tabIndex = 0;
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  });
}

export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}
