import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { loadProbePack, PackError } from '../../../src/probe/probe-pack.loader';
import { writeSyntheticPack } from '../../support/synthetic-pack';

const fresh = (): string => mkdtempSync(path.join(tmpdir(), 'pack-'));

describe('probe pack loader', () => {
  it('loads a valid pack and decodes its weights', async () => {
    const pack = await loadProbePack(writeSyntheticPack(fresh()));
    expect(pack.manifest.id).toBe('synthetic-pack');
    expect(Array.from(pack.encoder)).toEqual([1, 0, 0, 0, 0, 1, 0, 0]);
    expect(pack.rowOf.get(20)).toBe(1);
    expect(Array.from(pack.probes.deception)).toEqual([0.5, 0.5, 0, 0]);
  });

  it('rejects a weight file whose bytes changed, naming it', async () => {
    const dir = writeSyntheticPack(fresh());
    const f = path.join(dir, 'weights', 'sae-bias.f32');
    const b = readFileSync(f);
    b.writeFloatLE(9, 0);
    writeFileSync(f, b);
    await expect(loadProbePack(dir)).rejects.toThrow(/weights\.sae-bias: sha256 .* does not match/);
  });

  it('reports every schema problem', async () => {
    const dir = writeSyntheticPack(fresh(), { version: 'latest', runtime: { context_tokens: 2 } });
    const err = await loadProbePack(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackError);
    const msg = (err as PackError).problems.join('\n');
    expect(msg).toMatch(/manifest\.version/);
    expect(msg).toMatch(/manifest\.runtime/);
  });

  it("refuses a builder_model that is not a plain model key (it becomes the conversion's --model argument)", async () => {
    const model = { id: 'none', file_sha256: 'a'.repeat(64), layer: 1, d_model: 4, source: { package: 'x', version: '0', file: 'x.gguf' } };
    const ok = await loadProbePack(writeSyntheticPack(fresh(), { model: { ...model, builder_model: 'gemma3-270m' } }));
    expect(ok.manifest.model.builder_model).toBe('gemma3-270m');
    const err = await loadProbePack(writeSyntheticPack(fresh(), { model: { ...model, builder_model: '--help' } })).catch((e: unknown) => e);
    expect((err as PackError).problems.join('\n')).toMatch(/manifest\.model\.builder_model/);
  });

  it('reports a missing pack directory clearly', async () => {
    await expect(loadProbePack(path.join(fresh(), 'nope'))).rejects.toThrow(/manifest\.json not found/);
  });

  it('checks that each probe direction has d_model weights', async () => {
    const dir = writeSyntheticPack(fresh());
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { concepts: { sycophancy: { probe: { weights_file: string } } } };
    m.concepts.sycophancy.probe.weights_file = 'b-dec-missing';
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    await expect(loadProbePack(dir)).rejects.toThrow(/concepts\.sycophancy\.probe\.weights_file: b-dec-missing not in weights/);
  });

  it('checks that probes only use features the pack ships', async () => {
    const dir = writeSyntheticPack(fresh(), { features: [{ index: 10, row: 0, label: 'only one' }] });
    await expect(loadProbePack(dir)).rejects.toThrow(/feature 20 is not in features/);
  });
});
