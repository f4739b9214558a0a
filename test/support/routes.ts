/** Every route the service serves, read from the controllers' metadata, with what it declares. */
import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';

import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

import type { Permission } from '../../src/domain/access';
import { PERMISSION_KEY, PUBLIC_KEY } from '../../src/platform/access.decorators';

/** Every controller class in src/ (each *.controller.ts file's exports that carry a route path). */
export function controllers(): Array<new (...args: never[]) => unknown> {
  const found: Array<new (...args: never[]) => unknown> = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = path.join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.controller.ts')) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        for (const v of Object.values(require(p) as Record<string, unknown>)) {
          if (typeof v === 'function' && Reflect.getMetadata(PATH_METADATA, v) !== undefined) found.push(v as new (...args: never[]) => unknown);
        }
      }
    }
  };
  walk(path.resolve(__dirname, '..', '..', 'src'));
  return found;
}

export interface Route {
  method: string;
  /** OpenAPI style: /v1/alerts/{id}/ack */
  path: string;
  permission: Permission | null;
  public: boolean;
}

export function serviceRoutes(): Route[] {
  const out: Route[] = [];
  for (const controller of controllers()) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const fn = (controller.prototype as unknown as Record<string, unknown>)[name];
      if (typeof fn !== 'function' || name === 'constructor') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
      const sub = Reflect.getMetadata(PATH_METADATA, fn) as string | undefined;
      if (method === undefined || sub === undefined) continue;
      const path = `/${[base, sub].map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`.replace(/:([a-z_]+)/g, '{$1}');
      out.push({
        method: RequestMethod[method].toLowerCase(), path,
        permission: (Reflect.getMetadata(PERMISSION_KEY, fn) ?? Reflect.getMetadata(PERMISSION_KEY, controller) ?? null) as Permission | null,
        public: Boolean(Reflect.getMetadata(PUBLIC_KEY, fn) ?? Reflect.getMetadata(PUBLIC_KEY, controller)),
      });
    }
  }
  return out.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}
