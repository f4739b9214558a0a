import { Module } from '@nestjs/common';

import { ConsoleController } from './console.controller';

/** The web console's static single page, served at /console. */
@Module({ controllers: [ConsoleController] })
export class ConsoleModule {}
