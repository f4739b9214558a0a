import { Logger, Module } from '@nestjs/common';

import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { resolvePackDir } from '../config/runtime-paths';
import { setupModel } from './model-setup';
import { ProbeEngine } from './probe-engine';
import { ProbesController } from './probes.controller';
import { loadProbePack } from './probe-pack.loader';

const log = new Logger('probe');

async function startEngine(cfg: AppConfig): Promise<ProbeEngine> {
  const pack = await loadProbePack(resolvePackDir(cfg.paths, cfg.pack));
  let last = -1;
  const artifacts = await setupModel(cfg.paths, pack.manifest, {
    step: (m) => log.log(m),
    progress: (done, total, label) => {
      const pct = Math.floor((100 * done) / Math.max(1, total));
      if (pct >= last + 10 || done === total) {
        last = pct;
        log.log(`${pct}% ${label}`);
      }
    },
    log: () => undefined,
  });
  const engine = await ProbeEngine.create(pack, artifacts, {
    executionProvider: cfg.provider, workers: cfg.probeWorkers, intraOpThreads: cfg.probeThreads, prefixCacheMb: cfg.prefixCacheMb,
    turnViewConcepts: cfg.turnView,
  });
  log.log(`probe pack ${pack.manifest.id}@${pack.manifest.version} on ${cfg.provider}, layer ${pack.manifest.model.layer}, ${pack.manifest.features.length} features`);
  return engine;
}

@Module({
  controllers: [ProbesController],
  providers: [{ provide: ProbeEngine, inject: [APP_CONFIG], useFactory: startEngine }],
  exports: [ProbeEngine],
})
export class ProbeModule {}
