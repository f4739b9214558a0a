/**
 * `npm run bench:prefix`: what the prefix cache (issue 15) saves on multi-turn traffic, written to
 * bench/results/prefix.json. Conversations of 6 turns (a user message and the assistant's
 * answer) arrive as one event per turn, each carrying the history so far, under a handful of
 * shared system prompts; the same traffic is scored by an engine with PROBEWATCH_PREFIX_CACHE_MB=0,
 * one with the default cache and one with twice it (what evictions cost). Measured, never asserted.
 *
 * Arrival: conversations in waves of WAVE live at once, their turns interleaved (turn 1 of each,
 * then turn 2 of each, ...), scored with CONCURRENCY events in flight as the pipeline does.
 * The text is the team's benign control turns (tools/probe-builder/scenarios/controls*.jsonl).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { RuntimePaths } from '../../src/config/runtime-paths';
import type { ChatMessage, ProbeEvent } from '../../src/domain/event';
import { ChatTokenizer } from '../../src/probe/chat-tokenizer';
import { setupModel } from '../../src/probe/model-setup';
import { DEFAULT_ENGINE_OPTIONS, ProbeEngine } from '../../src/probe/probe-engine';
import type { ProbePack } from '../../src/probe/probe-pack.loader';
import type { ScoredEvent } from '../../src/domain/scored-event';
import { stderrReporter } from '../../src/cli/progress-reporter';

const TURNS = 6;
const SYSTEM_PROMPTS = 5;
const WAVE = 8;
const CONCURRENCY = 16;
/** Longest message kept, in characters (keeps turn 6 near 1,000 tokens). */
const MAX_CHARS = 600;

interface Traffic {
  events: ProbeEvent[];
  systems: number;
}

function controlText(root: string): { systems: string[]; pairs: Array<[string, string]> } {
  const systems = new Set<string>();
  const pairs: Array<[string, string]> = [];
  for (const f of ['controls.jsonl', 'controls-2.jsonl']) {
    for (const line of readFileSync(path.join(root, 'tools', 'probe-builder', 'scenarios', f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const msgs = (JSON.parse(line) as { messages: ChatMessage[] }).messages;
      for (const m of msgs) if (m.role === 'system' && m.content.length > 150) systems.add(m.content);
      for (let i = 0; i + 1 < msgs.length; i++) {
        if (msgs[i].role === 'user' && msgs[i + 1].role === 'assistant') pairs.push([msgs[i].content.slice(0, MAX_CHARS), msgs[i + 1].content.slice(0, MAX_CHARS)]);
      }
    }
  }
  return { systems: [...systems].slice(0, SYSTEM_PROMPTS), pairs };
}

/** Conversation c uses system prompt c mod 5 and the next 6 control pairs; waves interleave turns. */
export function prefixTraffic(root: string, conversations: number): Traffic {
  const { systems, pairs } = controlText(root);
  const convs = Array.from({ length: conversations }, (_, c) => {
    const msgs: ChatMessage[] = [{ role: 'system', content: systems[c % systems.length] }];
    for (let t = 0; t < TURNS; t++) {
      const [u, a] = pairs[(c * TURNS + t) % pairs.length];
      msgs.push({ role: 'user', content: u }, { role: 'assistant', content: a });
    }
    return msgs;
  });
  const events: ProbeEvent[] = [];
  for (let w = 0; w < conversations; w += WAVE) {
    for (let t = 1; t <= TURNS; t++) {
      for (let c = w; c < Math.min(w + WAVE, conversations); c++) {
        events.push({ id: `conv-${c}-turn-${t}`, timestamp: new Date().toISOString(), tenant: 'bench', source: 'bench', model: 'm', messages: convs[c].slice(0, 1 + 2 * t) } as ProbeEvent);
      }
    }
  }
  return { events, systems: systems.length };
}

async function scoreAll(engine: ProbeEngine, events: ProbeEvent[]): Promise<{ seconds: number; scored: ScoredEvent[] }> {
  const scored: ScoredEvent[] = new Array(events.length);
  let next = 0;
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < events.length) {
      const i = next++;
      scored[i] = await engine.score(events[i]);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { seconds: (performance.now() - t0) / 1000, scored };
}

export async function benchPrefix(paths: RuntimePaths, pack: ProbePack, out: string, conversations: number): Promise<void> {
  const reporter = stderrReporter();
  const artifacts = await setupModel(paths, pack.manifest, reporter);
  const ct = new ChatTokenizer({
    tokenizerJson: JSON.parse(readFileSync(artifacts.tokenizerJsonPath, 'utf8')),
    config: JSON.parse(readFileSync(artifacts.tokenizerConfigPath, 'utf8')),
  });
  const traffic = prefixTraffic(paths.projectRoot, conversations);
  const tokens = traffic.events.map((e) => ct.encode(e.messages).ids.length);
  const totalTokens = tokens.reduce((a, b) => a + b, 0);
  const runs: Record<string, { events_per_s: number; seconds: number; tokens_computed_per_event: number; padded_tokens_per_event: number;
    hit_tokens: number; miss_tokens: number; cache_bytes: number; evicted_blocks: number; batches: number; turn_views: number; turn_view_tokens: number }> = {};
  const scores: Record<string, ScoredEvent[]> = {};
  const mb = DEFAULT_ENGINE_OPTIONS.prefixCacheMb;
  // The default budget, and twice it: how much of the gap is evictions under the default.
  for (const [name, cacheMb] of [['without_cache', 0], ['with_cache', mb], [`with_cache_${2 * mb}mb`, 2 * mb]] as const) {
    const engine = await ProbeEngine.create(pack, artifacts, { prefixCacheMb: cacheMb });
    try {
      reporter.step(`${name}: ${traffic.events.length} events`);
      const m = await scoreAll(engine, traffic.events);
      const p = engine.prefixCacheStats;
      const n = traffic.events.length;
      runs[name] = {
        events_per_s: round(n / m.seconds),
        seconds: round(m.seconds),
        tokens_computed_per_event: round((p.enabled ? p.missTokens : engine.stats.tokens) / n),
        padded_tokens_per_event: round((engine.stats.paddedTokens - (p.enabled ? p.hitTokens : 0)) / n),
        hit_tokens: p.hitTokens,
        miss_tokens: p.missTokens,
        cache_bytes: p.bytes,
        evicted_blocks: p.evictedBlocks,
        batches: engine.stats.batches,
        turn_views: engine.turnViewsRead.views,
        turn_view_tokens: engine.turnViewsRead.tokens,
      };
      scores[name] = m.scored;
      process.stderr.write(`${name}: ${runs[name].events_per_s} events/s, ${runs[name].tokens_computed_per_event} tokens computed per event\n`);
    } finally {
      await engine.close();
    }
  }
  let maxDiff = 0;
  scores.with_cache.forEach((s, i) => {
    for (const [c, r] of Object.entries(s.concepts)) maxDiff = Math.max(maxDiff, Math.abs(r.score - scores.without_cache[i].concepts[c as keyof typeof s.concepts].score));
  });
  const result = {
    generated_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, memory_gb: round(os.totalmem() / 2 ** 30), node: process.version },
    pack: { id: pack.manifest.id, version: pack.manifest.version, layer: pack.manifest.model.layer },
    traffic: {
      conversations, turns: TURNS, events: traffic.events.length, system_prompts: traffic.systems,
      avg_tokens_per_event: round(totalTokens / traffic.events.length), max_tokens_per_event: Math.max(...tokens),
      arrival: `waves of ${WAVE} conversations, turns interleaved; ${CONCURRENCY} events in flight`,
      ...(conversations < 200 ? { scaled_down: `${conversations} conversations instead of the issue's 200, to keep the bench under ~8 minutes on ${os.cpus().length} CPUs without the cache` } : {}),
    },
    cache: { mb, block_tokens: 32, workers: DEFAULT_ENGINE_OPTIONS.workers },
    turn_view: { concepts: DEFAULT_ENGINE_OPTIONS.turnViewConcepts, after_tokens: DEFAULT_ENGINE_OPTIONS.turnViewAfterTokens },
    without_cache: runs.without_cache,
    with_cache: runs.with_cache,
    events_per_s_ratio: round(runs.with_cache.events_per_s / runs.without_cache.events_per_s),
    tokens_computed_ratio: round(runs.without_cache.tokens_computed_per_event / runs.with_cache.tokens_computed_per_event),
    [`with_cache_${2 * mb}mb`]: runs[`with_cache_${2 * mb}mb`],
    [`events_per_s_ratio_${2 * mb}mb`]: round(runs[`with_cache_${2 * mb}mb`].events_per_s / runs.without_cache.events_per_s),
    [`tokens_computed_ratio_${2 * mb}mb`]: round(runs.without_cache.tokens_computed_per_event / runs[`with_cache_${2 * mb}mb`].tokens_computed_per_event),
    max_abs_score_difference: maxDiff,
    max_abs_score_difference_note: 'with the default cache against without it, over every concept of every event; scores are reported to 4 decimals',
    note: 'events/s: whole engine.score (tokenization, inference, SAE features, scoring), with the default turn view. tokens computed: tokens run through the model (without the cache every token of every event and of every turn view; with it, prefix cache misses). padded_tokens_per_event adds batch padding. turn_views: events whose newest turn was also read alone, and that reading\'s tokens.',
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
