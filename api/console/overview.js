// Overview: the counters of GET /stats, ingest and duplicate rates charted from this page's own
// polling (uPlot), consumer lag per partition, and the per-topic table of GET /topics.

import { el, formatNumber, formatTime, getJson, showError } from "./client.js";

const POLL_MS = 2000;
// The chart keeps this much history (what the page has seen since it opened).
const WINDOW_SECONDS = 600;
const COUNTERS = [
  "received",
  "unique_processed",
  "duplicate_dropped",
  "invalid",
  "replayed",
  "expired",
  "stored_events",
  "consumer_lag",
  "dead_letters",
];

// [unix seconds], [ingest/s], [duplicates/s]
const series = [[], [], []];
let previous = null;
let chart = null;
let visible = false;

export function mount() {
  poll();
  setInterval(poll, POLL_MS);
  new ResizeObserver(() => resizeChart()).observe(document.getElementById("rate-chart"));
}

export function show() {
  visible = true;
  poll();
}

export function hide() {
  visible = false;
}

function chartWidth() {
  return Math.max(280, document.getElementById("rate-chart").clientWidth);
}

function resizeChart() {
  if (chart) chart.setSize({ width: chartWidth(), height: 240 });
}

function drawChart() {
  if (!window.uPlot) return; // the deferred library is not there yet; the next poll draws
  if (!chart) {
    const styles = getComputedStyle(document.documentElement);
    const color = (name) => styles.getPropertyValue(name).trim();
    chart = new window.uPlot(
      {
        width: chartWidth(),
        height: 240,
        series: [
          {},
          { label: "ingest /s", stroke: color("--accent"), width: 2, value: (_, v) => rate(v) },
          { label: "duplicates /s", stroke: color("--warn"), width: 2, value: (_, v) => rate(v) },
        ],
        axes: [
          {
            stroke: color("--muted"),
            grid: { stroke: color("--grid") },
            space: 90,
            values: (_, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString("en-GB")),
          },
          { stroke: color("--muted"), grid: { stroke: color("--grid") } },
        ],
        scales: { y: { range: (_, min, max) => [0, Math.max(1, max * 1.1)] } },
      },
      series,
      document.getElementById("rate-chart"),
    );
  } else {
    chart.setData(series);
  }
  // What the chart holds, for people using a screen reader (and for the browser test).
  const box = document.getElementById("rate-chart");
  box.dataset.peakIngest = Math.max(0, ...series[1]).toFixed(1);
  box.dataset.peakDuplicates = Math.max(0, ...series[2]).toFixed(1);
  box.setAttribute(
    "aria-label",
    `Ingest and duplicate rates over the last minutes; peaks ${box.dataset.peakIngest} and ${box.dataset.peakDuplicates} events/s`,
  );
}

function rate(value) {
  return value === null || value === undefined ? "–" : value.toFixed(1);
}

function record(stats) {
  const now = Date.now() / 1000;
  if (previous && now > previous.time) {
    const seconds = now - previous.time;
    series[0].push(now);
    series[1].push(Math.max(0, (stats.received - previous.received) / seconds));
    series[2].push(Math.max(0, (stats.duplicate_dropped - previous.duplicate_dropped) / seconds));
    while (series[0].length && series[0][0] < now - WINDOW_SECONDS) series.forEach((s) => s.shift());
  }
  previous = { time: now, received: stats.received, duplicate_dropped: stats.duplicate_dropped };
}

function showCounters(stats) {
  for (const name of COUNTERS) {
    const value = document.getElementById(`stat-${name}`);
    if (!value) continue;
    value.textContent = formatNumber(stats[name]);
    value.dataset.value = stats[name] ?? "";
  }
  // `expired` exists once retention does.
  document.getElementById("stat-box-expired").hidden = stats.expired === undefined;
}

function showLag(stats) {
  const body = document.querySelector("#lag-table tbody");
  const lag = stats.lag_per_partition;
  if (!lag) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 2, text: "unknown: the broker did not answer" })));
    return;
  }
  const rows = Object.entries(lag)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([partition, behind]) =>
      el(
        "tr",
        { "data-partition": partition },
        el("td", { text: partition }),
        el("td", { class: behind > 0 ? "num warn" : "num", text: formatNumber(behind) }),
      ),
    );
  body.replaceChildren(...rows);
}

function showService(stats) {
  const facts = [
    ["Kafka topic", stats.kafka_topic],
    ["Consumer group", stats.consumer_group],
    ["API uptime", `${formatNumber(stats.uptime_seconds)} s`],
    [
      "Oldest pending dead letter",
      stats.dead_letters_oldest_age_seconds == null ? "none" : `${Math.round(stats.dead_letters_oldest_age_seconds)} s`,
    ],
  ];
  document
    .getElementById("service")
    .replaceChildren(...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })]));
}

function showTopics(topics) {
  const rows = topics.map((topic) =>
    el(
      "tr",
      { "data-topic": topic.topic },
      el("td", {}, el("a", { href: `#search?topic=${encodeURIComponent(topic.topic)}`, text: topic.topic })),
      el("td", { class: "num", text: formatNumber(topic.stored) }),
      el("td", { class: "num", text: formatNumber(topic.received) }),
      el("td", { class: "num", text: formatNumber(topic.duplicate_dropped) }),
      el("td", { class: "num", text: formatNumber(topic.replayed) }),
      el("td", { text: formatTime(topic.first_event_at) }),
      el("td", { text: formatTime(topic.last_event_at) }),
    ),
  );
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 7, text: "No events stored yet." })));
  document.querySelector("#topics-table tbody").replaceChildren(...rows);
}

let polling = false;

async function poll() {
  if (polling) return;
  polling = true;
  try {
    const { body: stats } = await getJson("/stats");
    record(stats);
    if (visible) {
      showCounters(stats);
      showLag(stats);
      showService(stats);
      drawChart();
      const { body: topics } = await getJson("/topics");
      showTopics(topics);
    }
    showError("");
  } catch (error) {
    if (visible) showError(`Overview: ${error.message}`);
  } finally {
    polling = false;
  }
}
