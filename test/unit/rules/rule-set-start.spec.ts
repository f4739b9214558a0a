/**
 * Rule files on start: a start whose files are rejected comes up on the last good set recorded in
 * the audit trail (the API, /readyz and the history say so), a later good reload switches back to
 * the files, and only a start with no usable recorded set fails. The audit trail is an in-memory
 * fake here; test/integration/rules/rule-history.spec.ts runs the repository on chDB.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Logger } from '@nestjs/common';

import { Metrics } from '../../../src/ops/metrics';
import { recordedSources, ruleSetHash } from '../../../src/rules/rule-loader';
import { RuleSetService } from '../../../src/rules/rule-set.service';
import type { RuleHistoryStore, RuleSetChange, StoredRuleSet } from '../../../src/storage/rule-history.repository';

const GOOD = `apiVersion: probewatch/v1
engine: ">=1.1"
rules:
  - rule: Marker
    desc: Test rule.
    severity: low
    tags: [sandbox]
    condition: event.source == "marker"
`;
const BROKEN = GOOD.replace('Marker', 'Team Rule').replace('event.source == "marker"', 'event.text matches "^(a+)+(?=b)"');

/** The audit trail in memory, with the repository's contract: the newest ok row that has sources. */
class FakeHistory implements RuleHistoryStore {
  readonly rows: RuleSetChange[] = [];
  failRead: Error | null = null;

  async record(c: RuleSetChange): Promise<void> {
    this.rows.push(c);
  }

  async latestGoodSet(): Promise<StoredRuleSet | null> {
    if (this.failRead) throw this.failRead;
    const row = [...this.rows].reverse().find((r) => r.ok && r.sources);
    return row?.sources ? { at: row.at, instance: row.instance, hash: row.hash, sources: row.sources } : null;
  }
}

function setup(history = new FakeHistory()) {
  const rulesDir = mkdtempSync(path.join(tmpdir(), 'pw-rules-start-'));
  const metrics = new Metrics();
  const sut = () => new RuleSetService({ rulesDir, rulesWatch: false }, { pack: { manifest: { features: [] } } }, metrics, history);
  return { rulesDir, history, metrics, sut, write: (name: string, text: string) => writeFileSync(path.join(rulesDir, name), text) };
}

describe('rule files on start', () => {
  beforeAll(() => Logger.overrideLogger(false));
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('records the sources of every accepted set', async () => {
    const { rulesDir, history, sut, write } = setup();
    dirs.push(rulesDir);
    write('default.yaml', GOOD);
    const first = sut();
    await first.onModuleInit();
    expect(first.state).toMatchObject({ source: 'files', storedSet: null, rules: 1, lastReload: { ok: true } });
    expect(history.rows).toHaveLength(1);
    expect(history.rows[0]).toMatchObject({ ok: true, hash: first.state.hash, sources: { 'default.yaml': GOOD } });
  });

  it('comes up on the last good set recorded when its files are rejected, and says so', async () => {
    const { rulesDir, history, metrics, sut, write } = setup();
    dirs.push(rulesDir);
    write('default.yaml', GOOD);
    const first = sut();
    await first.onModuleInit();
    const good = first.state;

    write('zz-team.yaml', BROKEN);
    const second = sut();
    await second.onModuleInit();
    expect(second.rules.map((r) => r.name)).toEqual(['Marker']);
    expect(second.serving).toBe(true);
    const problem = expect.stringMatching(/zz-team\.yaml:8:35: lookahead '\(\?=' is not supported/);
    expect(second.state).toMatchObject({
      hash: good.hash, source: 'storage', storedSet: { hash: good.hash, recordedAt: history.rows[0].at, instance: history.rows[0].instance },
      lastReload: { ok: false, problems: [problem] },
    });
    expect(second.readiness).toEqual({ ok: false, rules: 1, set: good.hash.slice(0, 12), source: 'storage', problems: [problem] });
    // The rejected start is recorded like a rejected reload: against the set it runs on.
    expect(history.rows[1]).toMatchObject({ ok: false, previousHash: good.hash, rules: 1, problems: [problem] });
    expect(history.rows[1].hash).not.toBe(good.hash);
    expect(history.rows[1].sources).toBeUndefined();
    expect(await metrics.registry.getSingleMetricAsString('probewatch_rules_last_reload_success')).toMatch(/ 0$/);

    // Fixed files switch back to them; the change is recorded against the stored set.
    write('zz-team.yaml', GOOD.replace('Marker', 'Second Marker'));
    const fixed = await second.reload('watch');
    expect(fixed).toMatchObject({ ok: true, changed: true });
    expect(second.state).toMatchObject({ source: 'files', storedSet: null, rules: 2, lastReload: { ok: true, problems: [] } });
    expect(second.readiness).toMatchObject({ ok: true, source: 'files', problems: [] });
    expect(history.rows[2]).toMatchObject({ ok: true, previousHash: good.hash, added: ['Second Marker'], removed: [], changed: [] });
  });

  it('fails the start when no good set was ever recorded, and records the rejected start', async () => {
    const { rulesDir, history, sut, write } = setup();
    dirs.push(rulesDir);
    write('default.yaml', BROKEN);
    await expect(sut().onModuleInit()).rejects.toThrow(/^rules in .* are invalid:\n {2}.*default\.yaml:8:35: lookahead/);
    expect(history.rows).toEqual([expect.objectContaining({ ok: false, previousHash: '', rules: 0 })]);
  });

  it.each([
    ['cannot be read', (h: FakeHistory) => void (h.failRead = new Error('storage down'))],
    ['does not hash to what was recorded', (h: FakeHistory) => void (h.rows[0].sources = { 'default.yaml': GOOD.replace('low', 'high') })],
    ['no longer compiles (another pack)', (h: FakeHistory) => {
      const sources = { 'default.yaml': GOOD.replace('"marker"', '"marker" and feature[7] > 1') };
      h.rows[0] = { ...h.rows[0], hash: ruleSetHash(recordedSources('rules', sources)), sources };
    }],
  ])('treats a recorded set that %s as none', async (_what, damage) => {
    const { rulesDir, history, sut, write } = setup();
    dirs.push(rulesDir);
    write('default.yaml', GOOD);
    await sut().onModuleInit();
    damage(history);
    write('default.yaml', BROKEN);
    await expect(sut().onModuleInit()).rejects.toThrow(/are invalid/);
  });
});
