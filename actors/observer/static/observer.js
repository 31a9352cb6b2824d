// The observer page: renders the snapshots the server pushes over /api/events (SSE).
// Plain browser JavaScript, no library and no build step.
"use strict";

const $ = (id) => document.getElementById(id);
let selected = null;
let previous = null; // the last snapshot, for message rates

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1e-3) return `${(value * 1e6).toFixed(0)} µs`;
  if (value < 1) return `${(value * 1e3).toFixed(1)} ms`;
  return `${value.toFixed(2)} s`;
}

function renderNode(node) {
  const label = el("span", { class: "actor", "data-path": node.path, title: node.path },
    el("span", { class: "name" }, node.name),
    el("span", { class: "class" }, node.class || ""),
    el("span", { class: `status ${node.status}`, "data-status": node.status }, node.status),
    el("span", { class: `restarts${node.restarts ? " some" : ""}`, "data-restarts": String(node.restarts) },
      `restarts ${node.restarts}`),
    el("span", { class: "mailbox" }, `mailbox ${node.mailbox}`));
  if (node.supervisor) {
    label.append(el("span", { class: "sup" },
      `${node.supervisor.strategy}, ${node.supervisor.intensity}`));
  }
  if (node.path === selected) label.classList.add("selected");
  label.addEventListener("click", () => select(node.path));
  const item = el("li", {}, label);
  if (node.children.length) item.append(el("ul", {}, ...node.children.map(renderNode)));
  return item;
}

function renderStats(state) {
  const c = state.counters;
  let rate = "–";
  if (previous) {
    const dt = state.time - previous.time;
    if (dt > 0) rate = `${((c.messages_handled - previous.counters.messages_handled) / dt).toFixed(0)} /s`;
  }
  const h = state.latency.handle, a = state.latency.ask;
  const rows = [
    ["actors", c.actors], ["messages handled", c.messages_handled], ["rate", rate],
    ["handle p50 / p90 / p99", `${seconds(h.p50)} / ${seconds(h.p90)} / ${seconds(h.p99)}`],
    ["ask p50 / p90 / p99", `${seconds(a.p50)} / ${seconds(a.p90)} / ${seconds(a.p99)}`],
    ["mailboxes (all / deepest)", `${c.mailbox_depth} / ${c.mailbox_depth_max}`],
    ["failures", c.failures], ["restarts", c.restarts], ["dead letters", c.dead_letters],
  ];
  $("stats").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, String(v)))));
}

function renderFeed(entries) {
  const body = $("feed").tBodies[0];
  for (const e of entries) {
    body.prepend(el("tr", { class: `kind-${e.kind.replace(" ", "-")}` },
      el("td", {}, e.kind), el("td", {}, e.actor ?? `node ${e.node}`), el("td", {}, e.message_type || ""),
      el("td", {}, e.reason)));
  }
  while (body.rows.length > 200) body.deleteRow(-1);
}

const MEMBER_CLASS = { up: "running", unreachable: "restarting", down: "stopped" };

function renderCluster(cluster) {
  $("cluster-panel").hidden = !cluster;
  if (!cluster) return;
  $("members").replaceChildren(...cluster.members.map((m) =>
    el("li", { class: "member", "data-node": m.node },
      el("span", { class: "name" }, m.node),
      el("span", { class: `status ${MEMBER_CLASS[m.status] || "stopped"}`, "data-status": m.status }, m.status),
      el("span", { class: "since", title: new Date(m.since * 1000).toISOString() },
        `since ${new Date(m.since * 1000).toLocaleTimeString()}`),
      m.node === cluster.node ? el("span", { class: "here" }, "this node") : "")));
}

function render(state) {
  $("system").textContent = state.system;
  const health = $("health");
  health.textContent = state.health.ready ? "ready" : "not ready";
  health.className = `badge ${state.health.ready ? "ok" : "bad"}`;
  $("tree").replaceChildren(...state.tree.map(renderNode));
  renderStats(state);
  renderFeed(state.feed);
  renderCluster(state.cluster);
  previous = state;
  if (selected) showDetails(selected);
}

async function showDetails(path) {
  const response = await fetch(`/api/actor?path=${encodeURIComponent(path)}`);
  const box = $("details");
  if (!response.ok) {
    box.replaceChildren(el("p", { class: "hint" }, `${path}: no longer running`));
    return;
  }
  const d = await response.json();
  const m = d.mailbox;
  const rows = [
    ["path", d.path], ["class", `${d.module}.${d.class}`], ["status", d.status],
    ["mailbox", `${m.size} queued${m.maxsize === null ? "" : ` of ${m.maxsize}`}, high water ${m.high_water}`],
    ["received / handled", `${m.received} / ${m.handled}`],
    ["dropped / rejected", `${m.dropped} / ${m.rejected}`],
    ["watched by", d.watched_by.join(", ") || "nobody"],
    ["watching", d.watching.join(", ") || "nobody"],
  ];
  for (const [k, v] of Object.entries(d.info)) rows.push([k, typeof v === "string" ? v : JSON.stringify(v)]);
  const failures = d.recent_failures.map((f) => el("li", {}, `${f.message_type || "start"}: ${f.reason}`));
  box.replaceChildren(
    el("table", { id: "details-table" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, String(v))))),
    el("h2", {}, "Recent failures"),
    failures.length ? el("ul", {}, ...failures) : el("p", { class: "hint" }, "none"));
}

function select(path) {
  selected = path;
  for (const node of document.querySelectorAll(".actor")) {
    node.classList.toggle("selected", node.dataset.path === path);
  }
  showDetails(path);
}

const events = new EventSource("/api/events");
events.onopen = () => { $("connection").textContent = "live"; $("connection").className = "badge ok"; };
events.onerror = () => { $("connection").textContent = "disconnected"; $("connection").className = "badge bad"; };
events.onmessage = (message) => render(JSON.parse(message.data));
