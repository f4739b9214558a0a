/**
 * E-mail addresses, found from each '@' outwards rather than with one regex over the text: a
 * regex starting with a character class retries at every position of a long run of address
 * characters, which is quadratic on hostile input. Each '@' costs at most 64 + 253 steps here.
 */
import type { SensitiveSpan } from '../sensitive-span';

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;

function isLocalChar(c: number): boolean {
  // A-Z a-z 0-9 and . _ % + - ' (the characters people actually use in local parts)
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45 || c === 39;
}

function isDomainChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45;
}

/** The end of a plausible domain starting at `from`, or -1: labels, a dot, an alphabetic TLD of 2+. */
function domainEnd(text: string, from: number): number {
  let end = from;
  while (end < text.length && end - from < MAX_DOMAIN && isDomainChar(text.charCodeAt(end))) end++;
  // Trailing dots and hyphens are sentence punctuation, not part of the domain.
  while (end > from && (text[end - 1] === '.' || text[end - 1] === '-')) end--;
  const domain = text.slice(from, end);
  const lastDot = domain.lastIndexOf('.');
  if (lastDot <= 0) return -1;
  return /^[A-Za-z]{2,63}$/.test(domain.slice(lastDot + 1)) ? end : -1;
}

export function findEmails(text: string): SensitiveSpan[] {
  const out: SensitiveSpan[] = [];
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && at - start < MAX_LOCAL && isLocalChar(text.charCodeAt(start - 1))) start--;
    while (start < at && text[start] === '.') start++;
    if (start === at) continue;
    const end = domainEnd(text, at + 1);
    if (end > 0) out.push({ start, end, kind: 'EMAIL' });
  }
  return out;
}
