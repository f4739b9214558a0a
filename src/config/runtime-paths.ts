import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Where probewatch keeps its data and finds its packs. The only place (with config/) that reads
 * process.env, so every other module receives paths explicitly.
 */
export interface RuntimePaths {
  /** Root of mutable data: model artifacts, Python environment, caches. */
  dataDir: string;
  /** Repository root (for the bundled builder and probe packs). */
  projectRoot: string;
  /** Directory holding probe packs (`probes/<pack-id>/manifest.json`). */
  probesDir: string;
  /** Python interpreter used to create the builder environment. */
  python: string;
}

export const DEFAULT_PACK_ID = 'smollm2-135m-safety';

export function resolveRuntimePaths(env: NodeJS.ProcessEnv = process.env): RuntimePaths {
  const projectRoot = findProjectRoot();
  return {
    dataDir: path.resolve(env.PROBEWATCH_DATA_DIR ?? path.join(projectRoot, 'data')),
    projectRoot,
    probesDir: path.resolve(env.PROBEWATCH_PROBES_DIR ?? path.join(projectRoot, 'probes')),
    python: env.PROBEWATCH_PYTHON ?? 'python3',
  };
}

/** A pack reference: an id under probes/ or a directory (anything with a path separator, or that exists). */
export function resolvePackDir(paths: RuntimePaths, ref: string | undefined): string {
  const r = ref ?? DEFAULT_PACK_ID;
  if (r.includes('/') || r.includes(path.sep) || existsSync(r)) return path.resolve(r);
  return path.join(paths.probesDir, r);
}

/**
 * The checkout: the nearest directory above this file with a package.json and src/ (this file
 * runs from src/ under jest, from dist/ in the service, from dist-tools/src/ in the tools).
 */
export function findProjectRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..', '..');
  }
}
