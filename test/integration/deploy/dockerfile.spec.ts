/**
 * docker/Dockerfile read as text (no engine here): a build stage that installs, compiles and
 * converts the model, a slim runtime stage that runs as a non-root user with the model where the
 * service looks for it, and every file it copies from the context present in the repository and
 * not excluded by .dockerignore.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { CONFIG_DOC } from '../../../src/config/app-config';

const root = path.resolve(__dirname, '..', '..', '..');

interface Instruction { op: string; args: string }
interface Stage { from: string; name: string | null; lines: Instruction[] }

/** Instructions with continuation lines joined and comments dropped, grouped by stage. */
function stages(text: string): Stage[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  const out: Stage[] = [];
  for (const line of joined.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const [, op, args] = /^(\w+)\s+([^]*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      out.push({ from: m[1], name: m[2] ?? null, lines: [] });
    } else out[out.length - 1].lines.push({ op: op.toUpperCase(), args });
  }
  return out;
}

function all(stage: Stage, op: string): string[] {
  return stage.lines.filter((l) => l.op === op).map((l) => l.args);
}

describe('docker/Dockerfile', () => {
  const text = readFileSync(path.join(root, 'docker', 'Dockerfile'), 'utf8');
  const st = stages(text);
  const build = st[0];
  const runtime = st[st.length - 1];

  it('builds in a full Node image and runs in a slim one', () => {
    expect(st.length).toBeGreaterThanOrEqual(2);
    expect(build.from).toBe('node:20-bookworm');
    expect(runtime.from).toBe('node:20-bookworm-slim');
  });

  it('installs from the lock file (the repository .npmrc skips the CUDA download), prepares the model, drops dev dependencies', () => {
    const runs = all(build, 'RUN').join('\n');
    expect(runs).toMatch(/python3-venv/);
    // Not `npm ci`: chdb's lock entries for unpublished platform packages make it fail (README).
    expect(runs).toMatch(/\bnpm install\b/);
    expect(runs).not.toMatch(/\bnpm ci\b/);
    expect(all(build, 'COPY').some((c) => c.split(/\s+/).includes('.npmrc'))).toBe(true);
    expect(readFileSync(path.join(root, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
    expect(runs).toMatch(/node bin\/probewatch\.js setup/);
    expect(runs).toMatch(/npm prune --omit=dev/);
  });

  it('runs as a non-root user in the final stage', () => {
    const users = all(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('puts the converted model where the service looks for it ($PROBEWATCH_DATA_DIR/models)', () => {
    const env = all(runtime, 'ENV').join(' ');
    const dataDir = /PROBEWATCH_DATA_DIR=(\S+)/.exec(env)![1];
    const modelCopy = all(runtime, 'COPY').find((c) => /--from=\S+\s+\S+\/models\s/.test(c))!;
    const modelDir = modelCopy.split(/\s+/).pop()!;
    expect(all(runtime, 'RUN').join('\n')).toContain(`ln -s ${modelDir} ${dataDir}/models`);
    expect(all(runtime, 'VOLUME').join(' ')).toContain(dataDir);
  });

  it('copies what the service reads from its project root: package.json, migrations, packs, rules, console assets', () => {
    const targets = all(runtime, 'COPY').map((c) => c.split(/\s+/).pop()!.replace(/^\.\//, '').replace(/\/$/, ''));
    for (const t of ['package.json', 'node_modules', 'dist', 'bin', 'probes', 'rules', 'src/storage/migrations', 'src/console/assets']) expect(targets).toContain(t);
  });

  it('copies from the context only paths that exist and that .dockerignore lets through', () => {
    const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const sources = st.flatMap((s) => all(s, 'COPY')).filter((c) => !c.startsWith('--from')).flatMap((c) => c.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect([src, existsSync(path.join(root, src))]).toEqual([src, true]);
      expect([src, ignored.some((i) => !i.includes('*') && (src === i || src.startsWith(`${i}/`)))]).toEqual([src, false]);
    }
  });

  it('exposes the default port and checks /healthz', () => {
    const port = CONFIG_DOC.find((d) => d.name === 'PORT')!.default;
    expect(all(runtime, 'EXPOSE')).toContain(port);
    expect(all(runtime, 'HEALTHCHECK').join(' ')).toMatch(/\/healthz/);
    expect(all(runtime, 'CMD').join(' ')).toContain('dist/main.js');
  });
});
