import { resolveRuntimePaths, DEFAULT_PACK_ID, RuntimePaths } from '../../src/config/runtime-paths';
import { findModelArtifacts, ModelArtifacts } from '../../src/probe/model-setup';
import { loadProbePack, ProbePack } from '../../src/probe/probe-pack.loader';
import * as path from 'node:path';

export interface RealModel {
  paths: RuntimePaths;
  pack: ProbePack;
  artifacts: ModelArtifacts;
}

/**
 * The default pack with its converted model, prepared by `npm test` (probewatch setup).
 * Missing on a developer machine: the caller skips with this reason. Under CI=true: an error.
 */
export async function realModel(): Promise<RealModel | string> {
  const paths = resolveRuntimePaths();
  const pack = await loadProbePack(path.join(paths.probesDir, DEFAULT_PACK_ID));
  const artifacts = await findModelArtifacts(paths, pack.manifest);
  if (artifacts) return { paths, pack, artifacts };
  const reason = `model artifacts for ${DEFAULT_PACK_ID} are not prepared in ${paths.dataDir}: run \`npx probewatch setup\``;
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return reason;
}

export function skipNote(reason: string): void {
  process.stderr.write(`SKIPPED (prerequisite missing): ${reason}\n`);
}
