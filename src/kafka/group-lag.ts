import type { Kafka } from 'kafkajs';

/**
 * Messages a consumer group has not committed yet on a topic: the sum over partitions of end
 * offset minus committed offset (the partition start when the group has committed nothing).
 */
export async function groupLag(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Right after a rebalance the group's coordinator may still be moving (NOT_COORDINATOR):
    // a retriable error, so ask again a few times before giving up.
    for (let attempt = 1; ; attempt++) {
      try {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return ends.reduce((lag, p) => {
          const c = Number(committed.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
          return lag + Number(p.high) - (c >= 0 ? c : Number(p.low));
        }, 0);
      } catch (e) {
        if (!(e as { retriable?: boolean }).retriable || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  } finally {
    await admin.disconnect();
  }
}
