/** Every route the controllers serve is in the OpenAPI document at /docs, and nothing else is. */
import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';

import { AlertsController, NotificationsController, SilencesController } from '../../../src/alerts/alerts.controller';
import { EventsController } from '../../../src/ingest/events.controller';
import { OPENAPI } from '../../../src/ops/openapi';
import { OpsController } from '../../../src/ops/ops.controller';
import { RulesController } from '../../../src/rules/rules.controller';

function routes(controller: new (...args: never[]) => unknown): string[] {
  const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
  const out: string[] = [];
  for (const name of Object.getOwnPropertyNames(controller.prototype)) {
    const fn = (controller.prototype as Record<string, unknown>)[name];
    if (typeof fn !== 'function' || name === 'constructor') continue;
    const method = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
    const sub = Reflect.getMetadata(PATH_METADATA, fn) as string | undefined;
    if (method === undefined || sub === undefined) continue;
    const full = `/${[base, sub].map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`.replace(/:([a-z_]+)/g, '{$1}');
    out.push(`${RequestMethod[method].toLowerCase()} ${full}`);
  }
  return out;
}

describe('OpenAPI document', () => {
  it('describes every route the service serves', () => {
    const served = [AlertsController, SilencesController, NotificationsController, EventsController, OpsController, RulesController].flatMap((c) => routes(c as never)).sort();
    const documented = Object.entries(OPENAPI.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort();
    expect(served).toContain('post /v1/alerts/{id}/ack');
    expect(documented).toEqual(served);
  });
});
