import { Global, Module } from '@nestjs/common';

import { Metrics } from './metrics';

@Global()
@Module({ providers: [{ provide: Metrics, useValue: new Metrics() }], exports: [Metrics] })
export class MetricsModule {}
