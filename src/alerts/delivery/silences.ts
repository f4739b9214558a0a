/**
 * Silences in Alertmanager v2's shape (`{matchers: [{name, value, isRegex, isEqual}], startsAt,
 * endsAt, createdBy, comment}`), plus an optional recurring schedule: the silence then mutes only
 * inside those periods (Alertmanager's time-interval fields: times, weekdays, days_of_month,
 * months, years, location). Regular expressions are RE2 (linear time): a silence comes from the
 * API, and a hostile pattern must not hold the dispatcher. Pure.
 */
import { randomUUID } from 'node:crypto';

import type RE2 from 're2';

import { compilePattern } from '../../rules/condition-regex';
import { checkLocation, IntervalError, intervalContains, parseClock, parseRange, TimePeriod } from '../alerting/time-intervals';

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface RecurringPeriod {
  times?: Array<{ start_time: string; end_time: string }>;
  weekdays?: string[];
  days_of_month?: string[];
  months?: string[];
  years?: string[];
  location?: string;
}

export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  recurring: { time_intervals: RecurringPeriod[] } | null;
  createdAt: string;
  updatedAt: string;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export class SilenceError extends Error {}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_MATCHERS = 32;
const MAX_TEXT = 4096;

function text(v: unknown, what: string, max = MAX_TEXT): string {
  if (typeof v !== 'string') throw new SilenceError(`${what} must be a string`);
  if (v.length > max) throw new SilenceError(`${what} is longer than ${max} characters`);
  return v;
}

function instant(v: unknown, what: string): string {
  const s = text(v, what, 64);
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(t)) throw new SilenceError(`${what} must be an RFC 3339 date and time (got '${s}')`);
  return new Date(t).toISOString();
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SilenceError(`${what} must be a list of strings`);
  return v as string[];
}

/** The recurring schedule as periods the time-interval code can test. */
export function recurringPeriods(r: { time_intervals: RecurringPeriod[] }): TimePeriod[] {
  return r.time_intervals.map((p) => {
    const location = p.location ?? 'UTC';
    checkLocation(location);
    return {
      location,
      times: p.times?.map((t) => ({ startMinute: parseClock(t.start_time, false), endMinute: parseClock(t.end_time, true) })),
      weekdays: p.weekdays?.map((x) => parseRange(x, 'weekdays')),
      daysOfMonth: p.days_of_month?.map((x) => parseRange(x, 'days_of_month')),
      months: p.months?.map((x) => parseRange(x, 'months')),
      years: p.years?.map((x) => parseRange(x, 'years')),
    };
  });
}

function readRecurring(v: unknown): { time_intervals: RecurringPeriod[] } | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new SilenceError('recurring must be an object {time_intervals: [...]}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'time_intervals') throw new SilenceError(`unknown key '${k}' in recurring; expected time_intervals`);
  if (!Array.isArray(o.time_intervals) || !o.time_intervals.length) throw new SilenceError('recurring.time_intervals must be a non-empty list');
  const periods = o.time_intervals.map((p, i) => {
    const at = `recurring.time_intervals[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new SilenceError(`${at} must be an object`);
    const q = p as Record<string, unknown>;
    const out: RecurringPeriod = {};
    for (const k of Object.keys(q)) {
      if (k === 'times') {
        if (!Array.isArray(q.times)) throw new SilenceError(`${at}.times must be a list of {start_time, end_time}`);
        out.times = q.times.map((t, j) => {
          const tt = (t ?? {}) as Record<string, unknown>;
          return { start_time: text(tt.start_time, `${at}.times[${j}].start_time`, 5), end_time: text(tt.end_time, `${at}.times[${j}].end_time`, 5) };
        });
      } else if (k === 'weekdays' || k === 'days_of_month' || k === 'months' || k === 'years') {
        out[k] = strings(q[k], `${at}.${k}`);
      } else if (k === 'location') {
        out.location = text(q.location, `${at}.location`, 64);
      } else {
        throw new SilenceError(`unknown key '${k}' in ${at}; expected times, weekdays, days_of_month, months, years, location`);
      }
    }
    return out;
  });
  const r = { time_intervals: periods };
  try {
    recurringPeriods(r);
  } catch (e) {
    if (e instanceof IntervalError) throw new SilenceError(`recurring: ${e.message}`);
    throw e;
  }
  return r;
}

/**
 * A silence from an API body (POST /v1/silences). `createdBy` defaults to the caller's identity;
 * `startsAt` defaults to now. Every problem is a SilenceError with the field named.
 */
export function readSilence(body: unknown, who: string, now: Date, existing?: Silence): Silence {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SilenceError('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const known = ['id', 'matchers', 'startsAt', 'endsAt', 'createdBy', 'comment', 'recurring'];
  for (const k of Object.keys(b)) if (!known.includes(k)) throw new SilenceError(`unknown field '${k}'; expected ${known.join(', ')}`);
  if (!Array.isArray(b.matchers) || b.matchers.length === 0) throw new SilenceError('matchers must be a non-empty list of {name, value, isRegex, isEqual}');
  if (b.matchers.length > MAX_MATCHERS) throw new SilenceError(`at most ${MAX_MATCHERS} matchers`);
  const matchers = b.matchers.map((m, i) => {
    if (typeof m !== 'object' || m === null) throw new SilenceError(`matchers[${i}] must be an object`);
    const mm = m as Record<string, unknown>;
    const name = text(mm.name, `matchers[${i}].name`, 128);
    if (!LABEL_NAME.test(name)) throw new SilenceError(`matchers[${i}].name '${name}' is not a label name`);
    const value = text(mm.value, `matchers[${i}].value`, 1024);
    const isRegex = mm.isRegex ?? false;
    const isEqual = mm.isEqual ?? true;
    if (typeof isRegex !== 'boolean' || typeof isEqual !== 'boolean') throw new SilenceError(`matchers[${i}].isRegex and isEqual must be booleans`);
    if (isRegex) {
      const c = compilePattern(value);
      if (!c.ok) throw new SilenceError(`matchers[${i}].value: ${c.message}`);
    }
    return { name, value, isRegex, isEqual };
  });
  // Alertmanager refuses a silence that would match every alert (all matchers match the empty string).
  if (matchers.every((m) => matcherOf(m)(''))) throw new SilenceError('at least one matcher must not match the empty string (this silence would mute every alert)');
  const startsAt = b.startsAt === undefined ? now.toISOString() : instant(b.startsAt, 'startsAt');
  const endsAt = instant(b.endsAt, 'endsAt');
  if (Date.parse(endsAt) <= Date.parse(startsAt)) throw new SilenceError('endsAt must be after startsAt');
  if (Date.parse(endsAt) <= now.getTime()) throw new SilenceError('endsAt must be in the future');
  const createdBy = b.createdBy === undefined ? who : text(b.createdBy, 'createdBy', 256);
  if (!createdBy.trim()) throw new SilenceError('createdBy must not be empty');
  const comment = b.comment === undefined ? '' : text(b.comment, 'comment');
  const at = now.toISOString();
  return {
    id: existing?.id ?? randomUUID(),
    matchers,
    startsAt,
    endsAt,
    createdBy,
    comment,
    recurring: readRecurring(b.recurring),
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
}

const compiled = new Map<string, RE2>();

function matcherOf(m: SilenceMatcher): (v: string) => boolean {
  if (!m.isRegex) return (v) => (v === m.value) === m.isEqual;
  let re = compiled.get(m.value);
  if (!re) {
    const c = compilePattern(`^(?:${m.value})$`);
    if (!c.ok) return () => false;
    re = c.re;
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(m.value, re);
  }
  const r = re;
  return (v) => r.test(v) === m.isEqual;
}

export function silenceState(s: Silence, now: Date): SilenceState {
  const t = now.getTime();
  if (t >= Date.parse(s.endsAt)) return 'expired';
  if (t < Date.parse(s.startsAt)) return 'pending';
  return 'active';
}

/** Does the silence mute these labels at `now` (active, inside its recurring schedule, all matchers match)? */
export function silences(s: Silence, labels: Readonly<Record<string, string>>, now: Date): boolean {
  if (silenceState(s, now) !== 'active') return false;
  if (s.recurring && !intervalContains(recurringPeriods(s.recurring), now)) return false;
  return s.matchers.every((m) => matcherOf(m)(labels[m.name] ?? ''));
}
