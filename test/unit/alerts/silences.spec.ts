import { readSilence, silences, silenceState, SilenceError } from '../../../src/alerts/delivery/silences';

const now = new Date('2026-11-30T10:00:00Z'); // a Monday
const base = { matchers: [{ name: 'rule', value: 'Harmful.*', isRegex: true, isEqual: true }], endsAt: '2026-12-01T00:00:00Z', createdBy: 'ana', comment: 'noise' };

describe('silences (Alertmanager v2 shape)', () => {
  it('reads a silence, defaults startsAt to now, and mutes matching labels while active', () => {
    const s = readSilence(base, 'api', now);
    expect(s).toMatchObject({ startsAt: now.toISOString(), endsAt: '2026-12-01T00:00:00.000Z', createdBy: 'ana', comment: 'noise', recurring: null });
    expect(s.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(silences(s, { rule: 'Harmful Intent', tenant: 'a' }, now)).toBe(true);
    expect(silences(s, { rule: 'Deception', tenant: 'a' }, now)).toBe(false);
    // Anchored, as Alertmanager anchors: 'xHarmful' does not match 'Harmful.*'.
    expect(silences(s, { rule: 'xHarmful' }, now)).toBe(false);
    expect(silenceState(s, now)).toBe('active');
    expect(silenceState(s, new Date('2026-12-01T00:00:00Z'))).toBe('expired');
    expect(silences(s, { rule: 'Harmful Intent' }, new Date('2026-12-01T00:00:01Z'))).toBe(false);
  });

  it('isEqual false negates; a missing label is the empty string', () => {
    const s = readSilence({ ...base, matchers: [{ name: 'tenant', value: 'acme', isRegex: false, isEqual: false }, { name: 'rule', value: 'R', isRegex: false, isEqual: true }] }, 'api', now);
    expect(silences(s, { tenant: 'globex', rule: 'R' }, now)).toBe(true);
    expect(silences(s, { tenant: 'acme', rule: 'R' }, now)).toBe(false);
    expect(silences(s, { rule: 'R' }, now)).toBe(true);
  });

  it('a recurring silence mutes only inside its periods, in their time zone', () => {
    const s = readSilence({ ...base, startsAt: '2026-11-30T00:00:00Z', endsAt: '2027-01-01T00:00:00Z', recurring: { time_intervals: [{ weekdays: ['monday:friday'], times: [{ start_time: '09:00', end_time: '12:00' }], location: 'Europe/Berlin' }] } }, 'api', now);
    expect(silences(s, { rule: 'Harmful' }, new Date('2026-11-30T08:30:00Z'))).toBe(true); // 09:30 in Berlin, Monday
    expect(silences(s, { rule: 'Harmful' }, new Date('2026-11-30T11:30:00Z'))).toBe(false); // 12:30 in Berlin
    expect(silences(s, { rule: 'Harmful' }, new Date('2026-12-05T08:30:00Z'))).toBe(false); // Saturday
  });

  it('refuses what Alertmanager refuses, naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ ...base, matchers: [] }, /matchers must be a non-empty list/],
      [{ ...base, matchers: [{ name: 'rule', value: '.*', isRegex: true }] }, /would mute every alert/],
      [{ ...base, matchers: [{ name: '1x', value: 'a' }] }, /not a label name/],
      [{ ...base, matchers: [{ name: 'rule', value: '(a)\\1', isRegex: true }] }, /matchers\[0\]\.value: backreference/],
      [{ ...base, endsAt: '2026-11-29T00:00:00Z' }, /endsAt must be after startsAt|in the future/],
      [{ ...base, endsAt: 'tomorrow' }, /endsAt must be an RFC 3339/],
      [{ ...base, createdBy: ' ' }, /createdBy must not be empty/],
      [{ ...base, recurring: { time_intervals: [{ weekdays: ['funday'] }] } }, /recurring: 'funday' is not a weekday/],
      [{ ...base, recurring: { time_intervals: [{ location: 'Mars/Olympus' }] } }, /not a known time zone/],
      [{ ...base, extra: 1 }, /unknown field 'extra'/],
    ];
    for (const [body, why] of bad) expect(() => readSilence(body, 'api', now)).toThrow(why);
    expect(() => readSilence([], 'api', now)).toThrow(SilenceError);
  });

  it('runs a catastrophic-backtracking pattern with RE2 (JavaScript\'s RegExp would hang on this text)', () => {
    const s = readSilence({ ...base, matchers: [{ name: 'rule', value: '(a+)+b', isRegex: true, isEqual: true }] }, 'api', now);
    expect(silences(s, { rule: `${'a'.repeat(5000)}!` }, now)).toBe(false);
    expect(silences(s, { rule: 'aaab' }, now)).toBe(true);
  });
});
