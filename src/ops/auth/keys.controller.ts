import { BadRequestException, Body, Controller, Delete, Get, NotFoundException, Param, Post } from '@nestjs/common';

import { actorOf, Caller } from '../../domain/access';
import { AuditEvents } from '../../platform/audit-events';
import { CallerOf, Requires } from '../../platform/access.decorators';
import { AccessService } from './access.service';
import { checkKeyRequest, KeyError } from './api-keys';

const ID = /^[0-9a-f]{16}$/;

/** API keys: created (the key shown once), listed (never the key), revoked. Admin only. */
@Controller('v1/keys')
export class KeysController {
  constructor(private readonly access: AccessService, private readonly audit: AuditEvents) {}

  @Requires('keys:admin')
  @Post()
  async create(@Body() body: unknown, @CallerOf() caller: Caller): Promise<unknown> {
    let req: ReturnType<typeof checkKeyRequest>;
    try {
      req = checkKeyRequest(body);
    } catch (e) {
      if (e instanceof KeyError) throw new BadRequestException({ error: 'invalid_key_request', message: e.message });
      throw e;
    }
    const { key, info } = await this.access.keys.create(req, actorOf(caller));
    this.audit.record(actorOf(caller), 'key.create', info.id, '', { role: info.role, tenants: info.tenants, name: info.name, content: info.content });
    return { id: info.id, key, role: info.role, tenants: info.tenants, name: info.name, content: info.content };
  }

  @Requires('keys:admin')
  @Get()
  async list(): Promise<unknown> {
    const items = await this.access.keys.list();
    return { items, count: items.length };
  }

  @Requires('keys:admin')
  @Delete(':id')
  async revoke(@Param('id') id: string, @CallerOf() caller: Caller): Promise<unknown> {
    const k = ID.test(id) ? await this.access.keys.revoke(id, actorOf(caller)) : null;
    if (!k) throw new NotFoundException({ error: 'not_found', message: 'no such key' });
    this.audit.record(actorOf(caller), 'key.revoke', id, '', { role: k.role, name: k.name });
    return k;
  }
}
