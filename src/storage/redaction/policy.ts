/** The content policies (see ../content-policy.ts) and the digest they use. */
import { createHash } from 'node:crypto';

export const CONTENT_POLICIES = ['full', 'redacted', 'hash'] as const;
export type ContentPolicy = (typeof CONTENT_POLICIES)[number];

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
