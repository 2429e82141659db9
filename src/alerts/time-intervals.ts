import type { TimeIntervalConfig } from './config.js';

/*
 * Alertmanager's time_intervals: a named list of windows; an instant is inside the named
 * interval when it is inside any window, and inside a window when every field given matches
 * (fields left out match everything). Times are read in the window's `location` (default UTC).
 */

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

interface LocalTime {
  year: number;
  month: number; // 1-12
  day: number;
  weekday: number; // 0 = sunday
  minuteOfDay: number;
  daysInMonth: number;
}

function localTime(at: Date, zone: string): LocalTime {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'long', hourCycle: 'h23' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const year = Number(parts.year);
  const month = Number(parts.month);
  return {
    year, month, day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(String(parts.weekday).toLowerCase()),
    minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute),
    daysInMonth: new Date(Date.UTC(year, month, 0)).getUTCDate(),
  };
}

function inRanges(value: number, specs: string[], parse: (s: string) => number): boolean {
  return specs.some((spec) => {
    const [a, b] = spec.split(':');
    const lo = parse(a!.trim());
    const hi = b === undefined ? lo : parse(b.trim());
    return value >= lo && value <= hi;
  });
}

const byName = (names: string[]) => (s: string) => {
  const i = names.indexOf(s.toLowerCase());
  return i >= 0 ? i + (names === MONTHS ? 1 : 0) : Number(s);
};

const hm = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));

export function inWindow(at: Date, w: TimeIntervalConfig): boolean {
  const t = localTime(at, w.location ?? 'UTC');
  if (w.times?.length && !w.times.some((r) => t.minuteOfDay >= hm(r.start_time) && t.minuteOfDay < hm(r.end_time))) return false;
  if (w.weekdays?.length && !inRanges(t.weekday, w.weekdays, byName(WEEKDAYS))) return false;
  if (w.months?.length && !inRanges(t.month, w.months, byName(MONTHS))) return false;
  if (w.years?.length && !inRanges(t.year, w.years, Number)) return false;
  if (w.days_of_month?.length) {
    // Negative days count from the month's end: -1 is the last day.
    const day = (s: string) => {
      const n = Number(s);
      return n < 0 ? t.daysInMonth + n + 1 : n;
    };
    if (!inRanges(t.day, w.days_of_month, day)) return false;
  }
  return true;
}

export type TimeIntervals = Map<string, TimeIntervalConfig[]>;

export function buildTimeIntervals(list: { name: string; time_intervals: TimeIntervalConfig[] }[]): TimeIntervals {
  return new Map(list.map((t) => [t.name, t.time_intervals]));
}

export function inNamedInterval(intervals: TimeIntervals, name: string, at: Date): boolean {
  return (intervals.get(name) ?? []).some((w) => inWindow(at, w));
}

/** Whether a route's notifications are held at this instant (muted, or outside its active times). */
export function routeMuted(intervals: TimeIntervals, mute: string[], active: string[], at: Date): boolean {
  if (mute.some((n) => inNamedInterval(intervals, n, at))) return true;
  if (active.length > 0 && !active.some((n) => inNamedInterval(intervals, n, at))) return true;
  return false;
}
