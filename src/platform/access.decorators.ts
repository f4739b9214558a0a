/**
 * Route declarations the access guard reads: the one permission a handler needs (`@Requires`),
 * or `@Public()` for the few open routes (health, readiness, the OpenAPI document). A handler
 * with neither is refused, so a new route cannot be served before someone decides who may call it.
 * `@CallerOf()` hands the authenticated caller to the handler.
 */
import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';

import type { Caller, Permission } from '../domain/access';

export const PERMISSION_KEY = 'probewatch:permission';
export const PUBLIC_KEY = 'probewatch:public';

export const Requires = (p: Permission): MethodDecorator & ClassDecorator => SetMetadata(PERMISSION_KEY, p);
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_KEY, true);

/** Where the guard leaves the caller on the request. */
export const CALLER = Symbol('probewatch.caller');

export const CallerOf = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const req = ctx.switchToHttp().getRequest<Record<symbol, Caller | undefined>>();
  const caller = req[CALLER];
  if (!caller) throw new Error('no caller on the request: the route is public but asks for one');
  return caller;
});
