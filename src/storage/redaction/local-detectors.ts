/**
 * The detectors that run in-process and synchronously: everything except secretlint, which is
 * asynchronous and lives in a worker (secretlint-scanner.ts).
 */
import { findCardsAndSsns } from './detectors/card-ssn.detector';
import { findCredentials } from './detectors/credential.detector';
import { findEmails } from './detectors/email.detector';
import { findIbans } from './detectors/iban.detector';
import { findIpAddresses } from './detectors/ip.detector';
import { findPhoneNumbers } from './detectors/phone.detector';
import { findTokenFormats } from './detectors/token-format.detector';
import { mergeSpans, SensitiveSpan } from './sensitive-span';

export type Detector = (text: string) => SensitiveSpan[];

export const LOCAL_DETECTORS: readonly Detector[] = [
  findTokenFormats,
  findCredentials,
  findEmails,
  findIbans,
  findCardsAndSsns,
  findPhoneNumbers,
  findIpAddresses,
];

/** Merged spans of every local detector. */
export function findLocalSpans(text: string): SensitiveSpan[] {
  if (text.length === 0) return [];
  return mergeSpans(LOCAL_DETECTORS.flatMap((detect) => detect(text)));
}
