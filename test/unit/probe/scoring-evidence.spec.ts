import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { loadProbePack, ProbePack } from '../../../src/probe/probe-pack.loader';
import { ConversationScorer } from '../../../src/probe/scoring';
import { SYNTHETIC_WINDOW, writeSyntheticPack } from '../../support/synthetic-pack';

describe('token evidence positions', () => {
  let pack: ProbePack;
  beforeAll(async () => {
    pack = await loadProbePack(writeSyntheticPack(mkdtempSync(path.join(tmpdir(), 'pack-'))));
  });

  // Same window as scoring.spec: deception's top token is conversation index 43 (window offset 40 + 3).
  const { roles, ids } = SYNTHETIC_WINDOW;
  const hidden = SYNTHETIC_WINDOW.hidden();

  it('adds the message and character span of each top token, looked up by its conversation index', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden, ids, roles, 40);
    const seen: number[] = [];
    const r = s.finish((id) => `tok${id}`, (i) => {
      seen.push(i);
      return { message: 1, start: i - 40, end: i - 39 };
    });
    expect(r.deception.features[0].top_tokens).toEqual([{ index: 43, token: 'tok103', activation: 1, message: 1, start: 3, end: 4 }]);
    expect(r.deception.tokens?.[0]).toEqual({ index: 43, token: 'tok103', activation: 1, message: 1, start: 3, end: 4 });
    expect(seen).toContain(43);
  });

  it('keeps the old shape for tokens with no known origin', () => {
    const s = new ConversationScorer(pack);
    s.addWindow(hidden, ids, roles, 40);
    const top = s.finish((id) => `tok${id}`, () => undefined).deception.features[0].top_tokens;
    expect(Object.keys(top[0])).toEqual(['index', 'token', 'activation']);
  });
});
