/** Every route the controllers serve is in the OpenAPI document at /docs, and nothing else is. */
import { OPENAPI } from '../../../src/ops/openapi';
import { serviceRoutes } from '../../support/routes';

describe('OpenAPI document', () => {
  it('describes every route the service serves', () => {
    const served = serviceRoutes().map((r) => `${r.method} ${r.path}`).sort();
    const documented = Object.entries(OPENAPI.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort();
    expect(served).toContain('post /v1/alerts/{id}/ack');
    expect(served).toContain('get /v1/audit/verify');
    expect(documented).toEqual(served);
  });

  it('every route declares who may call it: one permission, or public', () => {
    const undeclared = serviceRoutes().filter((r) => !r.public && !r.permission).map((r) => `${r.method} ${r.path}`);
    expect(undeclared).toEqual([]);
    expect(serviceRoutes().filter((r) => r.public).map((r) => r.path)).toEqual(['/console', '/console/{file}', '/docs', '/healthz', '/readyz', '/v1/console/config']);
  });
});
