/** Formatting for the wall: grouped integers, Chinese dates in the campaign's time zone, durations. */
const DAY = 86400000;
const HOUR = 3600000;
const MINUTE = 60000;

export function groupDigits(value) {
  const n = Math.round(Number(value) || 0);
  return n.toLocaleString("en-US");
}

export function number(value, valueType = "count") {
  const n = Number(value) || 0;
  return valueType === "amount" ? n.toFixed(2) : groupDigits(n);
}

const formatters = new Map();
function parts(ms, timeZone) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short", hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  const out = {};
  for (const p of f.formatToParts(new Date(ms))) out[p.type] = p.value;
  return out;
}

const WEEKDAYS = { Sun: "日", Mon: "一", Tue: "二", Wed: "三", Thu: "四", Fri: "五", Sat: "六" };

/** Wall-clock pieces of an instant in the campaign's zone: {date: "2022-09-05", hms, md, hm, longDate}. */
export function local(ms, timeZone) {
  const p = parts(ms, timeZone);
  const hms = `${p.hour}:${p.minute}:${p.second}`;
  const md = `${Number(p.month)}月${Number(p.day)}日`;
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    hms,
    hm: `${p.hour}:${p.minute}`,
    md,
    longDate: `${p.year}年${md} 星期${WEEKDAYS[p.weekday] || ""}`,
  };
}

/** A countdown: "3天 02:15:09" or "02:15:09". */
export function countdown(ms) {
  const t = Math.max(0, ms);
  const days = Math.floor(t / DAY);
  const pad = (n) => String(n).padStart(2, "0");
  const hms = `${pad(Math.floor((t % DAY) / HOUR))}:${pad(Math.floor((t % HOUR) / MINUTE))}:${pad(Math.floor((t % MINUTE) / 1000))}`;
  return days > 0 ? `${days}天 ${hms}` : hms;
}

/** How late, in words: "2天5小时", "3小时12分", "12分钟". */
export function lateness(ms) {
  const t = Math.max(0, ms);
  const days = Math.floor(t / DAY);
  const hours = Math.floor((t % DAY) / HOUR);
  const minutes = Math.floor((t % HOUR) / MINUTE);
  if (days > 0) return `${days}天${hours}小时`;
  if (hours > 0) return `${hours}小时${minutes}分`;
  return `${Math.max(1, minutes)}分钟`;
}

export function percent(rate) {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return "--";
  return `${Math.round(Math.min(1, Math.max(0, rate)) * 1000) / 10}%`;
}
