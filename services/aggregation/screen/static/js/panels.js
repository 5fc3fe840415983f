/** The screen's panels: feed, ranking, reporting rate, overdue list, completeness matrix, header. */
import { $, el } from "./dom.js";
import { countdown, lateness, local, number, percent } from "./format.js";
import { activityKey } from "./state.js";

const FEED_ROW_PX = 70;
const OVERDUE_ROW_PX = 40;
const RANK_ROW_PX = 44;
const LATE = new Set(["overdue", "escalated"]);

export function renderFeed(state, ref, fresh) {
  const list = $("feed");
  if (!state.latest.length) {
    list.replaceChildren(el("li", { class: "empty" }, "暂无已受理的活动"));
    return;
  }
  list.replaceChildren(...state.latest.slice(0, Math.max(1, Math.floor(list.clientHeight / FEED_ROW_PX))).map((a) => {
    const when = a.campaign_time ? local(Date.parse(a.campaign_time), ref.tz) : null;
    const unitName = a.unit_name_zh || ref.unitName(a.unit_id);
    const district = a.district_id ? ref.unitName(a.district_id) : "";
    const people = a.metrics && a.metrics.participants ? ` · ${number(a.metrics.participants)}人次` : "";
    return el("li", { class: fresh.has(activityKey(a)) ? "fresh-item" : null },
      el("span", { class: "when" }, when ? when.hm : "", when ? el("br") : null, when ? when.md : ""),
      el("span", { class: "what", title: String(a.title ?? "") }, String(a.title ?? "")),
      el("span", { class: "who" },
        el("span", { class: "tag" }, ref.focusName(a.focus_area)),
        `${unitName}${district && district !== unitName ? ` · ${district}` : ""}${people}`));
  }));
}

export class Ranking {
  constructor() {
    this.offset = 0;
    setInterval(() => this.step(), 3000);
  }

  render(state, ref) {
    const rows = Object.entries(state.by.unit || {})
      .map(([unitId, m]) => ({ unitId, activities: Number(m.activities) || 0, participants: Number(m.participants) || 0 }))
      .filter((r) => r.activities || r.participants)
      .sort((a, b) => b.activities - a.activities || b.participants - a.participants || a.unitId.localeCompare(b.unitId));
    const track = $("ranking");
    if (!rows.length) {
      track.replaceChildren(el("li", { class: "empty" }, el("span"), "暂无数据"));
      return;
    }
    track.replaceChildren(...rows.map((r, i) => el("li", { "data-unit": r.unitId },
      el("span", { class: "rank" }, i + 1), el("span", { class: "who" }, ref.unitName(r.unitId)),
      el("span", { class: "n" }, number(r.activities)), el("span", { class: "n" }, number(r.participants)))));
    this.place();
  }

  step() {
    this.offset += 1;
    this.place();
  }

  place() {
    const track = $("ranking");
    const visible = Math.max(1, Math.floor(track.parentElement.clientHeight / RANK_ROW_PX));
    const span = track.children.length - visible;
    if (span <= 0) this.offset = 0;
    else if (this.offset > span) this.offset = 0;
    track.style.transform = `translateY(${-this.offset * RANK_ROW_PX}px)`;
  }
}

/** The period the office is chasing: the one whose deadline passed last, else the first upcoming. */
export function currentPeriod(ref, now) {
  const due = ref.periods.filter((p) => Date.parse(p.due_at) <= now);
  return due.length ? due[due.length - 1] : ref.periods[0] || null;
}

function completenessOf(state, ref, periodId) {
  const given = state.completeness[periodId];
  if (given) return given;
  // degrade: count from the returns we know when the stream sends no completeness for this period
  const counts = { expected: ref.units.length, filed_on_time: 0, filed_late: 0, overdue: 0, not_yet: 0 };
  for (const r of state.returns.values()) {
    if (r.period_id !== periodId) continue;
    if (r.status === "filed_on_time") counts.filed_on_time += 1;
    else if (r.status === "filed_late") counts.filed_late += 1;
    else if (LATE.has(r.status)) counts.overdue += 1;
  }
  counts.not_yet = counts.expected - counts.filed_on_time - counts.filed_late - counts.overdue;
  counts.rate = counts.expected ? (counts.filed_on_time + counts.filed_late) / counts.expected : null;
  return counts;
}

export function renderRate(state, ref, now) {
  const current = currentPeriod(ref, now);
  if (!current) return;
  const c = completenessOf(state, ref, current.period_id);
  const passed = Date.parse(current.due_at) <= now;
  const due = local(Date.parse(current.due_at), ref.tz);
  $("rate-period").textContent = `${current.label_zh} · ${passed ? "已截止" : `${due.md} ${due.hm} 截止`}`;
  $("rate-value").textContent = percent(c.rate);
  $("rate-value").className = `rate-value ${c.rate >= 0.9 ? "good" : c.rate >= 0.6 ? "fair" : passed ? "poor" : "fair"}`;
  $("rate-value").dataset.period = current.period_id;
  const filed = (c.filed_on_time || 0) + (c.filed_late || 0);
  $("rate-detail").textContent = `已报 ${filed} / ${c.expected ?? "--"} · 逾期 ${c.overdue ?? 0}`;
  $("rate-periods").replaceChildren(...ref.periods.map((p) => {
    const pc = completenessOf(state, ref, p.period_id);
    return el("div", { class: p.period_id === current.period_id ? "current" : null }, el("b", {}, percent(pc.rate)), p.label_zh);
  }));
}

export function renderOverdue(state, ref, now) {
  const late = [...state.returns.values()]
    .filter((r) => LATE.has(r.status))
    .map((r) => ({ ...r, lateMs: now - Date.parse(r.due_at) }))
    .sort((a, b) => b.lateMs - a.lateMs || a.unit_id.localeCompare(b.unit_id));
  $("overdue-count").textContent = late.length ? String(late.length) : "";
  const list = $("overdue");
  if (!late.length) {
    list.replaceChildren(el("li", { class: "empty" }, "当前无逾期单位"));
    return;
  }
  const fits = Math.max(1, Math.floor(list.clientHeight / OVERDUE_ROW_PX));
  const shown = late.length > fits ? late.slice(0, fits - 1) : late;
  const rows = shown.map((r) => el("li", { class: r.status, "data-unit": r.unit_id },
    el("span", { class: "who" }, r.status === "escalated" ? el("span", { class: "tag esc" }, "督办") : null, ref.unitName(r.unit_id)),
    el("span", { class: "per" }, ref.periodLabel(r.period_id)),
    el("span", { class: "late" }, lateness(r.lateMs))));
  if (shown.length < late.length) rows.push(el("li", {}, el("span", { class: "more" }, `……另有 ${late.length - shown.length} 个单位逾期`)));
  list.replaceChildren(...rows);
}

export class Matrix {
  /** One row per period, one cell per unit, units grouped by kind (districts, bureaus, associations, groups). */
  constructor(ref) {
    this.cells = new Map();
    const rows = ref.periods.map((p) => {
      const cells = el("div", { class: "cells" });
      let kind = null;
      for (const u of ref.units) {
        if (kind !== null && u.kind !== kind) cells.append(el("span", { class: "gap" }));
        kind = u.kind;
        const cell = el("span", { class: "cell", title: `${u.name_zh} ${p.label_zh}` });
        this.cells.set(`${u.unit_id}\u001f${p.period_id}`, cell);
        cells.append(cell);
      }
      const rate = el("span", { class: "pr" }, "--");
      rate.dataset.period = p.period_id;
      return el("div", { class: "mrow" }, el("span", { class: "pl" }, p.label_zh), cells, rate);
    });
    $("matrix").replaceChildren(...rows);
  }

  render(state, ref) {
    for (const [key, cell] of this.cells) {
      const r = state.returns.get(key);
      cell.className = `cell s-${r ? r.status : "not_due"}`;
    }
    for (const rate of $("matrix").querySelectorAll(".pr")) {
      rate.textContent = percent(completenessOf(state, ref, rate.dataset.period).rate);
    }
  }
}

export function renderHeader(state, ref, now, perfNow) {
  const t = local(now, ref.tz);
  $("clock").textContent = t.hms;
  $("clock-date").textContent = t.longDate;
  const next = nextDeadline(state, ref, now);
  const box = $("deadline-value").parentElement;
  if (next) {
    const left = Date.parse(next.due_at) - now;
    const d = local(Date.parse(next.due_at), ref.tz);
    $("deadline-label").textContent = `距${ref.periodLabel(next.period_id)}报表截止`;
    $("deadline-value").textContent = countdown(left);
    $("deadline-date").textContent = `${d.md} ${d.hm}`;
    box.classList.toggle("urgent", left < 86400000);
  } else {
    $("deadline-label").textContent = "报表截止";
    $("deadline-value").textContent = "全部已截止";
    $("deadline-date").textContent = "";
    box.classList.remove("urgent");
  }
  const fresh = $("fresh");
  if (!state.hasData) {
    fresh.textContent = "等待数据…";
    return;
  }
  const since = state.receivedAt === null ? 0 : Math.round((perfNow - state.receivedAt) / 1000);
  const asOf = state.asOf ? local(Date.parse(state.asOf), ref.tz) : null;
  const lag = state.lagS === null || state.lagS === undefined ? "" : ` · 滞后 ${Number(state.lagS).toFixed(1)} 秒`;
  const quiet = since >= 30 ? ` · ${since} 秒前收到` : "";
  fresh.textContent = asOf ? `数据截至 ${asOf.md} ${asOf.hms}${lag}${quiet}` : `暂无已受理数据${quiet}`;
  fresh.classList.toggle("stale", since >= 30 || document.body.dataset.connection !== "live");
}

function nextDeadline(state, ref, now) {
  const given = state.nextDeadline;
  if (given && Date.parse(given.due_at) > now) return given;
  return ref.periods.find((p) => Date.parse(p.due_at) > now) || null;
}
