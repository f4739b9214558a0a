import { BadRequestException, Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';

import { actorOf, Caller } from '../../domain/access';
import { AuditEvents } from '../../platform/audit-events';
import { CallerOf, Requires } from '../../platform/access.decorators';
import { Pseudonyms, sha256 } from '../../storage/content-policy';
import { ErasureRepository } from '../../storage/erasure.repository';
import { CLICKHOUSE } from '../../storage/storage.module';

/** Erasure of one end user's content (admin): what was removed, recorded in the audit trail. */
@Controller('v1/erasures')
export class ErasureController {
  private readonly repo: ErasureRepository;

  constructor(@Inject(CLICKHOUSE) client: ClickHouseClient, private readonly audit: AuditEvents, private readonly pseudonyms: Pseudonyms) {
    this.repo = new ErasureRepository(client, pseudonyms.digest);
  }

  @Requires('data:erase')
  @Post()
  @HttpCode(200)
  async erase(@Body() body: unknown, @CallerOf() caller: Caller): Promise<unknown> {
    const user = (body as { user?: unknown } | null)?.user;
    if (typeof user !== 'string' || !user || user.length > 256) throw new BadRequestException({ error: 'invalid_body', errors: [{ field: 'user', message: 'the end user id, 1..256 characters' }] });
    const r = await this.repo.eraseUser(user, caller.tenants);
    // The trail names the user by the keyed digest only: the erased id is not kept anywhere, and
    // an unkeyed hash of it could be reversed by trying candidates. The caller, who sent the id,
    // gets its plain sha256 back to match its own records.
    this.audit.record(actorOf(caller), 'data.erase', this.pseudonyms.erasedUserTarget(user), '', { ...r });
    return { user_sha256: sha256(user), ...r };
  }
}
