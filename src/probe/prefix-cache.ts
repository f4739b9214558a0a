/**
 * Prefix reuse (issue 15), the bookkeeping half: which blocks of key/value state each worker
 * holds, and what one run should read, store and evict. Pure: no ONNX Runtime, no threads.
 *
 * As in vLLM's automatic prefix caching, a conversation's token ids are cut into full blocks of
 * `blockTokens`, and block j's key hashes block j-1's key with block j's ids, so a key names the
 * whole prefix up to the end of its block: a block is reused only when everything before it
 * matches too. The tensors live in the worker threads (kv-block-store.ts); this index mirrors
 * each worker's store exactly, because the worker only evicts and stores what a plan from here
 * tells it to, and a worker runs one request at a time.
 *
 * Eviction is least recently used among leaves (blocks no cached block extends): evicting an
 * inner block would leave its descendants unreachable while they still take memory.
 */
import { createHash } from 'node:crypto';

/** Chained keys of the full blocks of `ids` (a trailing partial block has none). */
export function blockKeys(ids: readonly number[], blockTokens: number): string[] {
  const keys: string[] = [];
  let parent = '';
  for (let a = 0; a + blockTokens <= ids.length; a += blockTokens) {
    const h = createHash('sha256').update(parent);
    h.update(new Uint8Array(Int32Array.from(ids.slice(a, a + blockTokens)).buffer));
    parent = h.digest('base64url').slice(0, 22); // 132 bits
    keys.push(parent);
  }
  return keys;
}

interface Entry {
  parent: string | null;
  children: number;
}

/** The blocks one worker holds, in least-recently-used order, within a byte budget. */
export class PrefixBlockIndex {
  /** Insertion order is recency order: oldest first (a touch re-inserts). */
  private readonly blocks = new Map<string, Entry>();

  constructor(readonly blockBytes: number, readonly budgetBytes: number) {}

  get size(): number {
    return this.blocks.size;
  }

  get bytes(): number {
    return this.blocks.size * this.blockBytes;
  }

  has(key: string): boolean {
    return this.blocks.has(key);
  }

  /** How many leading keys are held (no recency change). */
  peek(keys: readonly string[]): number {
    let n = 0;
    while (n < keys.length && this.blocks.has(keys[n])) n++;
    return n;
  }

  /** Marks keys as just used, the first ones oldest (so a chain's tail stays the likelier victim). */
  touch(keys: readonly string[]): void {
    for (const k of keys) {
      const e = this.blocks.get(k);
      if (!e) continue;
      this.blocks.delete(k);
      this.blocks.set(k, e);
    }
  }

  /**
   * Adds `key` as the child of `parent` (null: a first block), evicting least recently used
   * leaves outside `pinned` until it fits. `added` is false when it cannot fit even so; the
   * blocks evicted on the way are gone either way (the caller tells the worker to drop them).
   */
  admit(key: string, parent: string | null, pinned: ReadonlySet<string>): { added: boolean; evicted: string[] } {
    const evicted: string[] = [];
    if (this.blocks.has(key)) return { added: true, evicted };
    if (this.blockBytes > this.budgetBytes) return { added: false, evicted };
    while (this.bytes + this.blockBytes > this.budgetBytes) {
      const victim = this.oldestLeaf(pinned);
      if (victim === null) return { added: false, evicted };
      this.remove(victim);
      evicted.push(victim);
    }
    this.blocks.set(key, { parent, children: 0 });
    if (parent !== null) {
      const p = this.blocks.get(parent);
      if (p) p.children++;
    }
    return { added: true, evicted };
  }

  /** Drops a block (a leaf: its children, if any, become unreachable and should go first). */
  remove(key: string): void {
    const e = this.blocks.get(key);
    if (!e) return;
    this.blocks.delete(key);
    if (e.parent !== null) {
      const p = this.blocks.get(e.parent);
      if (p) p.children--;
    }
  }

  private oldestLeaf(pinned: ReadonlySet<string>): string | null {
    for (const [k, e] of this.blocks) if (e.children === 0 && !pinned.has(k)) return k;
    return null;
  }
}

/** What one run reads from, and leaves in, its worker's block store (sent with the request). */
export interface PrefixPlan {
  blockTokens: number;
  /** Blocks to read as the first reuse.length x blockTokens tokens (a lone row only). */
  reuse: string[];
  /** Blocks of this run's rows to keep afterwards: row of the batch, block index in the row, key. */
  store: Array<{ row: number; block: number; key: string }>;
  /** Blocks to drop first (never one of `reuse`). */
  evict: string[];
}

export interface PrefixCacheStats {
  /** Tokens whose key/value state and residual came from the cache. */
  hitTokens: number;
  /** Tokens computed by runs that looked the cache up (truncated conversations do not). */
  missTokens: number;
  evictedBlocks: number;
}

/** One conversation of a batch; `cache` false: neither read nor stored (a truncated one). */
export interface PrefixRow {
  ids: readonly number[];
  cache: boolean;
}

/** Bytes of one token's cache entry: K and V of every layer, and its residual. */
export function tokenBytes(layers: number, kvHeads: number, headDim: number, dModel: number): number {
  return (layers * 2 * kvHeads * headDim + dModel) * Float32Array.BYTES_PER_ELEMENT;
}

/**
 * The batcher's side: one index per worker (`S`: the batcher's slot), the plan of each run, and
 * the hit/miss counters. The budget is per worker, so the process holds at most
 * workers x budget of cached tensors.
 */
export class PrefixCachePlanner<S extends object> {
  private readonly indexes = new Map<S, PrefixBlockIndex>();
  private readonly keyMemo = new WeakMap<readonly number[], string[]>();
  private readonly running = new Map<number, { slot: S; rows: readonly PrefixRow[]; admitted: string[] }>();
  readonly stats: PrefixCacheStats = { hitTokens: 0, missTokens: 0, evictedBlocks: 0 };

  constructor(readonly blockTokens: number, readonly blockBytes: number, readonly budgetBytes: number) {}

  /** Bytes of cached tensors held, all workers together. */
  get bytes(): number {
    let n = 0;
    for (const ix of this.indexes.values()) n += ix.bytes;
    return n;
  }

  keys(ids: readonly number[]): string[] {
    let k = this.keyMemo.get(ids);
    if (!k) {
      k = blockKeys(ids, this.blockTokens);
      this.keyMemo.set(ids, k);
    }
    return k;
  }

  private index(slot: S): PrefixBlockIndex {
    let ix = this.indexes.get(slot);
    if (!ix) {
      ix = new PrefixBlockIndex(this.blockBytes, this.budgetBytes);
      this.indexes.set(slot, ix);
    }
    return ix;
  }

  /** Leading tokens of the row held by `slot`, or by the worker holding the most. */
  cachedTokens(row: PrefixRow, slot?: S): number {
    if (!row.cache) return 0;
    const keys = this.keys(row.ids);
    const ixs = slot ? [this.index(slot)] : [...this.indexes.values()];
    return Math.max(0, ...ixs.map((ix) => ix.peek(keys))) * this.blockTokens;
  }

  /**
   * Whether `row` may join a padded batch that already holds `taken`. Not when it would read
   * from the cache (a cache hit runs alone, on little compute), nor when it starts with the same
   * block as a row taken (say the same system prompt): it then waits one run and reuses that
   * row's blocks instead of computing them a second time.
   */
  batchable(row: PrefixRow, taken: readonly PrefixRow[]): boolean {
    if (!row.cache) return true;
    if (this.cachedTokens(row) > 0) return false;
    const first = this.keys(row.ids)[0];
    return first === undefined || !taken.some((t) => t.cache && this.keys(t.ids)[0] === first);
  }

  /** For a lone row: the idle slot holding its longest prefix (`fallback` when none holds any). */
  slotFor(rows: readonly PrefixRow[], idle: readonly S[], fallback: S): S {
    if (rows.length !== 1) return fallback;
    let best = fallback;
    let most = this.cachedTokens(rows[0], fallback);
    for (const s of idle) {
      const n = this.cachedTokens(rows[0], s);
      if (n > most) [best, most] = [s, n];
    }
    return best;
  }

  /** The plan of run `seq` on `slot`; the index assumes it succeeds until `settle` says otherwise. */
  plan(seq: number, slot: S, rows: readonly PrefixRow[]): PrefixPlan {
    const ix = this.index(slot);
    const reuse = rows.length === 1 && rows[0].cache ? this.keys(rows[0].ids).slice(0, ix.peek(this.keys(rows[0].ids))) : [];
    ix.touch(reuse);
    const pinned = new Set(reuse);
    const plan: PrefixPlan = { blockTokens: this.blockTokens, reuse, store: [], evict: [] };
    const admitted: string[] = [];
    rows.forEach((r, row) => {
      if (!r.cache) return;
      const keys = this.keys(r.ids);
      for (let j = 0; j < keys.length; j++) {
        if (ix.has(keys[j])) {
          ix.touch([keys[j]]);
          pinned.add(keys[j]);
          continue;
        }
        const { added, evicted } = ix.admit(keys[j], j > 0 ? keys[j - 1] : null, pinned);
        plan.evict.push(...evicted);
        if (!added) break;
        pinned.add(keys[j]);
        admitted.push(keys[j]);
        plan.store.push({ row, block: j, key: keys[j] });
      }
    });
    this.stats.evictedBlocks += plan.evict.length;
    this.running.set(seq, { slot, rows, admitted });
    return plan;
  }

  /** Run `seq` finished: `reusedTokens` read from the cache, or null when it failed (then the
   *  blocks it was to store are forgotten). */
  settle(seq: number, reusedTokens: number | null): void {
    const run = this.running.get(seq);
    if (!run) return;
    this.running.delete(seq);
    if (reusedTokens === null) {
      const ix = this.index(run.slot);
      for (let i = run.admitted.length - 1; i >= 0; i--) ix.remove(run.admitted[i]);
      return;
    }
    const tokens = run.rows.reduce((n, r) => n + (r.cache ? r.ids.length : 0), 0);
    if (tokens === 0) return;
    this.stats.hitTokens += reusedTokens;
    this.stats.missTokens += tokens - reusedTokens;
  }
}
