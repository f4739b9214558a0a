import { Topic } from '../../../src/platform/topic';

describe('typed topic', () => {
  it('calls every subscriber, waits for none, and reports their failures without throwing', async () => {
    const errors: string[] = [];
    const t = new Topic<number>((e) => errors.push(e.message));
    const seen: number[] = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    t.subscribe((n) => void seen.push(n));
    t.subscribe(() => slow); // never awaited by publish
    t.subscribe(() => {
      throw new Error('sync failure');
    });
    t.subscribe(async () => {
      throw new Error('async failure');
    });
    t.publish(7);
    expect(seen).toEqual([7]);
    expect(errors).toEqual(['sync failure']);
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual(['sync failure', 'async failure']);
    release();
  });

  it('unsubscribes', () => {
    const t = new Topic<string>();
    const seen: string[] = [];
    const off = t.subscribe((s) => void seen.push(s));
    t.publish('a');
    off();
    t.publish('b');
    expect(seen).toEqual(['a']);
    expect(t.size).toBe(0);
  });
});
