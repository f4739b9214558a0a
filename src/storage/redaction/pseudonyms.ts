/**
 * Keyed digests for identifiers kept under the content policies: the end-user id (`user:` and
 * `hmac:` pseudonyms), metadata string values under `hash`, and the erased user named in the
 * audit trail. An unkeyed sha256 of an e-mail address or a phone number can be reversed by
 * hashing candidates; an HMAC-SHA256 under a per-deployment secret cannot, without the secret.
 * The same id still maps to the same pseudonym, so rules group and count by it as before.
 *
 * The secret lives in a file beside the data (PROBEWATCH_PSEUDONYM_KEY_FILE), created on first
 * start with mode 0600. Losing it does not lose data, but ids pseudonymised under it can no
 * longer be matched (erasure then finds only the forms stored without a key, before it existed).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** A digest of an identifier: lowercase hex. */
export type Digest = (value: string) => string;

const KEY_BYTES = 32;

export class PseudonymKeyError extends Error {
  readonly code = 'PSEUDONYM_KEY';
}

export class Pseudonyms {
  private constructor(private readonly key: Buffer) {}

  /** A key of at least 32 bytes. */
  static fromKey(key: Buffer): Pseudonyms {
    if (key.length < KEY_BYTES) throw new PseudonymKeyError(`the pseudonym key must be at least ${KEY_BYTES} bytes, got ${key.length}`);
    return new Pseudonyms(Buffer.from(key));
  }

  /** The key in `file` (64+ hex characters), or undefined when there is no such file. Never prints the key. */
  static read(file: string): Pseudonyms | undefined {
    if (!existsSync(file)) return undefined;
    const text = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]+$/i.test(text) || text.length % 2 !== 0) throw new PseudonymKeyError(`${file}: not a hex-encoded key`);
    return Pseudonyms.fromKey(Buffer.from(text, 'hex'));
  }

  /** The key in `file`, generated there (mode 0600) when absent; `created` says which. */
  static readOrCreate(file: string): { pseudonyms: Pseudonyms; created: boolean } {
    const found = Pseudonyms.read(file);
    if (found) return { pseudonyms: found, created: false };
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(file, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another replica sharing the file created it first: use that one.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return { pseudonyms: Pseudonyms.read(file) as Pseudonyms, created: false };
    }
    return { pseudonyms: Pseudonyms.read(file) as Pseudonyms, created: true };
  }

  /** HMAC-SHA256 of the value under the deployment's key, as hex. */
  readonly digest: Digest = (value) => createHmac('sha256', this.key).update(value).digest('hex');

  /** How the audit trail names an erased end user: by the keyed digest only, never the id. */
  erasedUserTarget(user: string): string {
    return `user hmac:${this.digest(user)}`;
  }
}
