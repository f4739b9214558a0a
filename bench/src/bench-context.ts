/**
 * `probewatch bench context`: what reading a whole conversation in context costs, at about 1k,
 * 4k and 8k tokens, written to bench/results/context.json. The conversation is the team's
 * benign control turns back to back; it is scored through the engine (chunked prefill of
 * `chunk_tokens` through the key/value cache), and its residuals are also computed in one pass
 * for comparison. Measured, never asserted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { RuntimePaths } from '../../src/config/runtime-paths';
import type { ChatMessage, ProbeEvent } from '../../src/domain/event';
import { ChatTokenizer } from '../../src/probe/chat-tokenizer';
import { setupModel } from '../../src/probe/model-setup';
import { ProbeEngine } from '../../src/probe/probe-engine';
import type { ProbePack } from '../../src/probe/probe-pack.loader';
import { ResidualBatcher } from '../../src/probe/residual-batcher';
import { stderrReporter } from '../../src/cli/progress-reporter';

const LENGTHS = [1024, 4096, 8192];
const ROUNDS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchContext(paths: RuntimePaths, pack: ProbePack, out: string): Promise<void> {
  const reporter = stderrReporter();
  const artifacts = await setupModel(paths, pack.manifest, reporter);
  const ct = new ChatTokenizer({
    tokenizerJson: JSON.parse(readFileSync(artifacts.tokenizerJsonPath, 'utf8')),
    config: JSON.parse(readFileSync(artifacts.tokenizerConfigPath, 'utf8')),
  });
  const turns = readFileSync(path.join(paths.projectRoot, 'tools', 'probe-builder', 'scenarios', 'controls.jsonl'), 'utf8')
    .split('\n').filter((l) => l.trim()).flatMap((l) => (JSON.parse(l) as { messages: ChatMessage[] }).messages.filter((m) => m.role !== 'system'));
  const rt = pack.manifest.runtime;
  const engine = await ProbeEngine.create(pack, artifacts);
  const single = await ResidualBatcher.start({
    modelPath: artifacts.onnxPath, outputName: artifacts.outputName, dModel: pack.manifest.model.d_model, padId: pack.manifest.tokenizer.pad_token_id,
    executionProvider: 'cpu', workers: 1, intraOpThreads: 0, tokenBudget: 1 << 16, maxWaitMs: 1, maxQueuedWindows: 4,
    kvHeads: artifacts.kvHeads, headDim: artifacts.headDim, chunkTokens: 1 << 16,
  });
  const rows = [];
  try {
    for (const target of LENGTHS) {
      const messages: ChatMessage[] = [];
      let ids: number[] = [];
      for (const m of turns) {
        messages.push(m);
        ids = ct.encode(messages).ids;
        if (ids.length >= target - 64) break;
      }
      while (ids.length > target) {
        messages.pop();
        ids = ct.encode(messages).ids;
      }
      const event = { id: `ctx-${target}`, timestamp: new Date().toISOString(), tenant: 'bench', source: 'bench', model: 'm', messages } as ProbeEvent;
      const chunked: number[] = [];
      const onePass: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        reporter.progress(r + 1, ROUNDS, `${ids.length} tokens`);
        let t0 = performance.now();
        await engine.score(event);
        chunked.push((performance.now() - t0) / 1000);
        t0 = performance.now();
        await single.run(ids);
        onePass.push((performance.now() - t0) / 1000);
      }
      const s = median(chunked);
      rows.push({ tokens: ids.length, seconds_chunked_prefill: round(s), tokens_per_s: round(ids.length / s), seconds_one_pass: round(median(onePass)),
        chunks: Math.ceil(ids.length / rt.chunk_tokens) });
      process.stderr.write(`${ids.length} tokens: ${round(s)} s scored by chunked prefill (${round(ids.length / s)} tokens/s), ${round(median(onePass))} s residuals in one pass\n`);
    }
  } finally {
    await engine.close();
    await single.close();
  }
  const result = {
    generated_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, memory_gb: round(os.totalmem() / 2 ** 30), node: process.version },
    pack: { id: pack.manifest.id, version: pack.manifest.version, layer: pack.manifest.model.layer },
    runtime: { context_tokens: rt.context_tokens, chunk_tokens: rt.chunk_tokens },
    note: 'median of 3 rounds; seconds_chunked_prefill is the whole engine.score (tokenization, chunked prefill, SAE features, scoring); seconds_one_pass is the residuals alone in a single forward pass (no cache), for comparison',
    rows,
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
