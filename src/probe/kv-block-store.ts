/**
 * Prefix reuse (issue 15), the tensor half: the blocks of key/value state and residuals one
 * worker thread holds, under the keys and evictions its batcher's index decides
 * (prefix-cache.ts). Plain typed arrays, no ONNX Runtime, so the layout is tested on its own.
 *
 * A block of B tokens keeps, for every cached layer, the keys and the values of its B positions
 * ([kvHeads, B, headDim] each, laid out layer-major: k0 v0 k1 v1 ...), and the residual rows of
 * its B tokens at the pack's layer ([B, dModel]): a probe scores every token of a conversation,
 * so a reused prefix has to give back its tokens' residuals as well as their attention state.
 */
export interface KvGeometry {
  /** Transformer blocks with cache inputs (past_key_<i> / past_value_<i>). */
  layers: number;
  kvHeads: number;
  headDim: number;
}

interface Block {
  /** [layers x 2][kvHeads][B][headDim] */
  kv: Float32Array;
  /** [B][dModel] */
  hidden: Float32Array;
}

/** A prefix read from the store: per past_* tensor (index layer x 2 + kind) its data for
 *  [1, kvHeads, tokens, headDim], and the residuals [tokens, dModel]. */
export interface StoredPrefix {
  tokens: number;
  past: Float32Array[];
  hidden: Float32Array;
}

export class KvBlockStore {
  private readonly blocks = new Map<string, Block>();

  constructor(private readonly g: KvGeometry, readonly blockTokens: number) {}

  get size(): number {
    return this.blocks.size;
  }

  get bytes(): number {
    let n = 0;
    for (const b of this.blocks.values()) n += b.kv.byteLength + b.hidden.byteLength;
    return n;
  }

  evict(keys: readonly string[]): void {
    for (const k of keys) this.blocks.delete(k);
  }

  /** The longest leading run of `keys` held, concatenated along the sequence. */
  read(keys: readonly string[]): StoredPrefix {
    const { layers, kvHeads: H, headDim: D } = this.g;
    const B = this.blockTokens;
    const found: Block[] = [];
    for (const k of keys) {
      const b = this.blocks.get(k);
      if (!b) break;
      found.push(b);
    }
    const n = found.length;
    const tokens = n * B;
    const past = Array.from({ length: layers * 2 }, () => new Float32Array(H * tokens * D));
    const d = n > 0 ? found[0].hidden.length / B : 0;
    const hidden = new Float32Array(tokens * d);
    found.forEach((b, j) => {
      for (let t = 0; t < layers * 2; t++) {
        for (let h = 0; h < H; h++) {
          const src = (t * H + h) * B * D;
          past[t].set(b.kv.subarray(src, src + B * D), (h * tokens + j * B) * D);
        }
      }
      hidden.set(b.hidden, j * B * d);
    });
    return { tokens, past, hidden };
  }

  /**
   * Keeps block `block` of batch row `row` under `key`, copied out of this run's present_*
   * tensors (index layer x 2 + kind, each [batch, kvHeads, T, headDim]) and the run's residuals
   * ([batch, length, dModel], every token of every row, a reused prefix included).
   */
  put(key: string, present: readonly Float32Array[], batch: number, row: number, block: number, hidden: Float32Array, length: number): void {
    const { layers, kvHeads: H, headDim: D } = this.g;
    const B = this.blockTokens;
    const T = present[0].length / (batch * H * D);
    const kv = new Float32Array(layers * 2 * H * B * D);
    for (let t = 0; t < layers * 2; t++) {
      for (let h = 0; h < H; h++) {
        const src = ((row * H + h) * T + block * B) * D;
        kv.set(present[t].subarray(src, src + B * D), (t * H + h) * B * D);
      }
    }
    const d = hidden.length / (batch * length);
    const src = (row * length + block * B) * d;
    this.blocks.set(key, { kv, hidden: hidden.slice(src, src + B * d) });
  }
}
