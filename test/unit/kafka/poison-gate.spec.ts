/** ChunkGate (src/kafka/locks.ts): a suspect message runs with no chunk beside it, in arrival order. */
import { ChunkGate } from '../../../src/kafka/locks';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('chunk gate', () => {
  it('lets chunks run side by side, and a lone message only when none is running', async () => {
    const gate = new ChunkGate();
    const order: string[] = [];
    const a = await gate.enter(false);
    const b = await gate.enter(false);
    expect(gate.holders).toBe(2);
    const lone = gate.enter(true).then((release) => {
      order.push('lone');
      return release;
    });
    // A chunk that arrives after the lone message waits for it.
    const c = gate.enter(false).then((release) => {
      order.push('c');
      return release;
    });
    await tick();
    expect(order).toEqual([]);
    a();
    await tick();
    expect(order).toEqual([]);
    b();
    const releaseLone = await lone;
    expect(gate.holders).toBe(1);
    await tick();
    expect(order).toEqual(['lone']);
    releaseLone();
    releaseLone(); // a second release changes nothing
    (await c)();
    expect(order).toEqual(['lone', 'c']);
    expect(gate.holders).toBe(0);
  });

  it('runs lone messages one at a time', async () => {
    const gate = new ChunkGate();
    const first = await gate.enter(true);
    let second = false;
    const next = gate.enter(true).then((r) => {
      second = true;
      return r;
    });
    await tick();
    expect(second).toBe(false);
    first();
    (await next)();
    expect(second).toBe(true);
  });
});
