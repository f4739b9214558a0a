import { KvBlockStore } from '../../../src/probe/kv-block-store';

describe('KvBlockStore', () => {
  // 2 layers, 2 kv heads, head size 3, blocks of 2 tokens, d = 4.
  const g = { layers: 2, kvHeads: 2, headDim: 3 };
  const B = 2;
  const batch = 2;
  const T = 5;
  const d = 4;
  /** present[t][row][head][pos][dim] = t*10000 + row*1000 + head*100 + pos*10 + dim */
  const present = Array.from({ length: g.layers * 2 }, (_, t) => {
    const a = new Float32Array(batch * g.kvHeads * T * g.headDim);
    for (let r = 0; r < batch; r++) for (let h = 0; h < g.kvHeads; h++) for (let p = 0; p < T; p++) for (let j = 0; j < g.headDim; j++) {
      a[((r * g.kvHeads + h) * T + p) * g.headDim + j] = t * 10000 + r * 1000 + h * 100 + p * 10 + j;
    }
    return a;
  });
  const hidden = Float32Array.from({ length: batch * T * d }, (_, i) => i);

  it('gives back blocks of one row as the [1, heads, tokens, dim] past of their positions, and their residuals', () => {
    const s = new KvBlockStore(g, B);
    s.put('k0', present, batch, 1, 0, hidden, T);
    s.put('k1', present, batch, 1, 1, hidden, T);
    const got = s.read(['k0', 'k1', 'missing']);
    expect(got.tokens).toBe(4);
    for (let t = 0; t < g.layers * 2; t++) {
      for (let h = 0; h < g.kvHeads; h++) for (let p = 0; p < 4; p++) for (let j = 0; j < g.headDim; j++) {
        expect(got.past[t][(h * 4 + p) * g.headDim + j]).toBe(t * 10000 + 1000 + h * 100 + p * 10 + j);
      }
    }
    expect(Array.from(got.hidden)).toEqual(Array.from(hidden.subarray(T * d, (T + 4) * d)));
    expect(s.bytes).toBe(2 * 4 * (g.layers * 2 * g.kvHeads * B * g.headDim + B * d));
    s.evict(['k0']);
    expect(s.read(['k0', 'k1']).tokens).toBe(0);
  });
});
