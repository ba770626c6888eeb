// How times, sizes and numbers are written for people. Times are shown in the appliance's
// time zone (its `time_zone` setting, learnt at start by app.js), not the browser's: a phone
// set to another zone still reads the shop's clock.

let timeZone;  // undefined: the browser's own, until the appliance's is known

/** Show every time in `zone` (an IANA name); false when this browser does not know it (the browser's is kept). */
export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat(undefined, {timeZone: zone || undefined});
    timeZone = zone || undefined;
    return true;
  } catch {  // a RangeError: the caller tells the owner (appliance-zone.js)
    timeZone = undefined;
    return false;
  }
}

export function currentTimeZone() {
  return timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** A Date from an RFC 3339 string or epoch seconds; null when absent or unreadable. */
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function epochSeconds(value) {
  const date = toDate(value);
  return date ? date.getTime() / 1000 : null;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.abs(seconds);
  if (s < 1) return `${seconds.toFixed(1)} s`;
  if (s < 90) return `${Math.round(seconds)} s`;
  if (s < 5400) return `${Math.round(seconds / 60)} min`;
  if (s < 172800) return `${(seconds / 3600).toFixed(s < 36000 ? 1 : 0)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** "3 min ago", or "never". */
export function ago(value, now = Date.now()) {
  const date = toDate(value);
  if (!date) return "never";
  const seconds = (now - date.getTime()) / 1000;
  if (seconds < 5) return "just now";
  return seconds < 0 ? `in ${duration(-seconds)}` : `${duration(seconds)} ago`;
}

export function dateTime(value) {
  const date = toDate(value);
  if (!date) return "—";
  return date.toLocaleString(undefined, {year: "numeric", month: "short", day: "numeric",
                                         hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone});
}

export function time(value) {
  const date = toDate(value);
  return date ? date.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit", timeZone}) : "—";
}

/** "14:03:27": hours, minutes and seconds, 24-hour, in the appliance's zone. */
export function clockTime(value) {
  const date = toDate(value);
  return date ? date.toLocaleTimeString("en-GB", {hour: "2-digit", minute: "2-digit", second: "2-digit",
                                                  hour12: false, timeZone}) : "—";
}

/** The wall clock of `value` in the appliance's zone as "YYYY-MM-DDTHH:MM" (a datetime-local input). */
export function wallClockInput(value) {
  const date = toDate(value);
  if (!date) return "";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    timeZone}).formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour === "24" ? "00" : parts.hour}:${parts.minute}`;
}

/** The moment a "YYYY-MM-DDTHH:MM" wall clock in the appliance's zone stands for, as RFC 3339. */
export function fromWallClockInput(text) {
  if (!text) return "";
  const asUtc = new Date(`${text}:00Z`);
  if (Number.isNaN(asUtc.getTime())) return "";
  // The zone's offset at that moment, found by reading the guess back (twice, for DST edges).
  let guess = asUtc.getTime();
  for (let i = 0; i < 2; i += 1) {
    const shown = new Date(`${wallClockInput(new Date(guess))}:00Z`).getTime();
    guess += asUtc.getTime() - shown;
  }
  return new Date(guess).toISOString();
}

export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = Number(n);
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function number(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "—";
  return Number(n).toLocaleString(undefined, {maximumFractionDigits: digits});
}

export function percent(fraction, digits = 0) {
  if (fraction === null || fraction === undefined) return "—";
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** "start_threshold" → "Start threshold". */
export function label(name) {
  const words = name.replace(/_/g, " ").replace(/\bs$/, "(s)");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
