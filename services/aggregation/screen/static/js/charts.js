/** Hand-written charts: keyed horizontal bars and the daily trend as SVG (no chart library, no CDN). */
import { el, svg } from "./dom.js";
import { number } from "./format.js";

/** rows: [{key, label, value, note?}], kept as keyed DOM rows so widths animate between updates. */
export function renderBars(container, rows, { valueType = "count" } = {}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const existing = new Map([...container.children].map((n) => [n.dataset.key, n]));
  const ordered = rows.map((row) => {
    let node = existing.get(row.key);
    if (!node) {
      node = el("div", { class: "bar", "data-key": row.key },
        el("span", { class: "name" }), el("div", { class: "track" }, el("div", { class: "fill" })), el("span", { class: "num" }));
    }
    node.children[0].textContent = row.label;
    node.children[1].firstChild.style.width = `${(row.value / max) * 100}%`;
    node.children[2].textContent = number(row.value, valueType);
    node.dataset.value = String(row.value);
    return node;
  });
  ordered.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });
  while (container.children.length > ordered.length) container.lastChild.remove();
}

/** The smallest 4 x (1, 2 or 5 x 10^k) at or above `value`, so the four gridlines get round labels. */
function niceMax(value) {
  const quarter = Math.max(1, value / 4);
  const power = 10 ** Math.floor(Math.log10(quarter));
  const nice = [1, 2, 5, 10].map((m) => m * power).find((n) => n >= quarter);
  return nice * 4;
}

/** days: [{day, label, value, state: "past"|"today"|"future"}]; sized to the container. */
export function renderTrend(container, days) {
  const width = Math.max(200, container.clientWidth);
  const height = Math.max(100, container.clientHeight);
  const pad = { left: 56, right: 10, top: 28, bottom: 30 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(...days.map((d) => d.value)));
  const step = plotW / Math.max(1, days.length);
  const nodes = [];
  for (let i = 0; i <= 4; i += 1) {
    const y = pad.top + plotH - (plotH * i) / 4;
    nodes.push(svg("line", { class: "grid-line", x1: pad.left, x2: width - pad.right, y1: y, y2: y }));
    nodes.push(svg("text", { class: "axis", x: pad.left - 8, y: y + 6, "text-anchor": "end" }, number((max * i) / 4)));
  }
  let peak = null;
  days.forEach((d, i) => {
    const h = (d.value / max) * plotH;
    const x = pad.left + i * step + step * 0.15;
    const cls = d.state === "today" ? "col today" : d.state === "future" ? "col future" : "col";
    if (d.state === "today") nodes.push(svg("rect", { class: "today-band", x: pad.left + i * step, y: pad.top, width: step, height: plotH }));
    nodes.push(svg("rect", { class: cls, x, y: pad.top + plotH - Math.max(h, d.state === "future" ? 3 : 0), width: step * 0.7, height: Math.max(h, d.state === "future" ? 3 : 0), rx: 2 }));
    if (i % 5 === 0 || i === days.length - 1) {
      nodes.push(svg("text", { class: "axis", x: x + step * 0.35, y: height - 6, "text-anchor": "middle" }, d.label));
    }
    if (d.value > 0 && (!peak || d.value > peak.value)) peak = { ...d, x: x + step * 0.35, y: pad.top + plotH - h };
  });
  if (peak) nodes.push(svg("text", { class: "peak", x: peak.x, y: peak.y - 6, "text-anchor": "middle" }, number(peak.value)));
  container.replaceChildren(svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "每日活动趋势" }, ...nodes));
}
