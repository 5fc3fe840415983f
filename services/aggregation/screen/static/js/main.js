/** Boot of the big screen: reference data, counters, the live stream and the one-second tick. */
import { renderBars, renderTrend } from "./charts.js";
import { $, el } from "./dom.js";
import { FlipCounter } from "./flip.js";
import { local } from "./format.js";
import { Matrix, Ranking, renderFeed, renderHeader, renderOverdue, renderRate } from "./panels.js";
import { applyAlert, applyReturns, applySnapshot, applyTotals, campaignNow, emptyState } from "./state.js";
import { connectStream } from "./stream.js";

const STAGE_W = 1920;
const STAGE_H = 1080;
const DAY = 86400000;

function fitStage() {
  const scale = Math.min(window.innerWidth / STAGE_W, window.innerHeight / STAGE_H);
  $("stage").style.transform = `scale(${scale})`;
}

async function loadRefdata() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const answer = await fetch("/screen/refdata.json", { cache: "no-cache" });
      if (answer.ok) return await answer.json();
    } catch (err) {
      console.warn("screen: reference data unavailable", err);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(10, 2 ** attempt) * 1000));
  }
}

function lookups(raw) {
  const names = new Map(raw.units.map((u) => [u.unit_id, u.name_zh]));
  const periods = raw.campaign.periods;
  return {
    raw,
    tz: raw.campaign.timezone || "Asia/Shanghai",
    units: raw.units,
    districts: raw.units.filter((u) => u.kind === "district"),
    periods,
    unitName: (id) => names.get(id) || String(id ?? ""),
    focusName: (id) => raw.focus_areas[id] || String(id ?? ""),
    periodLabel: (id) => (periods.find((p) => p.period_id === id) || {}).label_zh || String(id ?? ""),
  };
}

function buildCounters(ref) {
  const counters = new Map();
  $("counters").replaceChildren(...ref.raw.headline.map((h) => {
    const digits = el("div", { class: "flip" });
    const card = el("div", { class: "counter", "data-metric": h.metric_id, "data-label": h.label_zh },
      el("div", { class: "name" }, h.label_zh), el("div", { class: "row" }, digits, el("span", { class: "unit" }, h.unit_zh)));
    const counter = new FlipCounter(digits, card);
    counter.set(0);
    counters.set(h.metric_id, counter);
    return card;
  }));
  return counters;
}

function trendDays(state, ref, now) {
  const today = local(now, ref.tz).date;
  const start = Date.parse(`${ref.raw.campaign.starts_on}T00:00:00Z`);
  const end = Date.parse(`${ref.raw.campaign.ends_on}T00:00:00Z`);
  const days = [];
  for (let t = start; t <= end; t += DAY) {
    const day = new Date(t).toISOString().slice(0, 10);
    const value = Number((state.by.day[day] || {}).activities) || 0;
    days.push({ day, value, label: `${Number(day.slice(5, 7))}/${Number(day.slice(8, 10))}`,
      state: day === today ? "today" : day > today ? "future" : "past" });
  }
  return days;
}

// The token arrives in the address (?token=, as `qm run` prints it); keep it for this tab only and take
// it out of the address bar, history and anything copied from it. A reload finds it in sessionStorage.
function takeToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    try { sessionStorage.setItem("qm.token", fromUrl); } catch (e) { /* storage off: the page still works until a reload */ }
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try { return sessionStorage.getItem("qm.token") || ""; } catch (e) { return ""; }
}

async function main() {
  fitStage();
  window.addEventListener("resize", fitStage);
  const token = takeToken();
  if (!token) $("lost-banner").textContent = "链接缺少 ?token= 参数，无法读取实时数据";
  const ref = lookups(await loadRefdata());
  if (ref.raw.campaign.title_zh) $("title").textContent = `${ref.raw.campaign.title_zh} · 实时数据`;
  const state = emptyState();
  const counters = buildCounters(ref);
  const ranking = new Ranking();
  const matrix = new Matrix(ref);
  let fresh = new Set();
  let pending = false;

  function render() {
    pending = false;
    const perfNow = performance.now();
    const now = campaignNow(state, perfNow);
    for (const [metric, counter] of counters) counter.set(state.totals[metric] || 0);
    renderBars($("districts"), ref.districts
      .map((d) => ({ key: d.unit_id, label: d.name_zh, value: Number((state.by.district[d.unit_id] || {}).activities) || 0 }))
      .sort((a, b) => b.value - a.value));
    const focusTotal = Object.keys(ref.raw.focus_areas)
      .reduce((sum, f) => sum + (Number((state.by.focus_area[f] || {}).activities) || 0), 0);
    renderBars($("focus"), Object.entries(ref.raw.focus_areas).map(([f, label]) => {
      const value = Number((state.by.focus_area[f] || {}).activities) || 0;
      return { key: f, label, value };
    }));
    $("trend-hint").textContent = focusTotal ? `合计 ${focusTotal} 场` : "";
    renderTrend($("trend"), trendDays(state, ref, now));
    renderFeed(state, ref, fresh);
    fresh = new Set();
    ranking.render(state, ref);
    matrix.render(state, ref);
    tick();
  }

  function tick() {
    const perfNow = performance.now();
    const now = campaignNow(state, perfNow);
    renderHeader(state, ref, now, perfNow);
    renderRate(state, ref, now);
    renderOverdue(state, ref, now);
  }

  function schedule() {
    // stream messages come at most ten a second; render once per burst, and at once (no rAF: a
    // wall display may run in a tab the browser thinks hidden)
    if (!pending) {
      pending = true;
      setTimeout(render, 0);
    }
  }

  const handlers = {
    snapshot: (data, at) => applySnapshot(state, data, at),
    totals: (data, at) => applyTotals(state, data, at).forEach((k) => fresh.add(k)),
    returns: (data, at) => applyReturns(state, data, at),
    alert: (data, at) => applyAlert(state, data, at),
  };

  connectStream(`/v1/stream?token=${encodeURIComponent(token)}`, {
    onMessage(type, data) {
      handlers[type](data, performance.now());
      schedule();
    },
    onState(connection, info) {
      // after a drop the page stays "lost" through its retries, until a snapshot proves it live again
      const lost = connection === "lost" || (connection === "connecting" && info.attempt > 0);
      document.body.dataset.connection = lost ? "lost" : connection;
      const conn = $("conn");
      if (connection === "live") conn.textContent = "实时连接正常";
      else if (!lost) conn.textContent = "正在连接…";
      else {
        conn.textContent = "连接中断";
        const retry = connection === "lost" ? `${Math.ceil(info.retryIn)} 秒后第 ${info.attempt} 次重连` : `正在第 ${info.attempt} 次重连`;
        if (token) $("lost-banner").textContent = `实时连接中断 · ${retry}`;
      }
      tick();
    },
  });
  render();
  setInterval(tick, 1000);
}

main();
