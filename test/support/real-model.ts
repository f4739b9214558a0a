import { resolveRuntimePaths, DEFAULT_PACK_ID, RuntimePaths } from '../../src/config/runtime-paths';
import { BuilderModel, findBuilderModel, findModelArtifacts, ModelArtifacts } from '../../src/probe/model-setup';
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

/** The second model family's conversion (`npm test` prepares Gemma 3 270M up to layer 12 for its parity test). */
export const SECOND_MODEL = { key: 'gemma3-270m', layer: 12 };

export async function secondModel(): Promise<{ paths: RuntimePaths; model: BuilderModel } | string> {
  const paths = resolveRuntimePaths();
  const model = await findBuilderModel(paths, SECOND_MODEL.key, SECOND_MODEL.layer);
  if (model) return { paths, model };
  const reason = `${SECOND_MODEL.key} (layer ${SECOND_MODEL.layer}) is not converted in ${paths.dataDir}: run \`npm test\`, which prepares it`;
  if (process.env.CI === 'true') throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  return reason;
}

export function skipNote(reason: string): void {
  process.stderr.write(`SKIPPED (prerequisite missing): ${reason}\n`);
}
