import { promises as fs } from 'node:fs';

import type { ProbeEvent } from '../domain/event';
import { ChatTokenizer, EncodedConversation, ROLE_CODES } from './chat-tokenizer';
import type { ModelArtifacts } from './model-setup';
import type { ProbePack } from './probe-pack.loader';
import { BatchStats, PrefixCacheReport, ResidualBatcher } from './residual-batcher';
import { ConversationScorer, fitContext, newestTurn, viewTokenIndex } from './scoring';
import type { ConceptResult, ScoredEvent, TokenLocator } from '../domain/scored-event';
import { ConceptId, DEFAULT_TURN_VIEW, parseTurnView } from '../domain/concepts';

export interface EngineOptions {
  executionProvider: 'cpu' | 'cuda' | 'webgpu';
  workers: number;
  intraOpThreads: number;
  tokenBudget: number;
  maxWaitMs: number;
  maxQueuedWindows: number;
  /** Prefix cache per worker, in MiB (PROBEWATCH_PREFIX_CACHE_MB; 0: off). */
  prefixCacheMb: number;
  /**
   * The turn view (PROBEWATCH_TURN_VIEW): these concepts also read the newest turn with the
   * system prompt alone, at most `turnViewTokens` tokens of it (fitContext's policy); when that
   * reading is flagged and scores higher, it is the result. Empty: off.
   */
  turnViewConcepts: readonly ConceptId[];
  turnViewTokens: number;
  /** The turn view is read only after this many tokens of earlier (non-system) messages: below
   *  it, the whole conversation read in context already catches what the view would (measured
   *  on the held-out scenarios; see the README), and the view only adds false positives. */
  turnViewAfterTokens: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  executionProvider: 'cpu',
  workers: 1,
  intraOpThreads: 0,
  tokenBudget: 4096,
  maxWaitMs: 10,
  maxQueuedWindows: 1024,
  prefixCacheMb: 256,
  turnViewConcepts: parseTurnView(DEFAULT_TURN_VIEW),
  turnViewTokens: 1024,
  turnViewAfterTokens: 512,
};

/** Event in, calibrated concept scores and feature evidence out. */
export class ProbeEngine {
  private constructor(
    readonly pack: ProbePack,
    private readonly tokenizer: ChatTokenizer,
    private readonly batcher: ResidualBatcher,
    private readonly turnView: { concepts: readonly ConceptId[]; tokens: number; after: number },
  ) {}

  static async create(pack: ProbePack, artifacts: ModelArtifacts, options: Partial<EngineOptions> = {}): Promise<ProbeEngine> {
    const opts = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    const tokenizer = new ChatTokenizer({
      tokenizerJson: JSON.parse(await fs.readFile(artifacts.tokenizerJsonPath, 'utf8')) as Record<string, unknown>,
      config: JSON.parse(await fs.readFile(artifacts.tokenizerConfigPath, 'utf8')) as ChatTokenizer['files']['config'],
    });
    const batcher = await ResidualBatcher.start({
      modelPath: artifacts.onnxPath,
      outputName: artifacts.outputName,
      dModel: pack.manifest.model.d_model,
      padId: pack.manifest.tokenizer.pad_token_id,
      executionProvider: opts.executionProvider,
      kvHeads: artifacts.kvHeads,
      headDim: artifacts.headDim,
      chunkTokens: pack.manifest.runtime.chunk_tokens,
      workers: opts.workers,
      intraOpThreads: opts.intraOpThreads,
      tokenBudget: Math.max(opts.tokenBudget, pack.manifest.runtime.chunk_tokens),
      maxWaitMs: opts.maxWaitMs,
      maxQueuedWindows: opts.maxQueuedWindows,
      prefixCacheBytes: Math.floor(opts.prefixCacheMb * 1024 * 1024),
    });
    return new ProbeEngine(pack, tokenizer, batcher, { concepts: opts.turnViewConcepts, tokens: opts.turnViewTokens, after: opts.turnViewAfterTokens });
  }

  /** Turn views read so far, and their tokens (benchmarks report the view's cost with them). */
  readonly turnViewsRead = { views: 0, tokens: 0 };

  /** The concepts that also read the newest turn alone (empty: the turn view is off). */
  get turnViewConcepts(): readonly ConceptId[] {
    return this.turnView.concepts;
  }

  get stats(): BatchStats {
    return this.batcher.stats;
  }

  get queuedWindows(): number {
    return this.batcher.queued;
  }

  /** Prefix cache hit/miss tokens and bytes held (read by /metrics). */
  get prefixCacheStats(): PrefixCacheReport {
    return this.batcher.prefixStats;
  }

  /** `priority`: the inline guard's lane, dispatched ahead of queued work (ResidualBatcher.run). */
  async score(event: ProbeEvent, opts: { priority?: boolean } = {}): Promise<ScoredEvent> {
    const enc = this.tokenizer.encode(event.messages);
    const { ids, roles } = enc;
    const fit = fitContext(roles, enc.msg, this.pack.manifest.runtime.context_tokens);
    const kept = fit.kept.flatMap(([a, b]) => ids.slice(a, b));
    const scorer = new ConversationScorer(this.pack);
    const turn = this.scoreTurn(event, enc, opts);
    turn.catch(() => undefined); // awaited below; this keeps a failure meanwhile from being "unhandled"
    if (kept.length > 0) {
      // A truncated conversation bypasses the prefix cache: past the context its kept tail slides
      // with every new turn, so its blocks would never be read again and would only evict others.
      const hidden = await this.batcher.run(kept, { ...opts, prefixCache: fit.dropped === undefined });
      this.addRuns(scorer, hidden, fit.kept, enc);
    }
    const locate = (i: number): ReturnType<TokenLocator> => locateToken(enc, i);
    const concepts = scorer.finish((id) => this.tokenizer.decodeToken(id), locate);
    const turnScorer = await turn;
    if (turnScorer) {
      const byTurn = turnScorer.finish((id) => this.tokenizer.decodeToken(id), locate);
      for (const c of this.turnView.concepts) {
        // The view can raise an alert the whole conversation misses; below its threshold it
        // leaves the conversation's score alone, so it does not reorder conversations it does not
        // flag (on whole transcripts whose signal is not in the newest turn, taking the higher
        // score lowered harmful_intent's AUROC against controls from 0.88 to 0.63).
        const t = byTurn[c];
        if (t.in_scope && t.flagged && t.score > concepts[c].score) concepts[c] = { ...t, view: 'turn' } as ConceptResult;
      }
    }
    return {
      id: event.id,
      pack: { id: this.pack.manifest.id, version: this.pack.manifest.version },
      truncated: fit.dropped !== undefined,
      ...(fit.dropped ? { dropped: fit.dropped } : {}),
      tokens: ids.length,
      tokens_scored: kept.length,
      concepts,
    };
  }

  /**
   * The turn view, read beside the whole conversation: a probe trained on conversations of a
   * few hundred tokens can lose a request that comes after thousands of benign ones (issue 16),
   * and a monitor exists for the newest turn. Its residuals are the newest turn's with only the
   * system prompt before it (usually already in the prefix cache), so the view costs the turn's
   * tokens once more. Undefined when off, when the turn is the whole conversation, or when fewer
   * than `turnViewAfterTokens` tokens of earlier messages come before it.
   */
  private async scoreTurn(event: ProbeEvent, whole: EncodedConversation, opts: { priority?: boolean }): Promise<ConversationScorer | undefined> {
    if (this.turnView.concepts.length === 0) return undefined;
    const view = newestTurn(event.messages);
    if (!view) return undefined;
    const firstOfTurn = view.index.find((i) => event.messages[i].role !== 'system') as number;
    let earlier = 0;
    for (let t = 0; t < whole.ids.length; t++) {
      const m = whole.msg[t];
      if (m >= firstOfTurn) break;
      if (m >= 0 && whole.roles[t] !== ROLE_CODES.system) earlier++;
    }
    if (earlier < this.turnView.after) return undefined;
    let enc: EncodedConversation;
    try {
      enc = this.tokenizer.encode(view.messages);
    } catch {
      // A chat template that insists on its own role order (e.g. strict user/assistant
      // alternation) may refuse the shortened conversation it accepted whole: then there is no
      // turn view, and the whole conversation decides, as it does with the view off.
      return undefined;
    }
    const fit = fitContext(enc.roles, enc.msg, Math.min(this.turnView.tokens, this.pack.manifest.runtime.context_tokens));
    const index = viewTokenIndex(enc, whole, view.index);
    const kept = fit.kept.flatMap(([a, b]) => enc.ids.slice(a, b));
    if (kept.length === 0) return undefined;
    this.turnViewsRead.views++;
    this.turnViewsRead.tokens += kept.length;
    const hidden = await this.batcher.run(kept, { ...opts, prefixCache: true });
    const scorer = new ConversationScorer(this.pack);
    this.addRuns(scorer, hidden, fit.kept, enc, index);
    return scorer;
  }

  /**
   * Feeds the residuals of the kept runs (`hidden`: their rows, run after run) to the scorer.
   * `index`: each token's position in the whole conversation, when `enc` is a view of it.
   */
  private addRuns(scorer: ConversationScorer, hidden: Float32Array, runs: ReadonlyArray<[number, number]>, enc: EncodedConversation, index?: readonly number[]): void {
    const d = this.pack.manifest.model.d_model;
    let row = 0;
    for (const [a, b] of runs) {
      scorer.addWindow(hidden.subarray(row * d, (row + b - a) * d), enc.ids.slice(a, b), enc.roles.slice(a, b), index ? index.slice(a, b) : a);
      row += b - a;
    }
  }

  async close(): Promise<void> {
    await this.batcher.close();
  }
}

/** Where token i came from, for its evidence: nothing for markup, no offsets if unaligned. */
function locateToken(enc: EncodedConversation, i: number): ReturnType<TokenLocator> {
  const message = enc.msg[i];
  if (message === undefined || message < 0) return undefined;
  return enc.start[i] < 0 ? { message } : { message, start: enc.start[i], end: enc.end[i] };
}
