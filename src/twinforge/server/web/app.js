// twinforge web app: a thin face over the HTTP API (/api/...) and its live stream (/api/stream).
// Every number shown comes from an API response; nothing is computed here but layout.
"use strict";

const S = {
  twins: [], twin: null, graph: null, signals: [], latest: new Map(), charts: new Map(),
  alerts: [], job: null, socket: null, key: localStorage.getItem("twinforge-key") || "",
  pendingPlot: false,
};
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k.nodeType ? k : document.createTextNode(String(k)));
  return e;
};
// {"type": "weibull", "shape": 1.8, "scale": 4000} with unit h -> "weibull (shape 1.8, scale 4,000) h"
const distText = (d, unit) => {
  const args = Object.entries(d).filter(([k, x]) => k !== "type" && x !== null && x !== undefined).map(([k, x]) => `${k} ${typeof x === "number" ? fmt(x) : x}`);
  return `${d.type || "distribution"} (${args.join(", ")})${unit ? " " + unit : ""}`;
};
const fmt = (x, digits = 4) => {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  const a = Math.abs(x);
  if (a >= 1e5) return x.toLocaleString(undefined, { maximumFractionDigits: 0 });
  if (a >= 100) return x.toLocaleString(undefined, { maximumFractionDigits: 1 });
  return Number(x.toPrecision(digits)).toString();
};
const enc = encodeURIComponent;
// User text (names, ids, units) goes into the DOM only as text (el() above: textContent / text
// nodes, never innerHTML). Plotly renders its labels as a small HTML subset (<b>, <a href>, <br>):
// ptext() escapes user text for it so a name such as "<b>x</b>" is shown as typed.
const ptext = (s) => String(s ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

// -- API -------------------------------------------------------------------------------------------
async function api(path, opts = {}) {
  const headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
  if (S.key) headers["Authorization"] = "Bearer " + S.key;
  const res = await fetch(path, Object.assign({}, opts, { headers }));
  if (res.status === 401) { askKey(); throw new Error("an API key is needed"); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const detail = body && body.detail ? body.detail : res.statusText;
    const errors = body && body.errors ? "\n" + body.errors.map((e) => `${e.field || ""}: ${e.message}`).join("\n") : "";
    throw new Error(`${res.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}${errors}`);
  }
  return body;
}
function askKey() {
  const d = $("#key-dialog");
  if (d.open) return;
  d.showModal();
  d.addEventListener("close", () => {
    S.key = $("#key-input").value.trim();
    localStorage.setItem("twinforge-key", S.key);
    location.reload();
  }, { once: true });
}

// -- tabs and twins ----------------------------------------------------------------------------------
function showTab(name) {
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === "tab-" + name));
  location.hash = `${enc(S.twin || "")}/${name}`;
  if (name === "live") renderLiveCharts();
  if (name === "alerts") loadAlerts();
  if (name === "audit") loadAudit();
  if (name === "twin" && S.graph) Plotly.Plots.resize("graph");
}
document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

async function init() {
  S.twins = await api("/api/twins");
  const sel = $("#twin-select");
  for (const t of S.twins) sel.append(el("option", { value: t.name, text: `${t.name} (${t.engine})` }));
  const [hashTwin, hashTab] = decodeURIComponent(location.hash.slice(1)).split("/");
  const first = S.twins.find((t) => t.name === hashTwin) || S.twins.find((t) => t.signals > 0) || S.twins[0];
  sel.value = first ? first.name : "";
  sel.addEventListener("change", () => selectTwin(sel.value));
  connect();
  if (first) await selectTwin(first.name);
  showTab(hashTab || "twin");
  loadAlerts();
}

async function selectTwin(name) {
  S.twin = name;
  S.latest.clear(); S.charts.clear();
  $("#live-charts").innerHTML = "";
  $("#chat").innerHTML = "";
  const info = S.twins.find((t) => t.name === name);
  $("#twin-title").textContent = name;
  $("#twin-desc").textContent = info?.description || "";
  $("#node-panel").innerHTML = '<p class="muted">No node selected.</p>';
  const [graph, signals] = await Promise.all([api(`/api/twins/${enc(name)}/graph`), api(`/api/twins/${enc(name)}/signals`)]);
  S.graph = graph; S.signals = signals;
  for (const s of signals) if (s.value !== null) S.latest.set(`${s.node}.${s.signal}`, { t: s.timestamp, value: s.value, age: s.age_s });
  drawGraph();
  renderLatest();
  setupScenario(info);
  loadExamples(name);
  loadWarnings();
  const h = decodeURIComponent(location.hash.slice(1)).split("/")[1] || "twin";
  location.hash = `${enc(name)}/${h}`;
}

// -- the twin graph -----------------------------------------------------------------------------------
const KIND_SYMBOL = { source: "triangle-right", sink: "triangle-left", station: "square", buffer: "diamond",
  conveyor: "line-ew-open", tank: "hexagon", pump: "circle", valve: "bowtie", junction: "circle-open",
  supplier: "triangle-right", plant: "square", warehouse: "diamond", customer: "triangle-left", depot: "star",
  sensor: "circle-dot", custom: "pentagon" };
const STATUS_COLOR = { alert: "#d1352b", live: "#2e9d5b", idle: "#9aa3ad" };

function drawGraph() {
  const g = S.graph; if (!g) return;
  const pos = new Map(g.nodes.map((n) => [n.id, n]));
  const ex = [], ey = [];
  for (const e of g.edges) {
    const a = pos.get(e.source), b = pos.get(e.target);
    if (!a || !b) continue;
    ex.push(a.x, b.x, null); ey.push(a.y, b.y, null);
  }
  const nodes = g.nodes;
  const traces = [
    { x: ex, y: ey, mode: "lines", line: { color: "#b6bec9", width: 1.5 }, hoverinfo: "skip", showlegend: false },
    { x: nodes.map((n) => n.x), y: nodes.map((n) => n.y), mode: "markers+text", type: "scatter",
      text: nodes.map((n) => ptext(n.name)), textposition: nodes.map((n) => (n.kind === "sensor" ? "middle right" : "bottom center")),
      textfont: { size: nodes.map((n) => (n.kind === "sensor" ? 10 : 12)) }, customdata: nodes.map((n) => n.id),
      hovertext: nodes.map((n) => ptext(`${n.name} (${n.kind})${n.status === "alert" ? " — ALERT" : ""}`)), hoverinfo: "text",
      marker: { size: nodes.map((n) => (n.kind === "sensor" ? 9 : 18)), symbol: nodes.map((n) => KIND_SYMBOL[n.kind] || "circle"),
        color: nodes.map((n) => STATUS_COLOR[n.status] || STATUS_COLOR.idle), line: { width: 1, color: "#374151" } },
      showlegend: false },
  ];
  const layout = { margin: { l: 10, r: 10, t: 10, b: 10 }, xaxis: { visible: false }, yaxis: { visible: false, scaleanchor: g.geographic ? "x" : undefined },
    hovermode: "closest", dragmode: "pan", plot_bgcolor: "#fff" };
  Plotly.react("graph", traces, layout, { displaylogo: false, responsive: true });
  const gd = $("#graph");
  gd.removeAllListeners?.("plotly_click");
  gd.on("plotly_click", (ev) => { const p = ev.points.find((q) => q.customdata); if (p) showNode(p.customdata); });
  $("#graph").dataset.nodes = nodes.length;
}

async function showNode(id) {
  const panel = $("#node-panel");
  panel.innerHTML = "";
  const n = await api(`/api/twins/${enc(S.twin)}/nodes/${enc(id)}`);
  panel.append(el("h2", { "data-testid": "node-title" }, `${n.name || n.id}`), el("p", { class: "muted" }, `${n.id} · ${n.kind}`));
  if (n.description) panel.append(el("p", {}, n.description));
  if (n.parameters.length) {
    const kv = el("div", { class: "kv", "data-testid": "node-params" });
    for (const p of n.parameters) {
      const v = p.value !== null ? `${fmt(p.value)} ${p.unit || ""}` : (p.distribution ? distText(p.distribution, p.unit) : "–");
      kv.append(el("span", { class: "k", title: p.description || "" }, p.name), el("span", {}, v));
    }
    panel.append(el("h3", {}, "Parameters"), kv);
  }
  if (n.signals.length) {
    panel.append(el("h3", {}, "Signals (last 15 min)"));
    const box = el("div", { class: "chart", id: "node-chart", "data-testid": "node-chart" });
    panel.append(box);
    const series = await Promise.all(n.signals.slice(0, 6).map((s) =>
      api(`/api/twins/${enc(S.twin)}/signals/${enc(s.node)}/${enc(s.signal)}?start=${enc("-15 min")}&limit=2000`)
        .then((r) => ({ ...r, unit: s.unit }))));
    Plotly.react(box, series.map((r) => ({ x: r.t, y: r.value, name: ptext(`${r.signal} (${r.unit})`), mode: "lines" })),
      { margin: { l: 40, r: 10, t: 10, b: 30 }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
  } else {
    panel.append(el("p", { class: "muted" }, "No signals observe this node."));
  }
}

// -- live values ----------------------------------------------------------------------------------------
function renderLatest() {
  const body = $("#latest-body");
  body.innerHTML = "";
  for (const s of S.signals) {
    const key = `${s.node}.${s.signal}`;
    const cur = S.latest.get(key);
    body.append(el("tr", { "data-testid": "latest-row" },
      el("td", {}, s.node), el("td", {}, s.signal),
      el("td", { class: "num", "data-testid": `value-${key}` }, cur ? fmt(cur.value) : "–"),
      el("td", {}, s.unit || ""), el("td", { class: "num", "data-age": key }, cur && cur.age != null ? `${fmt(cur.age, 2)} s` : "–"),
      el("td", { class: "status-" + (cur ? "fresh" : "missing") }, cur ? "live" : "missing")));
  }
  $("#live-status").textContent = S.signals.length ? `${S.signals.length} signals` : "This twin has no signals.";
}

function renderLiveCharts() {
  const box = $("#live-charts");
  for (const s of S.signals.slice(0, 12)) {
    const key = `${s.node}.${s.signal}`;
    if (S.charts.has(key)) continue;
    const div = el("div", { class: "chart", "data-testid": `chart-${key}` });
    box.append(el("div", { class: "panel" }, el("strong", {}, `${s.node} · ${s.signal}`), el("span", { class: "muted" }, ` ${s.unit || ""}`), div));
    S.charts.set(key, { div, x: [], y: [] });
    api(`/api/twins/${enc(S.twin)}/signals/${enc(s.node)}/${enc(s.signal)}?start=${enc("-5 min")}&limit=600`).then((r) => {
      const c = S.charts.get(key); if (!c) return;
      c.x = r.t.concat(c.x); c.y = r.value.concat(c.y);
      Plotly.react(div, [{ x: c.x, y: c.y, mode: "lines", line: { width: 1.5 } }],
        { margin: { l: 45, r: 10, t: 5, b: 30 }, height: 220 }, { displaylogo: false, responsive: true, staticPlot: false });
    });
  }
}

function onValues(ev) {
  if (ev.twin !== S.twin) return;
  const now = Date.now() / 1000;
  for (const [node, signal, t, value, quality] of ev.data.samples) {
    if (quality !== 0) continue;
    const key = `${node}.${signal}`;
    const cur = S.latest.get(key);
    if (!cur || typeof cur.t !== "number" || t >= cur.t) S.latest.set(key, { t, value, age: now - t });
    const c = S.charts.get(key);
    if (c) { c.x.push(new Date(t * 1000).toISOString()); c.y.push(value); c.dirty = true; }
  }
  scheduleRefresh();
}
function scheduleRefresh() {
  if (S.pendingPlot) return;
  S.pendingPlot = true;
  setTimeout(() => {
    S.pendingPlot = false;
    for (const [key, cur] of S.latest) {
      const cell = document.querySelector(`[data-testid="value-${CSS.escape(key)}"]`);
      if (cell) { cell.textContent = fmt(cur.value); cell.nextElementSibling.nextElementSibling.textContent = typeof cur.t === "number" ? `${fmt(Date.now() / 1000 - cur.t, 2)} s` : "–"; cell.parentElement.lastElementChild.textContent = "live"; cell.parentElement.lastElementChild.className = "status-fresh"; }
    }
    if ($("#tab-live").classList.contains("active")) {
      for (const c of S.charts.values()) {
        if (!c.dirty) continue;
        c.dirty = false;
        if (c.x.length > 900) { c.x = c.x.slice(-600); c.y = c.y.slice(-600); }
        Plotly.react(c.div, [{ x: c.x, y: c.y, mode: "lines", line: { width: 1.5 } }], { margin: { l: 45, r: 10, t: 5, b: 30 }, height: 220 }, { displaylogo: false, responsive: true });
      }
    }
  }, 500);
}

// -- alerts -------------------------------------------------------------------------------------------
// what an alert carries: the likely fault with its probability, the remaining life, past work orders
function diagnosisCell(a) {
  const d = a.diagnosis;
  const cell = el("td", { "data-testid": "alert-diagnosis" });
  if (!d) { cell.append(el("span", { class: "muted" }, "–")); return cell; }
  if (d.state === "done" && d.fault !== "unknown") {
    cell.append(el("strong", {}, d.name || d.fault), ` p=${fmt(d.probability, 2)}`);
  } else if (d.state === "done") {
    cell.append(el("strong", {}, "unknown"), el("div", { class: "muted small" }, d.reason || ""));
  } else {
    const text = d.state === "pending" ? "diagnosing…" : d.state === "not applicable" ? "drift from the twin" : `unknown (${d.detail || d.state})`;
    cell.append(el("span", { class: "muted", title: d.detail || "" }, text));
  }
  const r = a.remaining_life;
  if (r) {
    cell.append(el("div", { class: "muted small", "data-testid": "alert-rul" }, r.state === "done"
      ? `remaining life ${fmt(r.rul, 3)} ${r.unit} [${fmt(r.lower, 3)}, ${fmt(r.upper, 3)}] (${r.node})`
      : r.state === "none" ? "no RUL model" : `remaining life: ${r.detail}`));
  }
  return cell;
}

function workOrdersCell(a) {
  const w = a.work_orders;
  const cell = el("td", { "data-testid": "alert-work-orders" });
  if (!w) return cell;
  if (!w.orders.length) { cell.append(el("span", { class: "muted" }, w.ranked)); return cell; }
  const list = el("ul", { class: "orders", title: w.ranked });
  for (const o of w.orders) list.append(el("li", { "data-testid": "alert-work-order" }, el("span", { class: "muted" }, `${o.date || "undated"} `), o.text));
  cell.append(list);
  return cell;
}

async function loadAlerts() {
  S.alerts = await api(`/api/alerts?limit=200${$("#alerts-open").checked ? "&open=true" : ""}`);
  const body = $("#alerts-body");
  body.innerHTML = "";
  for (const a of S.alerts) {
    const contrib = (a.contributions || []).map(([node, sig, share]) => `${node}.${sig} ${Math.round(share * 100)}%`).join(", ");
    const ack = a.acked_at ? el("span", { class: "muted" }, `acked by ${a.acked_by}`)
      : el("button", { "data-testid": "ack", onclick: async () => { await api(`/api/alerts/${a.id}/ack`, { method: "POST", body: "{}" }); loadAlerts(); } }, "Acknowledge");
    body.append(el("tr", { class: a.ended ? "" : "open", "data-testid": "alert-row", "data-node": a.node || "", "data-twin": a.twin, "data-source": a.source || "" },
      el("td", {}, a.id), el("td", {}, a.twin), el("td", {}, (a.started || "").replace("T", " ").slice(0, 19)),
      el("td", { "data-testid": "alert-where" }, `${a.node}.${a.signal}`), el("td", { class: "num" }, `${fmt(a.score, 3)} / ${fmt(a.threshold, 3)}`),
      el("td", {}, contrib), diagnosisCell(a), workOrdersCell(a), el("td", {}, a.ended ? "cleared" : "open"), el("td", {}, ack)));
  }
  const open = S.alerts.filter((a) => !a.ended && !a.acked_at).length;
  $("#alert-count").textContent = open;
  $("#alert-count").classList.toggle("zero", open === 0);
}
$("#alerts-open").addEventListener("change", loadAlerts);

async function loadWarnings() {
  const w = await api(`/api/twins/${enc(S.twin)}/warnings`).catch(() => null);
  renderWarnings(w);
}
function renderWarnings(w) {
  const box = $("#warn-body");
  if (!w || !w.events || !w.events.length) { box.textContent = w && w.error ? w.error : "No early warning yet."; return; }
  const t = el("table", { class: "grid" }, el("tr", {}, ...Object.keys(w.events[0]).map((k) => el("th", {}, k))));
  for (const r of w.events) t.append(el("tr", {}, ...Object.values(r).map((v) => el("td", { class: typeof v === "number" ? "num" : "" }, fmt(v)))));
  box.innerHTML = ""; box.append(el("p", { class: "muted" }, `within ${fmt(w.horizon_h)} h, from the synced state`), t);
}
$("#warn-run").addEventListener("click", async () => {
  $("#warn-body").textContent = "running…";
  try { renderWarnings(await api(`/api/twins/${enc(S.twin)}/warnings`, { method: "POST" })); }
  catch (e) { $("#warn-body").textContent = e.message; }
});

// -- scenarios as jobs ----------------------------------------------------------------------------------
function setupScenario(info) {
  const nodes = S.graph.nodes;
  const kinds = info.engine === "optimize" ? ["optimize"] : ["simulate", "schedule", "warn"];
  if (nodes.some((n) => n.kind === "depot")) kinds.push("route");
  const sel = $("#job-kind"); sel.innerHTML = "";
  for (const k of kinds) sel.append(el("option", { value: k, text: k }));
  let example;
  if (info.engine === "optimize") {
    const sup = nodes.filter((n) => n.kind === "supplier").pop() || nodes[0];
    example = { name: "lose_supplier", interventions: [{ op: "remove_node", target: sup.id }] };
  } else {
    const st = nodes.find((n) => ["station", "pump"].includes(n.kind)) || nodes[0];
    example = { name: `${st.id}_down`, interventions: [{ op: "outage", target: st.id, start: "1 h", duration: "2 h" }] };
  }
  S.examples = {
    scenario: JSON.stringify(example, null, 2),
    // a schedule job takes orders (the jobs-file format) instead of a scenario
    schedule: JSON.stringify({ time_unit: "min", orders: [
      { id: "A-1", quantity: 60, due: "4 h", weight: 2 }, { id: "A-2", quantity: 40, due: "3 h" },
      { id: "A-3", quantity: 80, release: "30 min", due: "6 h" }, { id: "A-4", quantity: 30, due: "2 h", weight: 3 }] }, null, 2),
    route: "",
  };
  const labels = { schedule: "Orders (jobs-file format, JSON)", route: "Nothing to set: routes from the twin's depot to its customers" };
  sel.onchange = () => {
    $("#job-scenario").value = S.examples[sel.value] ?? S.examples.scenario;
    $("#job-input-label").textContent = labels[sel.value] || "Interventions (scenario language, JSON)";
  };
  sel.onchange();
  $("#job-result").innerHTML = '<p class="muted">Run a scenario to compare it with the baseline.</p>';
}

$("#job-run").addEventListener("click", async () => {
  let scenario = null;
  const text = $("#job-scenario").value.trim();
  try { scenario = text ? JSON.parse(text) : null; } catch (e) { $("#job-status").textContent = "Interventions are not valid JSON: " + e.message; return; }
  const kind = $("#job-kind").value;
  const body = { kind, scenario, options: { reps: Number($("#job-reps").value), horizon: $("#job-horizon").value } };
  if (kind === "schedule") { body.scenario = null; body.options = { orders: scenario }; }
  if (kind === "route") { body.scenario = null; body.options = {}; }
  $("#job-status").textContent = "submitting…";
  $("#job-status").classList.remove("error");
  try {
    S.job = await api(`/api/twins/${enc(S.twin)}/jobs`, { method: "POST", body: JSON.stringify(body) });
    $("#job-cancel").disabled = false;
    trackJob(S.job.id);
  } catch (e) { $("#job-status").textContent = e.message; $("#job-status").classList.add("error"); }
});
$("#job-cancel").addEventListener("click", async () => { if (S.job) await api(`/api/jobs/${S.job.id}`, { method: "DELETE" }); });

async function trackJob(id) {
  for (;;) {
    const j = await api(`/api/jobs/${id}`);
    $("#job-progress").value = j.progress;
    $("#job-status").textContent = `${j.kind}: ${j.status}${j.message ? " — " + j.message : ""}${j.error ? " — " + j.error : ""}`;
    if (["done", "failed", "cancelled"].includes(j.status)) {
      $("#job-cancel").disabled = true;
      if (j.status === "done") renderResult(j);
      return;
    }
    await new Promise((r) => setTimeout(r, 400));
  }
}

const HEADLINE = ["throughput", "output", "wip", "cycle_time", "service_level", "energy", "cost", "profit", "downtime", "failures"];
function renderResult(j) {
  const box = $("#job-result"); box.innerHTML = "";
  const r = j.result;
  if (j.kind === "simulate" && r.paired) {
    box.append(el("h2", {}, `${r.scenario} vs baseline`), el("p", { class: "muted" }, (r.descriptions || []).join("; ") + " — paired replications, 95% CI"));
    const rows = r.paired.filter((p) => p.node === "" && HEADLINE.includes(p.kpi) && p.baseline);
    const chart = el("div", { class: "chart", "data-testid": "comparison-chart" });
    box.append(el("h3", {}, "Change against the baseline (%, with the 95% CI)"), chart);
    const pct = (x, p) => (100 * x) / Math.abs(p.baseline);
    Plotly.react(chart, [{
      type: "bar", orientation: "h", y: rows.map((p) => ptext(p.kpi)), x: rows.map((p) => pct(p.difference, p)),
      marker: { color: "#1f6feb" },
      error_x: { type: "data", symmetric: false, array: rows.map((p) => pct(p.ci_high - p.difference, p)), arrayminus: rows.map((p) => pct(p.difference - p.ci_low, p)) },
      hovertext: rows.map((p) => ptext(`${p.kpi}: ${fmt(p.baseline)} → ${fmt(p.scenario)} ${p.unit}`)), hoverinfo: "text",
    }], { margin: { l: 110, r: 20, t: 10, b: 40 }, xaxis: { ticksuffix: "%", zeroline: true } }, { displaylogo: false, responsive: true });
    box.append(table(r.paired.filter((p) => p.node === "").map((p) => ({ kpi: p.kpi, unit: p.unit, baseline: p.baseline, scenario: p.scenario, difference: p.difference, "CI low": p.ci_low, "CI high": p.ci_high })), "comparison-table"));
  } else if (j.kind === "simulate") {
    box.append(el("h2", {}, "Baseline"), table(r.baseline.filter((p) => p.node === "").map((p) => ({ kpi: p.kpi, unit: p.unit, mean: p.mean, "CI low": p.ci_low, "CI high": p.ci_high })), "baseline-table"));
  } else if (j.kind === "optimize") {
    if (!r.feasible) { box.append(el("h2", { class: "error" }, "Infeasible"), el("pre", {}, JSON.stringify(r.infeasible, null, 2))); return; }
    const plan = r.plan;
    box.append(el("h2", {}, `Plan: ${fmt(plan.objective)} ${plan.objective_unit}`));
    if (r.comparison) {
      box.append(el("p", { "data-testid": "objective-delta" }, `Change against the baseline: ${fmt(r.comparison.objective_delta)} ${plan.objective_unit}`));
      const chart = el("div", { class: "chart", "data-testid": "comparison-chart" });
      box.append(chart);
      const cd = r.comparison.cost_deltas;
      Plotly.react(chart, [{ type: "bar", x: Object.keys(cd).map(ptext), y: Object.values(cd) }], { margin: { l: 50, r: 10, t: 10, b: 40 } }, { displaylogo: false, responsive: true });
    }
    const sankey = el("div", { class: "chart tall", "data-testid": "flow-sankey" });
    box.append(el("h3", {}, "Flows"), sankey);
    const ids = [...new Set(plan.flows.flatMap((f) => [f.source, f.target]))];
    const flows = plan.flows.filter((f) => f.flow > 1e-9);
    Plotly.react(sankey, [{ type: "sankey", node: { label: ids.map(ptext), pad: 12 }, link: { source: flows.map((f) => ids.indexOf(f.source)), target: flows.map((f) => ids.indexOf(f.target)), value: flows.map((f) => f.flow), label: flows.map((f) => ptext(f.product || "")) } }],
      { margin: { l: 10, r: 10, t: 10, b: 10 } }, { displaylogo: false, responsive: true });
    box.append(table(flows.map((f) => ({ lane: f.edge, product: f.product, flow: f.flow, "cost/unit": f.cost_per_unit, transport: f.transport_cost })), "flow-table"));
  } else if (j.kind === "route") {
    const plan = r.plan;
    box.append(el("h2", {}, `${plan.vehicles_used} routes, ${fmt(plan.distance)} ${plan.distance_unit}, ${fmt(plan.cost)} ${plan.currency}`));
    const pos = new Map(S.graph.nodes.map((n) => [n.id, n]));
    const depot = S.graph.nodes.find((n) => n.kind === "depot");
    const map = el("div", { class: "chart tall", "data-testid": "route-map" });
    box.append(map);
    const traces = plan.routes.map((rt) => {
      const ids = [depot.id, ...rt.stops, depot.id];
      return { x: ids.map((i) => pos.get(i)?.x), y: ids.map((i) => pos.get(i)?.y), mode: "lines+markers", name: ptext(`van ${rt.vehicle}: ${fmt(rt.distance)} ${plan.distance_unit}, load ${rt.load}`), text: ids.map(ptext), hoverinfo: "text+name" };
    });
    traces.push({ x: [depot.x], y: [depot.y], mode: "markers+text", text: [ptext(depot.name)], textposition: "top center", marker: { size: 16, symbol: "star", color: "#111827" }, name: "depot" });
    Plotly.react(map, traces, { margin: { l: 40, r: 10, t: 10, b: 30 }, xaxis: { title: "longitude" }, yaxis: { title: "latitude", scaleanchor: "x" }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
    box.append(table(plan.routes.map((rt) => ({ van: rt.vehicle, stops: rt.stops.join(" → "), load: rt.load, distance: rt.distance, cost: rt.cost })), "route-table"));
  } else if (j.kind === "schedule") {
    const sch = r.schedule;
    box.append(el("h2", {}, `Schedule: ${sch.objective} ${fmt(sch.objective_value)} ${sch.time_unit} (${sch.status}, bound ${fmt(sch.bound)}, gap ${fmt(100 * (sch.gap || 0), 3)}%)`),
      el("p", { class: "muted" }, `best dispatching rule: ${fmt(r.dispatch.objective_value)} ${sch.time_unit}`));
    const gantt = el("div", { class: "chart tall", "data-testid": "schedule-gantt" });
    box.append(gantt);
    const jobs = [...new Set(sch.operations.map((o) => o.job))];
    Plotly.react(gantt, jobs.map((job) => {
      const ops = sch.operations.filter((o) => o.job === job);
      return { type: "bar", orientation: "h", name: ptext(job), y: ops.map((o) => ptext(o.station)), base: ops.map((o) => o.start), x: ops.map((o) => o.end - o.start),
        hovertext: ops.map((o) => ptext(`${job} on ${o.station}: ${fmt(o.start)}–${fmt(o.end)} ${sch.time_unit}`)), hoverinfo: "text" };
    }), { barmode: "overlay", margin: { l: 100, r: 10, t: 10, b: 40 }, xaxis: { title: ptext(sch.time_unit) }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
  } else {
    box.append(el("pre", {}, JSON.stringify(r, null, 2).slice(0, 20000)));
  }
}
function table(rows, testid) {
  if (!rows.length) return el("p", { class: "muted" }, "nothing");
  const t = el("table", { class: "grid", "data-testid": testid }, el("tr", {}, ...Object.keys(rows[0]).map((k) => el("th", {}, k))));
  for (const r of rows) t.append(el("tr", {}, ...Object.values(r).map((v) => el("td", { class: typeof v === "number" ? "num" : "" }, fmt(v)))));
  return t;
}

// -- ask -------------------------------------------------------------------------------------------------
async function loadExamples(name) {
  const box = $("#ask-examples"); box.innerHTML = "";
  const ex = await api(`/api/twins/${enc(name)}/examples`).catch(() => []);
  for (const q of ex) box.append(el("button", { type: "button", onclick: () => { $("#ask-input").value = q; } }, q));
}
$("#ask-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("#ask-input").value.trim(); if (!q) return;
  const chat = $("#chat");
  chat.append(el("div", { class: "msg q" }, q));
  const wait = el("div", { class: "msg a muted" }, "running the twin…"); chat.append(wait);
  $("#ask-input").value = "";
  try {
    const r = await api(`/api/twins/${enc(S.twin)}/ask`, { method: "POST", body: JSON.stringify({ question: q }) });
    wait.replaceWith(answer(r));
  } catch (err) { wait.replaceWith(el("div", { class: "msg a declined error" }, err.message)); }
  chat.scrollTop = chat.scrollHeight;
});
function answer(r) {
  const box = el("div", { class: "msg a" + (r.status === "declined" ? " declined" : ""), "data-testid": "ask-answer", "data-status": r.status });
  if (r.status === "declined") {
    box.append(el("strong", {}, `Declined (${r.reason}): `), r.detail || "");
    return box;
  }
  box.append(el("pre", {}, r.answer || ""));
  if (r.interventions && r.interventions.length) {
    box.append(el("div", { class: "muted" }, "Interventions run:"), el("ul", { class: "interventions", "data-testid": "ask-interventions" }, ...r.interventions.map((i) => el("li", {}, i))));
  }
  for (const o of r.outcomes || []) {
    box.append(table([{ kpi: o.kpi, unit: o.unit, baseline: o.baseline, scenario: o.scenario, difference: o.delta, "CI low": o.ci ? o.ci[0] : null, "CI high": o.ci ? o.ci[1] : null }], "ask-outcome"));
  }
  if (r.notes && r.notes.length) box.append(el("p", { class: "muted" }, r.notes.join(" ")));
  box.append(el("details", {}, el("summary", {}, `plan (${r.chosen_by === "reading" ? "read from the question" : "chosen by the model between readings"})`), el("pre", { "data-testid": "ask-plan" }, JSON.stringify(r.plan, null, 2))));
  return box;
}

// -- audit -------------------------------------------------------------------------------------------------
async function loadAudit() {
  const rows = await api("/api/audit?limit=100").catch((e) => { $("#audit-body").replaceChildren(el("tr", {}, el("td", { colspan: 7 }, e.message))); return null; });
  if (!rows) return;
  const body = $("#audit-body"); body.innerHTML = "";
  for (const a of rows) body.append(el("tr", { "data-testid": "audit-row" }, el("td", {}, (a.ts || "").replace("T", " ").slice(0, 19)), el("td", {}, a.kind), el("td", {}, a.model),
    el("td", {}, a.outcome), el("td", { class: "num" }, `${a.prompt_tokens ?? "–"} / ${a.completion_tokens ?? "–"}`), el("td", { class: "num" }, a.latency_s != null ? `${fmt(a.latency_s, 3)} s` : "–"),
    el("td", {}, (a.prompt || "").slice(0, 160))));
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No model calls yet.")));
}

// -- the live stream ------------------------------------------------------------------------------------------
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/api/stream?topics=values,alerts,jobs,status,warnings${S.key ? "&key=" + enc(S.key) : ""}`;
  const sock = new WebSocket(url);
  S.socket = sock;
  sock.onopen = () => { $("#conn").textContent = "live"; $("#conn").classList.add("on"); };
  sock.onclose = () => { $("#conn").textContent = "offline"; $("#conn").classList.remove("on"); setTimeout(connect, 2000); };
  sock.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.topic === "values") onValues(ev);
    else if (ev.topic === "alerts") { loadAlerts(); if (ev.twin === S.twin && !["acked", "enriched"].includes(ev.data.event)) refreshGraph(); }
    else if (ev.topic === "warnings" && ev.twin === S.twin) renderWarnings(ev.data);
  };
}
async function refreshGraph() { S.graph = await api(`/api/twins/${enc(S.twin)}/graph`); drawGraph(); }

init().catch((e) => { document.body.prepend(el("p", { class: "error", "data-testid": "fatal" }, e.message)); });
