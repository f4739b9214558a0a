/**
 * Rule files from disk, in load order: the `*.yaml` / `*.yml` files of each directory sorted by
 * name (overrides apply in that order), then files named on their own. Subdirectories (such as
 * rules/tests/) are not read.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface RuleSource {
  /** As reported in problems: relative to the working directory when inside it. */
  file: string;
  text: string;
}

export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

export async function readRuleSources(paths: readonly string[]): Promise<RuleSource[]> {
  const out: RuleSource[] = [];
  for (const p of paths) {
    const stat = await fs.stat(p);
    const files = stat.isDirectory()
      ? (await fs.readdir(p, { withFileTypes: true })).filter((d) => d.isFile() && /\.ya?ml$/.test(d.name)).map((d) => path.join(p, d.name)).sort()
      : [p];
    for (const f of files) out.push({ file: displayPath(f), text: await fs.readFile(f, 'utf8') });
  }
  return out;
}

/** The rule set's identity for the audit trail: a hash over file names and contents. */
export function ruleSetHash(sources: readonly RuleSource[]): string {
  const h = createHash('sha256');
  for (const s of sources) h.update(path.basename(s.file)).update('\0').update(s.text).update('\0');
  return h.digest('hex');
}

export function fileHashes(sources: readonly RuleSource[]): Record<string, string> {
  return Object.fromEntries(sources.map((s) => [path.basename(s.file), createHash('sha256').update(s.text).digest('hex')]));
}

/** An accepted set's files for the audit trail: {name in the rules directory: content}. */
export function sourcesRecord(sources: readonly RuleSource[]): Record<string, string> {
  return Object.fromEntries(sources.map((s) => [path.basename(s.file), s.text]));
}

/**
 * Sources recorded with `sourcesRecord`, as if read from `dir` again: the same names, the same
 * load order, so the same `ruleSetHash` as when they were recorded.
 */
export function recordedSources(dir: string, recorded: Readonly<Record<string, string>>): RuleSource[] {
  return Object.keys(recorded)
    .sort()
    .map((name) => ({ file: displayPath(path.join(dir, path.basename(name))), text: recorded[name] }));
}
