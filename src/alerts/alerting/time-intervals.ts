/**
 * Alertmanager's time intervals: a named list of periods, each an AND of optional fields
 * (`times`, `weekdays`, `days_of_month`, `months`, `years`) read in its `location` (an IANA time
 * zone, UTC by default); a list inside a field is an OR. Used by routes as mute or active
 * intervals. Pure: `contains` takes the instant to test.
 */

export interface TimeRange {
  /** Minutes since midnight, [start, end). */
  startMinute: number;
  endMinute: number;
}

export interface IntRange {
  start: number;
  end: number;
}

export interface TimePeriod {
  times?: TimeRange[];
  /** 0 = Sunday ... 6 = Saturday. */
  weekdays?: IntRange[];
  /** 1..31, or negative counting from the month's end (-1 = last day). */
  daysOfMonth?: IntRange[];
  /** 1..12. */
  months?: IntRange[];
  years?: IntRange[];
  location: string;
}

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
export const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

export class IntervalError extends Error {}

/** `HH:MM` to minutes since midnight; 24:00 allowed as an end. */
export function parseClock(text: string, isEnd: boolean): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new IntervalError(`'${text}' is not a time of day (HH:MM)`);
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && (min !== 0 || !isEnd))) throw new IntervalError(`'${text}' is not a time of day (00:00 to 24:00)`);
  return h * 60 + min;
}

/** `monday:friday`, `saturday`, `1:5`, `-1`, `january:march`, `2026:2027`. */
export function parseRange(text: string, kind: 'weekdays' | 'days_of_month' | 'months' | 'years'): IntRange {
  const parts = text.split(':');
  if (parts.length > 2 || parts.some((p) => p.trim() === '')) throw new IntervalError(`'${text}' is not a ${kind} range`);
  const one = (p: string): number => {
    const s = p.trim().toLowerCase();
    if (kind === 'weekdays') {
      const i = WEEKDAYS.indexOf(s);
      if (i < 0) throw new IntervalError(`'${p}' is not a weekday`);
      return i;
    }
    if (kind === 'months') {
      const i = MONTHS.indexOf(s);
      if (i >= 0) return i + 1;
      const n = Number(s);
      if (Number.isInteger(n) && n >= 1 && n <= 12) return n;
      throw new IntervalError(`'${p}' is not a month`);
    }
    const n = Number(s);
    if (!Number.isInteger(n)) throw new IntervalError(`'${p}' is not a number`);
    if (kind === 'days_of_month' && (n === 0 || n < -31 || n > 31)) throw new IntervalError(`'${p}' is not a day of the month (1 to 31, or -1 to -31 from the end)`);
    if (kind === 'years' && n < 1) throw new IntervalError(`'${p}' is not a year`);
    return n;
  };
  const start = one(parts[0]);
  const end = parts.length === 2 ? one(parts[1]) : start;
  if (kind !== 'days_of_month' && end < start) throw new IntervalError(`'${text}': the range ends before it starts`);
  if (kind === 'days_of_month' && Math.sign(start) === Math.sign(end) && end < start) throw new IntervalError(`'${text}': the range ends before it starts`);
  return { start, end };
}

export function checkLocation(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new IntervalError(`'${tz}' is not a known time zone`);
  }
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: number;
  minute: number;
  daysInMonth: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(at: Date, tz: string): LocalTime {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'long' });
    formatters.set(tz, f);
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]));
  const year = Number(parts.year);
  const month = Number(parts.month);
  return {
    year,
    month,
    day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(String(parts.weekday).toLowerCase()),
    minute: Number(parts.hour) * 60 + Number(parts.minute),
    daysInMonth: new Date(Date.UTC(year, month, 0)).getUTCDate(),
  };
}

function inRanges(v: number, ranges: IntRange[] | undefined): boolean {
  return !ranges || ranges.some((r) => v >= r.start && v <= r.end);
}

function dayInRanges(t: LocalTime, ranges: IntRange[] | undefined): boolean {
  if (!ranges) return true;
  const abs = (d: number): number => (d < 0 ? t.daysInMonth + d + 1 : d);
  return ranges.some((r) => t.day >= abs(r.start) && t.day <= abs(r.end));
}

export function periodContains(p: TimePeriod, at: Date): boolean {
  const t = localTime(at, p.location);
  return (!p.times || p.times.some((r) => t.minute >= r.startMinute && t.minute < r.endMinute))
    && inRanges(t.weekday, p.weekdays)
    && dayInRanges(t, p.daysOfMonth)
    && inRanges(t.month, p.months)
    && inRanges(t.year, p.years);
}

/** A named interval contains `at` when any of its periods does. */
export function intervalContains(periods: readonly TimePeriod[], at: Date): boolean {
  return periods.some((p) => periodContains(p, at));
}
