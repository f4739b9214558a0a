/**
 * Payment card numbers (Luhn-checked) and US social security numbers.
 *
 * Cards: runs of digit groups joined by single spaces or dashes are cut into windows of whole
 * groups holding 13-19 digits; a window is a card when its first digit is 2-6 (the issuer
 * ranges of the card networks) and its Luhn checksum holds. Order numbers and timestamps of
 * that length mostly fail one of the two; the ~10% that pass both are masked, which is the safe
 * side of the trade.
 */
import type { SensitiveSpan } from '../sensitive-span';

// One group, then (separator, group)*: the separator is mandatory, so the split of a run into
// groups is unambiguous and the scan is linear.
const DIGIT_RUN = /\d+(?:[ -]\d+)*/g;
const SSN = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;
const MIN_CARD = 13;
const MAX_CARD = 19;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function isCardNumber(digits: string): boolean {
  return digits.length >= MIN_CARD && digits.length <= MAX_CARD && digits[0] >= '2' && digits[0] <= '6' && luhnValid(digits);
}

function cardsInRun(run: string, offset: number, out: SensitiveSpan[]): void {
  const groups: Array<{ start: number; end: number }> = [];
  for (const g of run.matchAll(/\d+/g)) groups.push({ start: g.index as number, end: (g.index as number) + g[0].length });
  let i = 0;
  while (i < groups.length) {
    let found = -1;
    let digits = '';
    // Longest card starting at group i; at most 19 groups can hold 19 digits.
    for (let j = i; j < groups.length && digits.length <= MAX_CARD; j++) {
      digits += run.slice(groups[j].start, groups[j].end);
      if (isCardNumber(digits)) found = j;
    }
    if (found >= 0) {
      out.push({ start: offset + groups[i].start, end: offset + groups[found].end, kind: 'CARD_OR_ACCOUNT' });
      i = found + 1;
    } else {
      i++;
    }
  }
}

function findCards(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(DIGIT_RUN)) {
    if (m[0].length >= MIN_CARD) cardsInRun(m[0], m.index as number, out);
  }
}

/** SSA rules: no area 000, 666 or 9xx, no group 00, no serial 0000. */
function isPlausibleSsn(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

function findSsns(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(SSN)) {
    if (isPlausibleSsn(m[1], m[3], m[4])) out.push({ start: m.index as number, end: (m.index as number) + m[0].length, kind: 'SSN' });
  }
}

export function findCardsAndSsns(text: string): SensitiveSpan[] {
  const out: SensitiveSpan[] = [];
  findCards(text, out);
  findSsns(text, out);
  return out;
}
