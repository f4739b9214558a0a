import 'reflect-metadata';

import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';

import { AppModule } from './app.module';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { ErrorFilter } from './ops/error.filter';

/** Body-parser failures as JSON errors: 413 for oversize, 400 for malformed JSON. */
function bodyErrors(err: { type?: string; status?: number; message?: string }, _req: Request, res: Response, next: NextFunction): void {
  if (err?.type === 'entity.too.large') {
    res.status(413).json({ error: 'payload_too_large', message: err.message });
  } else if (err?.type === 'entity.parse.failed') {
    res.status(400).json({ error: 'invalid_json', message: 'the body is not valid JSON' });
  } else if (err?.status && err.status >= 400 && err.status < 500) {
    res.status(err.status).json({ error: 'bad_request', message: 'the request body could not be read' });
  } else next(err);
}

/** Responses under /v1 carry prompts and scores: never cached, never sniffed. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}

export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bodyParser: false, bufferLogs: false });
  app.disable('x-powered-by');
  app.use(helmet());
  app.use('/v1', noStore);
  // POST /v1/events and POST /v1/guard read raw bytes: the controller checks content type, UTF-8 and JSON itself,
  // so it can dead-letter exactly what was sent.
  app.use('/v1/events', express.raw({ type: () => true, limit: config.limits.maxBodyBytes }));
  app.use('/v1/guard', express.raw({ type: () => true, limit: config.limits.maxBodyBytes }));
  app.useBodyParser('json', { limit: config.limits.maxBodyBytes });
  app.use(bodyErrors);
  app.useGlobalFilters(new ErrorFilter());
  app.enableShutdownHooks();
  return app;
}

export async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`probewatch: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  new Logger('probewatch').log(`listening on http://${config.host}:${config.port} (data in ${config.paths.dataDir})`);
}

if (require.main === module) {
  bootstrap().catch((e: Error) => {
    process.stderr.write(`probewatch: failed to start: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
