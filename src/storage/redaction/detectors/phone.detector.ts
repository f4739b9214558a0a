/**
 * Phone numbers, found by libphonenumber-js (full metadata, so "valid" means valid for the
 * number plan, not merely of a possible length).
 *
 *  - International numbers ("+44 20 7946 0958") in any country: accepted when their length is
 *    possible for the country code (we would rather mask a misdialled number than keep it).
 *  - National numbers ("020 7946 0958", "(415) 555-0123") for DEFAULT_COUNTRIES: accepted when
 *    valid for one of them and shaped like a phone number: not a date, an IPv4 address, a decimal
 *    or the tail of an id ("INV-2024-000123"), and either written with separators, starting with
 *    a trunk 0, or a few words after "phone", "call" and the like.
 *    Bare digit strings are otherwise order numbers and ids far more often than phones.
 *
 * libphonenumber only reads the runs phone-candidates.ts selects, within a budget per text.
 */
import { CountryCode, findPhoneNumbersInText } from 'libphonenumber-js/max';

import type { SensitiveSpan } from '../sensitive-span';
import { PhoneRun, phoneRuns, regionText } from './phone-candidates';

/** Where our traffic mostly comes from; extend here (ISO 3166 alpha-2). */
export const DEFAULT_COUNTRIES: readonly CountryCode[] = ['US', 'GB', 'DE', 'FR', 'IN', 'JP', 'BR'];

const DATE_LIKE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$/;
// Part of a longer token: "#20240115-0042", "INV-2024-000123", "/v1/2024-0001".
const GLUED_BEFORE = /[#_/\\.-]/;
const IPV4_SHAPE = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const PHONE_WORD = /\b(?:phone|tel|call|mobile|cell|fax|whatsapp|sms)/i;

function acceptNational(raw: string, text: string, start: number): boolean {
  if (DATE_LIKE.test(raw) || GLUED_BEFORE.test(text[start - 1] ?? '')) return false;
  // Dots alone separate decimals ("2.718281828") and IPv4 addresses as often as phone groups.
  if (raw.includes('.') && /^[\d.]+$/.test(raw) && (raw.split('.').length < 3 || IPV4_SHAPE.test(raw))) return false;
  if (/[^\d]/.test(raw) || raw.startsWith('0')) return true;
  return PHONE_WORD.test(text.slice(Math.max(0, start - 24), start));
}

/** Runs that still have a digit no accepted number covers: only those need another pass. */
function uncovered(text: string, runs: readonly PhoneRun[], found: readonly SensitiveSpan[]): PhoneRun[] {
  return runs.filter((r) => {
    for (let i = r.start; i < r.end; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57 && !found.some((f) => f.start <= i && i < f.end)) return true;
    }
    return false;
  });
}

export function findPhoneNumbers(text: string): SensitiveSpan[] {
  const { read, overflow } = phoneRuns(text);
  const out: SensitiveSpan[] = overflow.map((r) => ({ start: r.start, end: r.end, kind: 'PHONE' }));
  let pending = read;
  if (pending.some((r) => r.international)) {
    // extended: possible-length leniency; without a default country only '+' numbers are found.
    for (const n of findPhoneNumbersInText(regionText(text, pending.filter((r) => r.international)), { extended: true })) {
      out.push({ start: n.startsAt, end: n.endsAt, kind: 'PHONE' });
    }
    pending = uncovered(text, pending, out);
  }
  // Each country pass costs ~1 ms per KB of runs; runs already fully read as numbers skip the rest.
  for (const country of DEFAULT_COUNTRIES) {
    if (pending.length === 0) break;
    const found: SensitiveSpan[] = [];
    for (const n of findPhoneNumbersInText(regionText(text, pending), { defaultCountry: country })) {
      const raw = text.slice(n.startsAt, n.endsAt);
      // International numbers were all found by the first pass.
      if (!raw.startsWith('+') && acceptNational(raw, text, n.startsAt)) found.push({ start: n.startsAt, end: n.endsAt, kind: 'PHONE' });
    }
    out.push(...found);
    if (found.length) pending = uncovered(text, pending, found);
  }
  return out;
}
