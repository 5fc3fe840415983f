/** The screen's state, folded from /v1/stream messages (contract: docs/integration.md, "Live stream"). */
const DIMENSIONS = ["district", "focus_area", "unit", "day"];
const LATEST_KEPT = 30;

export function emptyState() {
  return {
    totals: {},
    by: Object.fromEntries(DIMENSIONS.map((d) => [d, {}])),
    latest: [],
    returns: new Map(),
    completeness: {},
    alerts: [],
    clock: null,
    nextDeadline: null,
    asOf: null,
    lagS: null,
    receivedAt: null,
    hasData: false,
  };
}

const returnKey = (r) => `${r.unit_id}\u001f${r.period_id}`;
const activityKey = (a) => `${a.unit_id}\u001f${a.report_id}`;

function mergeLatest(state, fresh) {
  // newest first; a newer version of the same activity replaces the older line
  const seen = new Set();
  const merged = [];
  for (const a of [...(fresh || []), ...state.latest]) {
    if (!a || typeof a !== "object") continue;
    const key = activityKey(a);
    if (seen.has(key)) continue;
    seen.add(key);
    merged.push(a);
  }
  state.latest = merged.slice(0, LATEST_KEPT);
}

function mergeReturns(state, returns) {
  for (const r of returns || []) if (r && r.unit_id && r.period_id) state.returns.set(returnKey(r), r);
}

function stamp(state, data, receivedAt) {
  if ("as_of" in data) state.asOf = data.as_of;
  if ("lag_s" in data) state.lagS = data.lag_s;
  state.receivedAt = receivedAt;
  state.hasData = true;
}

function setClock(state, clock, receivedAt) {
  if (clock && clock.now) state.clock = { now: Date.parse(clock.now), speed: Number(clock.speed) || 1, at: receivedAt };
}

export function applySnapshot(state, data, receivedAt) {
  const fresh = emptyState();
  Object.assign(state, fresh);
  state.totals = { ...(data.totals || {}) };
  for (const d of DIMENSIONS) state.by[d] = { ...((data.by || {})[d] || {}) };
  mergeLatest(state, data.latest);
  mergeReturns(state, data.returns);
  state.completeness = { ...(data.completeness || {}) };
  state.alerts = Array.isArray(data.alerts) ? data.alerts.slice(-50) : [];
  setClock(state, data.clock, receivedAt);
  state.nextDeadline = data.next_deadline || null;
  stamp(state, data, receivedAt);
}

export function applyTotals(state, data, receivedAt) {
  if (data.totals) state.totals = { ...data.totals };
  for (const [dim, groups] of Object.entries(data.by || {})) {
    state.by[dim] = { ...(state.by[dim] || {}), ...groups };
  }
  mergeLatest(state, data.latest);
  stamp(state, data, receivedAt);
  return (data.latest || []).map(activityKey);
}

export function applyReturns(state, data, receivedAt) {
  mergeReturns(state, data.returns);
  Object.assign(state.completeness, data.completeness || {});
  state.receivedAt = receivedAt;
}

export function applyAlert(state, data, receivedAt) {
  state.alerts = [...state.alerts, data].slice(-50);
  state.receivedAt = receivedAt;
}

/** Campaign time now, in epoch ms: the stream's clock advanced at its speed; real time without one. */
export function campaignNow(state, perfNow) {
  if (!state.clock) return Date.now();
  return state.clock.now + (perfNow - state.clock.at) * state.clock.speed;
}

export { activityKey };
