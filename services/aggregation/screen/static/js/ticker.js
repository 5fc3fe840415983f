/** The ticker of the latest alerts and milestones along the bottom, and a milestone's celebration. */
import { $, el } from "./dom.js";

const KIND_ZH = {
  milestone: "里程碑", sent_back: "退回修改", overdue: "逾期未报", escalation: "逾期督办",
  rejection: "校验未通过", reminder: "报表提醒",
};
const SHOWN = 12;
const SECONDS_PER_ITEM = 7;
const CELEBRATE_MS = 9000;
let celebrateTimer = null;

function item(alert, ref) {
  const who = alert.unit_id ? ref.unitName(alert.unit_id) : "全市";
  return el("li", { class: `t-${alert.kind}`, "data-kind": alert.kind },
    el("b", {}, KIND_ZH[alert.kind] || alert.kind), el("span", { class: "who" }, who), alert.message_zh || "");
}

/** Newest first (a snapshot lists them newest first, live ones are appended: sort by time); the
 * list is drawn twice so the scroll loops without a gap. */
export function renderTicker(state, ref) {
  const latest = [...state.alerts]
    .sort((a, b) => String(b.raised_at || "").localeCompare(String(a.raised_at || "")))
    .slice(0, SHOWN);
  const track = $("ticker-track");
  const key = latest.map((a) => a.id).join(",");
  if (track.dataset.key === key) return;
  track.dataset.key = key;
  if (!latest.length) {
    track.replaceChildren(el("li", { class: "t-none" }, "暂无提醒"));
    return;
  }
  track.replaceChildren(...latest.map((a) => item(a, ref)), ...latest.map((a) => item(a, ref)));
  track.style.animationDuration = `${Math.max(20, latest.length * SECONDS_PER_ITEM)}s`;
}

/** A milestone reached live gets the whole screen's attention for a few seconds. */
export function celebrate(alert) {
  if (!alert || alert.kind !== "milestone") return;
  const box = $("celebrate");
  $("celebrate-text").textContent = alert.message_zh || "里程碑达成";
  box.classList.remove("on");
  void box.offsetWidth; // restart the animation for a second milestone in a row
  box.classList.add("on");
  clearTimeout(celebrateTimer);
  celebrateTimer = setTimeout(() => box.classList.remove("on"), CELEBRATE_MS);
}
