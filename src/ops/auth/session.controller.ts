import { Controller, Get } from '@nestjs/common';

import { Caller, can, PERMISSIONS } from '../../domain/access';
import { CallerOf, Requires } from '../../platform/access.decorators';

/** Who the bearer credential stands for and what it may do: the console's sign-in reads this. */
@Controller('v1/session')
export class SessionController {
  @Requires('session:read')
  @Get()
  whoami(@CallerOf() caller: Caller): unknown {
    return {
      id: caller.id, kind: caller.kind, name: caller.name, role: caller.role, tenants: caller.tenants, content: caller.content,
      permissions: PERMISSIONS.filter((p) => can(caller, p)),
    };
  }
}
