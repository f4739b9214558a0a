import { createReadStream, createWriteStream } from 'node:fs';
import * as readline from 'node:readline';
import type { Writable } from 'node:stream';

import { validateEvent } from '../ingest/event-contract';
import type { ProbeEngine } from '../probe/probe-engine';
import type { ScoredEvent } from '../domain/scored-event';

export interface ScoreSummary {
  lines: number;
  scored: number;
  failed: number;
}

/**
 * Scores a JSONL stream. Output lines keep input order; up to `concurrency` events are in
 * flight so the batcher can fill batches. Every line goes through the one engine, so its prefix
 * cache serves the whole input: a line whose conversation extends an earlier line's (or shares
 * its system prompt) computes only its new tokens. Bad lines are reported on stderr as
 * `line N: <field>: <reason>` and skipped; the caller turns `failed > 0` into exit code 1.
 */
export async function scoreStream(engine: ProbeEngine, input: string, output: string | undefined, concurrency = 32): Promise<ScoreSummary> {
  const src = input === '-' ? process.stdin : createReadStream(input, 'utf8');
  const out: Writable = output && output !== '-' ? createWriteStream(output) : process.stdout;
  const rl = readline.createInterface({ input: src, crlfDelay: Infinity });
  const summary: ScoreSummary = { lines: 0, scored: 0, failed: 0 };
  const window: Array<Promise<ScoredEvent | null>> = [];
  const fail = (line: number, msg: string): null => {
    summary.failed++;
    process.stderr.write(`line ${line}: ${msg}\n`);
    return null;
  };
  const drainOne = async (): Promise<void> => {
    const r = await (window.shift() as Promise<ScoredEvent | null>);
    if (r) {
      summary.scored++;
      if (!out.write(JSON.stringify(r) + '\n')) await new Promise((res) => out.once('drain', res));
    }
  };
  for await (const raw of rl) {
    const lineNo = ++summary.lines;
    if (!raw.trim()) {
      summary.lines--;
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      window.push(Promise.resolve(fail(lineNo, `invalid JSON: ${(e as Error).message}`)));
      continue;
    }
    const v = validateEvent(parsed);
    if (!v.ok) {
      window.push(Promise.resolve(fail(lineNo, v.errors.map((e) => `${e.field || '(event)'}: ${e.message}`).join('; '))));
    } else {
      const ev = v.event;
      window.push(engine.score(ev).catch((e: Error) => fail(lineNo, `id ${ev.id}: scoring failed: ${e.message}`)));
    }
    if (window.length >= concurrency) await drainOne();
  }
  while (window.length) await drainOne();
  if (out !== process.stdout) await new Promise<void>((res) => (out as ReturnType<typeof createWriteStream>).end(res));
  return summary;
}
