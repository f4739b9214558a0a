import type { Admin } from 'kafkajs';
import { createTopicsReady } from '../../../src/kafka/topics';

/** A stand-in admin whose metadata answers from a script, one entry per call; the real broker's
 * path is every Kafka integration test (they create their topics through the same function). */
function fakeAdmin(script: Array<Error | Array<{ name: string; leaders: number[] }>>) {
  const calls = { create: [] as unknown[], metadata: 0 };
  const admin = {
    createTopics: async (opts: unknown) => { calls.create.push(opts); return true; },
    fetchTopicMetadata: async () => {
      const step = script[Math.min(calls.metadata++, script.length - 1)];
      if (step instanceof Error) throw step;
      return { topics: step.map((t) => ({ name: t.name, partitions: t.leaders.map((leader, partitionId) => ({ partitionId, leader })) })) };
    },
  } as unknown as Admin;
  return { admin, calls };
}

function kafkaError(type: string): Error {
  return Object.assign(new Error(type), { type });
}

describe('createTopicsReady', () => {
  it('waits through the errors of metadata that has not settled, then returns once every partition has a leader', async () => {
    const { admin, calls } = fakeAdmin([
      kafkaError('UNKNOWN_TOPIC_OR_PARTITION'),
      kafkaError('LEADER_NOT_AVAILABLE'),
      [{ name: 'a', leaders: [1, -1] }, { name: 'b', leaders: [1, 1] }],
      [{ name: 'a', leaders: [1, 1] }, { name: 'b', leaders: [1, 1] }],
    ]);
    await createTopicsReady(admin, ['a', 'b'], 2, 5_000, 1);
    expect(calls.metadata).toBe(4);
    expect(calls.create).toEqual([{ waitForLeaders: false, topics: [{ topic: 'a', numPartitions: 2 }, { topic: 'b', numPartitions: 2 }] }]);
  });

  it('throws any other error at once', async () => {
    const { admin, calls } = fakeAdmin([kafkaError('TOPIC_AUTHORIZATION_FAILED')]);
    await expect(createTopicsReady(admin, ['a'], 1, 5_000, 1)).rejects.toThrow('TOPIC_AUTHORIZATION_FAILED');
    expect(calls.metadata).toBe(1);
  });

  it('gives up after the timeout, saying what it was waiting for', async () => {
    const { admin } = fakeAdmin([[{ name: 'a', leaders: [-1] }]]);
    await expect(createTopicsReady(admin, ['a'], 1, 30, 5)).rejects.toThrow(/not ready after 30 ms \(no leader yet for a\)/);
  });
});
