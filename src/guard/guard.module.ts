import { Module } from '@nestjs/common';

import { IngestModule } from '../ingest/ingest.module';
import { GuardPolicyService } from './guard-policy.service';
import { GuardController } from './guard.controller';
import { GuardService } from './guard.service';

/** The inline guard: POST /v1/guard beside the asynchronous ingest, sharing its pipeline for scoring and recording. */
@Module({ imports: [IngestModule], providers: [GuardPolicyService, GuardService], controllers: [GuardController] })
export class GuardModule {}
