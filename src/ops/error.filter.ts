import { randomUUID } from 'node:crypto';

import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

/**
 * Every error leaves as JSON. An expected one (HttpException) keeps its status and body. Anything
 * else is a 500 with a reference, and the log gets that reference, the route and the error's
 * class and code: never its message, which may hold SQL, prompt text or credentials.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    if (res.headersSent) return;
    if (err instanceof HttpException) {
      const body = err.getResponse();
      res.status(err.getStatus()).json(typeof body === 'string' ? { error: 'error', message: body } : body);
      return;
    }
    const ref = randomUUID();
    const e = err as { name?: string; code?: unknown; type?: unknown };
    this.log.error(`${req.method} ${req.path}: unexpected ${e?.name ?? typeof err}${e?.code !== undefined ? ` (code ${String(e.code).slice(0, 40)})` : ''}; ref ${ref}`);
    res.status(500).json({ error: 'internal', message: 'internal error; the log has the details under this reference', ref });
  }
}
