/**
 * IBANs, with or without the 4-character grouping spaces, validated by ibantools. The whole IBAN
 * is one span: a partial mask (the old behaviour) leaves the bank and branch codes readable.
 *
 * An IBAN whose format is right for its country but whose check digits are wrong is still an
 * account number (a typo, or a deliberately altered one), so it is masked too.
 */
import { countrySpecs, validateIBAN, ValidationErrorsIBAN } from 'ibantools';

import type { SensitiveSpan } from '../sensitive-span';

// Country code, check digits, then up to 30 alphanumerics each optionally preceded by one space.
// The repetition is bounded and unambiguous; overshoot into the next word is cut below, using
// the country's IBAN length.
const CANDIDATE = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}/;

const TOLERATED = new Set<ValidationErrorsIBAN>([ValidationErrorsIBAN.WrongIBANChecksum, ValidationErrorsIBAN.WrongAccountBankBranchChecksum]);

function isAlnum(ch: string | undefined): boolean {
  return ch !== undefined && /[A-Za-z0-9]/.test(ch);
}

/** Offset just past the n-th alphanumeric character of `s`, or -1 if it has fewer. */
function endOfNthAlnum(s: string, n: number): number {
  let seen = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== ' ' && ++seen === n) return i + 1;
  }
  return -1;
}

function isAccountNumber(electronic: string): boolean {
  const { valid, errorCodes } = validateIBAN(electronic);
  return valid || (errorCodes.length > 0 && errorCodes.every((e) => TOLERATED.has(e)));
}

export function findIbans(text: string): SensitiveSpan[] {
  const out: SensitiveSpan[] = [];
  const re = new RegExp(CANDIDATE.source, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index;
    const cut = ibanLength(text, start, m[0]);
    // The greedy candidate may have run into the next IBAN: resume right after this one.
    re.lastIndex = cut > 0 ? start + cut : start + 1;
    if (cut > 0) out.push({ start, end: start + cut, kind: 'IBAN' });
  }
  return out;
}

/** Length of the IBAN that starts the candidate, or 0. */
function ibanLength(text: string, start: number, candidate: string): number {
  const length = countrySpecs[candidate.slice(0, 2).toUpperCase()]?.chars;
  if (!length) return 0;
  const cut = endOfNthAlnum(candidate, length);
  // Glued to more alphanumerics, it is a longer token that merely starts like an IBAN.
  if (cut < 0 || isAlnum(text[start + cut])) return 0;
  return isAccountNumber(candidate.slice(0, cut).replace(/ /g, '').toUpperCase()) ? cut : 0;
}
