import { Controller, Get } from '@nestjs/common';

import { Requires } from '../platform/access.decorators';
import type { PackManifest } from './pack-manifest';
import { ProbeEngine } from './probe-engine';

/**
 * The probe pack the service runs, as its users read it: the model and layer, the SAE and its
 * quality, each concept's definition, threshold, aggregation, calibration and held-out
 * evaluation, and every shipped feature with its label and top contexts. The build's candidate
 * grid and the weight files are left out.
 */
@Controller('v1/probes')
export class ProbesController {
  constructor(private readonly engine: ProbeEngine) {}

  @Requires('pack:read')
  @Get()
  describe(): unknown {
    return describePack(this.engine.pack.manifest);
  }
}

export function describePack(m: PackManifest): unknown {
  // The builder writes more than the runtime types (the SAE's quality, feature rates, concept
  // and alignment of each feature card); the console shows it as written.
  const sae = m.sae as PackManifest['sae'] & Record<string, unknown>;
  const concepts = Object.fromEntries(Object.entries(m.concepts).map(([id, c]) => [id, {
    description: c.description, roles: c.roles, detector: c.detector, threshold: c.threshold,
    aggregation: c.probe.aggregation, window: c.probe.window, calibration: c.probe.calibration,
    features: c.features, evaluation: c.evaluation,
  }]));
  return {
    id: m.id, version: m.version, schema_version: m.schema_version,
    model: { id: m.model.id, layer: m.model.layer, d_model: m.model.d_model, source: m.model.source },
    runtime: m.runtime,
    sae: { id: sae.id, architecture: sae.architecture, d_sae: sae.d_sae, k: sae.k, quality: sae.quality, training: sae.training },
    concepts,
    features: m.features,
  };
}
