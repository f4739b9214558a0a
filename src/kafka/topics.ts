import type { Admin } from 'kafkajs';

/** Errors a new topic's metadata answers with until it has reached the broker that is asked: in
 * KRaft mode CreateTopics can return before then, and kafkajs's own `waitForLeaders` retries only
 * LEADER_NOT_AVAILABLE, so it fails on UNKNOWN_TOPIC_OR_PARTITION. */
const SETTLING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Creates the topics (those that exist are left as they are) and returns once every partition of
 * each has a leader, so a producer or consumer that starts next finds them. Other errors, and a
 * topic still without leaders after `timeoutMs`, are thrown.
 */
export async function createTopicsReady(admin: Admin, topics: string[], numPartitions: number, timeoutMs = 30_000, pollMs = 200): Promise<void> {
  await admin.createTopics({ waitForLeaders: false, topics: topics.map((topic) => ({ topic, numPartitions })) });
  const deadline = Date.now() + timeoutMs;
  let last = 'no metadata yet';
  for (;;) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      const waiting = topics.filter((t) => {
        const m = meta.find((x) => x.name === t);
        return !m || !m.partitions.length || m.partitions.some((p) => p.leader < 0);
      });
      if (!waiting.length) return;
      last = `no leader yet for ${waiting.join(', ')}`;
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (!type || !SETTLING.has(type)) throw e;
      last = type;
    }
    if (Date.now() >= deadline) throw new Error(`topics ${topics.join(', ')} not ready after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
