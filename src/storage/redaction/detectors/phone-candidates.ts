/**
 * Which parts of a text libphonenumber gets to read (pure). It reads every digit-like character
 * once per default country at ~2-8 ms per KB of digit-dense text, so it is only shown runs that
 * can hold a phone number, and at most PHONE_BUDGET characters of them per text.
 *
 * A run is a maximal stretch of phone characters. It can hold a phone number when some window of
 * at most MAX_GROUPS consecutive digit groups holds 7-15 digits: "+33 1 23 45 67 89" is six
 * groups, while digit soup such as "1 1 1 1 ..." or "1.1.1.1.1" never qualifies. Qualifying runs
 * past the budget are not read but reported whole, so a flood of numbers is masked, not kept.
 */

export interface PhoneRun {
  start: number;
  end: number;
  /** Starts with '+': only these can hold an international number. */
  international: boolean;
}

export const PHONE_BUDGET = 4_096;
const MIN_DIGITS = 7;
const MAX_DIGITS = 15;
const MAX_GROUPS = 6;
// A single character class repeated: each match consumes its whole run, so the scan is linear.
const PHONE_RUN = /[+(]?\d[\d ()./-]*/g;

function canHoldPhone(run: string): boolean {
  const groups = run.match(/\d+/g) ?? [];
  for (let i = 0; i < groups.length; i++) {
    let digits = 0;
    for (let j = i; j < groups.length && j < i + MAX_GROUPS; j++) {
      digits += groups[j].length;
      if (digits > MAX_DIGITS) break;
      if (digits >= MIN_DIGITS) return true;
    }
  }
  return false;
}

/** The run without the separators it ends with ("0958. " -> "0958"). */
function trimmedEnd(run: string, start: number): number {
  let end = run.length;
  while (end > 0 && !/[\d)]/.test(run[end - 1])) end--;
  return start + end;
}

export function phoneRuns(text: string, budget: number = PHONE_BUDGET): { read: PhoneRun[]; overflow: PhoneRun[] } {
  const read: PhoneRun[] = [];
  const overflow: PhoneRun[] = [];
  let spent = 0;
  for (const m of text.matchAll(PHONE_RUN)) {
    if (!canHoldPhone(m[0])) continue;
    const start = m.index as number;
    const run = { start, end: trimmedEnd(m[0], start), international: m[0].startsWith('+') };
    spent += run.end - run.start;
    (spent <= budget ? read : overflow).push(run);
  }
  return { read, overflow };
}

/**
 * The text as libphonenumber should see it: the given runs as they are, every other digit and
 * '+' turned into a letter. Letters, not spaces, because libphonenumber would read two runs
 * separated by blanks as one long number; same length, so offsets are unchanged.
 */
export function regionText(text: string, runs: readonly PhoneRun[]): string {
  const parts: string[] = [];
  let cursor = 0;
  for (const r of runs) {
    parts.push(text.slice(cursor, r.start).replace(/[\d+]/g, 'z'), text.slice(r.start, r.end));
    cursor = r.end;
  }
  parts.push(text.slice(cursor).replace(/[\d+]/g, 'z'));
  return parts.join('');
}
