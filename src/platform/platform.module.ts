import { Global, Module } from '@nestjs/common';

import { AlertEvents } from './alert-events';

/** Process-wide plumbing every stage may use: the alert events. */
@Global()
@Module({ providers: [{ provide: AlertEvents, useValue: new AlertEvents() }], exports: [AlertEvents] })
export class PlatformModule {}
