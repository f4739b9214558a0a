import { blockKeys, PrefixBlockIndex, PrefixCachePlanner, PrefixRow } from '../../../src/probe/prefix-cache';

const ids = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + i);
const row = (x: number[], cache = true): PrefixRow => ({ ids: x, cache });

describe('blockKeys', () => {
  it('keys full blocks only, each naming the whole prefix up to its end', () => {
    const a = blockKeys(ids(10), 4);
    expect(a).toHaveLength(2);
    expect(blockKeys(ids(8), 4)).toEqual(a);
    expect(blockKeys([...ids(8), 99, 98, 97, 96], 4).slice(0, 2)).toEqual(a);
    // same second block after a different first: a different key
    const b = blockKeys([9, 9, 9, 9, 5, 6, 7, 8], 4);
    expect(b[1]).not.toEqual(a[1]);
    expect(blockKeys(ids(3), 4)).toEqual([]);
  });
});

describe('PrefixBlockIndex', () => {
  it('matches the leading run held and evicts the least recently used leaf first', () => {
    const ix = new PrefixBlockIndex(10, 30);
    const none = new Set<string>();
    expect(ix.admit('a', null, none)).toEqual({ added: true, evicted: [] });
    expect(ix.admit('b', 'a', none).added).toBe(true);
    expect(ix.admit('x', null, none).added).toBe(true);
    expect(ix.peek(['a', 'b', 'c'])).toBe(2);
    ix.touch(['x']);
    // full: the oldest block is 'a' but it has a child; the oldest leaf is 'b'
    expect(ix.admit('y', null, none).evicted).toEqual(['b']);
    expect(ix.bytes).toBe(30);
    // now 'a' is a leaf and the oldest
    expect(ix.admit('z', null, none).evicted).toEqual(['a']);
    expect(ix.peek(['a'])).toBe(0);
  });

  it('never evicts a pinned block and refuses what cannot fit', () => {
    const ix = new PrefixBlockIndex(10, 20);
    ix.admit('a', null, new Set());
    ix.admit('b', 'a', new Set());
    expect(ix.admit('c', 'b', new Set(['a', 'b']))).toEqual({ added: false, evicted: [] });
    expect(new PrefixBlockIndex(10, 5).admit('a', null, new Set()).added).toBe(false);
    expect(ix.bytes).toBeLessThanOrEqual(20);
  });
});

describe('PrefixCachePlanner', () => {
  const slot = { name: 'w0' };
  const other = { name: 'w1' };

  it('reuses the cached prefix of a lone row and stores only its new full blocks', () => {
    const p = new PrefixCachePlanner<object>(4, 100, 10_000);
    const turn1 = ids(10);
    const plan1 = p.plan(1, slot, [row(turn1)]);
    expect(plan1.reuse).toEqual([]);
    expect(plan1.store.map((s) => s.block)).toEqual([0, 1]);
    p.settle(1, 0);
    const turn2 = [...turn1, ...ids(7, 50)];
    expect(p.cachedTokens(row(turn2))).toBe(8);
    const plan2 = p.plan(2, slot, [row(turn2)]);
    expect(plan2.reuse).toEqual(blockKeys(turn1, 4));
    expect(plan2.store.map((s) => s.block)).toEqual([2, 3]);
    p.settle(2, 8);
    expect(p.stats).toEqual({ hitTokens: 8, missTokens: 10 + 9, evictedBlocks: 0 });
  });

  it('plans no reuse in a padded batch, stores per row, and forgets a failed run', () => {
    const p = new PrefixCachePlanner<object>(4, 100, 10_000);
    const plan = p.plan(1, slot, [row(ids(8)), row(ids(9, 20)), row(ids(12, 40), false)]);
    expect(plan.reuse).toEqual([]);
    expect(plan.store.map((s) => [s.row, s.block])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    p.settle(1, null);
    expect(p.bytes).toBe(0);
    expect(p.stats.missTokens).toBe(0);
  });

  it('keeps a hit out of a padded batch, and a second row starting with the same block', () => {
    const p = new PrefixCachePlanner<object>(4, 100, 10_000);
    const system = ids(4);
    expect(p.batchable(row([...system, 7, 8, 9, 10]), [row([...system, 1])])).toBe(false);
    expect(p.batchable(row(ids(4, 30)), [row([...system, 1])])).toBe(true);
    expect(p.batchable(row([1, 2]), [row([1, 2, 3])])).toBe(true);
    p.plan(1, slot, [row(system)]);
    p.settle(1, 0);
    expect(p.batchable(row([...system, 5]), [row(ids(4, 30))])).toBe(false);
    expect(p.batchable(row([...system, 5], false), [row(ids(4, 30))])).toBe(true);
  });

  it('sends a lone row to the idle worker holding its longest prefix', () => {
    const p = new PrefixCachePlanner<object>(4, 100, 10_000);
    p.plan(1, other, [row(ids(8))]);
    p.settle(1, 0);
    expect(p.slotFor([row(ids(12))], [slot, other], slot)).toBe(other);
    expect(p.slotFor([row(ids(12))], [slot], slot)).toBe(slot);
    expect(p.slotFor([row(ids(12)), row(ids(3))], [slot, other], slot)).toBe(slot);
  });

  it('holds at most its budget, evicting older conversations for newer ones', () => {
    const p = new PrefixCachePlanner<object>(4, 100, 300);
    for (let c = 0; c < 5; c++) {
      const plan = p.plan(c, slot, [row(ids(8, 100 * c))]);
      p.settle(c, 0);
      expect(p.bytes).toBeLessThanOrEqual(300);
      if (c >= 2) expect(plan.evict.length).toBeGreaterThan(0);
    }
    expect(p.stats.evictedBlocks).toBeGreaterThan(0);
    // the newest conversation is whole; the oldest is gone
    expect(p.cachedTokens(row(ids(8, 400)))).toBe(8);
    expect(p.cachedTokens(row(ids(8, 0)))).toBe(0);
  });
});
