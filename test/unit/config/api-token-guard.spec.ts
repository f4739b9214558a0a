import type { ExecutionContext } from '@nestjs/common';
import { UnauthorizedException } from '@nestjs/common';

import { loadConfig } from '../../../src/config/app-config';
import { ApiTokenGuard } from '../../../src/ops/api-token.guard';

const TOKEN = 'abc123-token';

function ctx(authorization?: string): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }) }) } as unknown as ExecutionContext;
}

describe('API token guard', () => {
  const guard = new ApiTokenGuard(loadConfig({ PROBEWATCH_API_TOKEN: TOKEN }));

  it('accepts only `Authorization: Bearer <token>`', () => {
    expect(guard.canActivate(ctx(`Bearer ${TOKEN}`))).toBe(true);
    expect(guard.canActivate(ctx(`bearer ${TOKEN}`))).toBe(true);
  });

  it.each([[TOKEN], [`Basic ${TOKEN}`], [`Bearer  ${TOKEN}`], [`Bearer ${TOKEN} `], [`Bearer ${TOKEN}x`], ['Bearer'], [''], [undefined]])('refuses %j', (h) => {
    expect(() => guard.canActivate(ctx(h))).toThrow(UnauthorizedException);
  });
});
