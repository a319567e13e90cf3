// The console's shell: page switching (#overview, #search, #tail, #letters; keys 1-4), the
// token dialog and the health badges. Each page module owns its section of index.html.

import { onTokenNeeded, setToken, token } from "./client.js";
import * as overview from "./overview.js";
import * as search from "./search.js";
import * as tail from "./tail.js";
import * as letters from "./letters.js";

const PAGES = { overview, search, tail, letters };
let current = null;

// `hash` is a page name, optionally with parameters for it: `search?topic=checkout`.
function show(hash) {
  let [name, query] = hash.split("?");
  if (!(name in PAGES)) name = "overview";
  const params = new URLSearchParams(query || "");
  if (current === name && !query) return;
  if (current) PAGES[current].hide?.();
  for (const page of Object.keys(PAGES)) {
    document.getElementById(`page-${page}`).hidden = page !== name;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current = name;
  PAGES[name].show?.(params);
}

function askForToken(status, reason) {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  const reasons = {
    0: `Give the token this tab should use (${reason}).`,
    401: `This API needs a token (${reason}).`,
    403: `The token in use may not do this (${reason}). Give a token with that scope.`,
  };
  document.getElementById("token-reason").textContent = reasons[status] ?? reasons[401];
  input.value = "";
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue === "save" && input.value.trim()) {
          setToken(input.value.trim());
          resolve(true);
        } else {
          if (dialog.returnValue === "clear") setToken("");
          resolve(false);
        }
      },
      { once: true },
    );
  });
}

async function pollHealth() {
  try {
    const response = await fetch("/health");
    const body = await response.json();
    for (const dependency of ["broker", "database"]) {
      const badge = document.getElementById(`health-${dependency}`);
      // "ok", or {"status": "down", "error": "..."}.
      const state = body[dependency] === "ok" ? "up" : "down";
      badge.dataset.state = state;
      badge.title = state === "up" ? `${dependency}: up` : `${dependency}: ${body[dependency]?.error || "down"}`;
    }
  } catch {
    for (const badge of document.querySelectorAll("#health .dot")) {
      badge.dataset.state = "down";
      badge.title = "the API does not answer";
    }
  }
}

function start() {
  onTokenNeeded(askForToken);
  document.getElementById("token-button").addEventListener("click", async () => {
    if (await askForToken(0, token() ? "a token is set; give another or forget it" : "none set")) {
      // Pages reload what they show with the new token.
      PAGES[current].show?.(new URLSearchParams());
    }
  });
  for (const page of Object.values(PAGES)) page.mount();
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, select, textarea, dialog");
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const page = { 1: "overview", 2: "search", 3: "tail", 4: "letters" }[event.key];
    if (page) location.hash = page;
  });
  show(location.hash.slice(1));
  pollHealth();
  setInterval(pollHealth, 5000);
}

start();
