import type { TimeWindowSpec } from '../types.js';
import type { Criterion } from './types.js';

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Day of week and minute of day of an instant in an IANA time zone (DST-aware, via Intl). */
export function localTime(at: Date, zone: string): { day: number; minute: number } {
  let format = formatters.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, format);
  }
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of format.formatToParts(at)) {
    if (part.type === 'weekday') day = WEEKDAYS[part.value] ?? 0;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

export function inWindow(at: Date, window: TimeWindowSpec): boolean {
  const local = localTime(at, window.zone);
  return window.days.includes(local.day) && local.minute >= window.fromMinute && local.minute < window.toMinute;
}

/** `during`: the request falls in at least one window. */
export function duringCriterion(windows: readonly TimeWindowSpec[]): Criterion {
  return { code: 'OUTSIDE_TIME_WINDOW', matches: (facts) => windows.some((w) => inWindow(facts.at, w)) };
}

/** `outside`: the request falls in none of the windows. */
export function outsideCriterion(windows: readonly TimeWindowSpec[]): Criterion {
  return { code: 'INSIDE_EXCLUDED_TIME', matches: (facts) => !windows.some((w) => inWindow(facts.at, w)) };
}
