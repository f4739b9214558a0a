/**
 * IPv4 and IPv6 addresses: a cheap candidate pattern, then node:net isIP decides.
 *
 * A dotted quad is reported even when it is meant as a version number ("1.2.3.4"): the two cannot
 * be told apart, and masking a version costs less than storing an address. A quad glued to a
 * letter ("v1.2.3.4") or part of a longer dotted sequence ("1.2.3.4.5") is not an address.
 */
import { isIP } from 'node:net';

import type { SensitiveSpan } from '../sensitive-span';

// Bounded quantifiers, a fixed number of groups: at most ~15 steps per start position.
const IPV4 = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)/g;
// Maximal runs of address characters: each match consumes its whole run and never fails once
// started, so the scan is linear. Runs without a colon are dropped in code.
const IPV6_RUN = /[0-9A-Fa-f:.]+/g;

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /\w/.test(ch);
}

function findIpv4(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(IPV4)) {
    if (isIP(m[0]) === 4) out.push({ start: m.index as number, end: (m.index as number) + m[0].length, kind: 'IP' });
  }
}

/** The candidate as given, then without sentence punctuation after it. */
function ipv6Length(run: string): number {
  if (isIP(run) === 6) return run.length;
  const trimmed = run.replace(/[.]+$/, '');
  if (isIP(trimmed) === 6) return trimmed.length;
  if (trimmed.endsWith(':') && !trimmed.endsWith('::') && isIP(trimmed.slice(0, -1)) === 6) return trimmed.length - 1;
  return 0;
}

/**
 * Short hex words joined by '::' are common in code ("a::b", "Foo::bar" never matches since 'o'
 * and 'r' are not hex); an address needs a digit or at least three groups.
 */
function looksLikeAddress(candidate: string): boolean {
  const groups = candidate.split(':').filter((g) => g !== '').length;
  return groups >= 3 || /\d/.test(candidate);
}

function findIpv6(text: string, out: SensitiveSpan[]): void {
  for (const m of text.matchAll(IPV6_RUN)) {
    const run = m[0];
    if (run.indexOf(':') < 0 || run.length < 2) continue;
    const start = m.index as number;
    if (isWordChar(text[start - 1]) || isWordChar(text[start + run.length])) continue;
    const len = ipv6Length(run);
    if (len > 0 && looksLikeAddress(run.slice(0, len))) out.push({ start, end: start + len, kind: 'IP' });
  }
}

export function findIpAddresses(text: string): SensitiveSpan[] {
  const out: SensitiveSpan[] = [];
  findIpv4(text, out);
  findIpv6(text, out);
  return out;
}
