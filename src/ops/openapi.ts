/** The OpenAPI 3.1 document served at /docs (kept by hand, next to the controllers it describes). */
const fieldError = { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } };
const err = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, errors: { type: 'array', items: fieldError } } };
const ident = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$' };
const rfc3339 = { type: 'string', format: 'date-time', description: 'RFC 3339 with a time zone, e.g. 2026-11-30T07:00:00Z' };
const message = { type: 'object', required: ['role', 'content'], properties: { role: { enum: ['system', 'user', 'assistant', 'tool'] }, content: { type: 'string' } } };
const event = {
  type: 'object',
  required: ['id', 'timestamp', 'tenant', 'source', 'model', 'messages'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' },
    timestamp: { ...rfc3339, description: 'RFC 3339 with a time zone, inside [now - PROBEWATCH_RETENTION_DAYS, now + PROBEWATCH_MAX_CLOCK_SKEW]' },
    tenant: ident, source: ident, model: ident, messages: { type: 'array', minItems: 1, items: message },
    user: { type: 'string', maxLength: 256, description: 'opaque end-user id (rules group and sequence by it); no control or format characters' },
    metadata: { type: 'object', description: 'at most 8 levels deep, 2048 values, 16 KiB of JSON' },
  },
};
const listParams = [
  { name: 'tenant', in: 'query', schema: ident, description: 'omit to read across tenants' },
  { name: 'from', in: 'query', schema: rfc3339 },
  { name: 'to', in: 'query', schema: rfc3339 },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
];

export const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'probewatch', version: '0.1.0', description: 'Safety monitoring for language models: SAE-feature probes, rules, alerts.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'required when PROBEWATCH_API_TOKEN is set' } },
    schemas: { Event: event, Error: err },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/events': {
      post: {
        summary: 'Ingest one event or an array of events',
        requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/Event' }, { type: 'array', items: { $ref: '#/components/schemas/Event' } }] } } } },
        responses: {
          202: { description: 'a result per item: accepted (durable: in the accept log on disk before this answer), or rejected with each field and reason (dead-lettered with the bytes sent)' },
          400: { description: 'invalid UTF-8, malformed JSON, or an empty/oversized batch (dead-lettered)', content: { 'application/json': { schema: err } } },
          401: { description: 'missing or wrong bearer token (only `Authorization: Bearer <token>`)' },
          413: { description: 'body larger than PROBEWATCH_MAX_BODY_BYTES' },
          415: { description: 'content type is not application/json (dead-lettered)', content: { 'application/json': { schema: err } } },
          429: { description: 'queue full; see the Retry-After header', headers: { 'Retry-After': { schema: { type: 'integer' } } } },
          503: { description: 'the events could not be made durable (accept log unwritable); nothing was accepted' },
        },
      },
      get: {
        summary: 'List scored events',
        parameters: [...listParams, { name: 'concept', in: 'query', schema: { enum: ['deception', 'sycophancy', 'harmful_intent', 'prompt_injection'] } },
          { name: 'min_score', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 }, description: 'needs concept' }],
        responses: { 200: { description: '{items, count}' }, 400: { description: 'invalid filter: {error, errors: [{field, message}]}', content: { 'application/json': { schema: err } } } },
      },
    },
    '/v1/events/{id}': {
      get: {
        summary: 'One event: stored content (per policy), scores, token and feature evidence; truncated and dropped (the token span not read) when it exceeded the model context',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        responses: { 200: { description: 'the event' }, 404: { description: 'unknown id' } },
      },
    },
    '/v1/alerts': {
      get: {
        summary: 'List alerts',
        parameters: [...listParams, { name: 'rule', in: 'query', schema: { type: 'string', maxLength: 256 } }, { name: 'severity', in: 'query', schema: { enum: ['info', 'low', 'medium', 'high', 'critical'] } }, { name: 'event_id', in: 'query', schema: { type: 'string', maxLength: 256 } }],
        responses: { 200: { description: '{items, count}' }, 400: { description: 'invalid filter: {error, errors: [{field, message}]}', content: { 'application/json': { schema: err } } } },
      },
    },
    '/v1/rules': { get: { summary: 'Active rule set: hash, files, last reload (with file:line:col problems), each rule with its health', responses: { 200: { description: 'rule set' } } } },
    '/v1/rules/reload': { post: { summary: 'Reload rule files; a failed reload keeps the last good set', responses: { 200: { description: '{ok, problems, rules, hash, changed}' } } } },
    '/v1/rules/history': {
      get: {
        summary: 'Audit trail of rule sets: hash, previous hash, file hashes, rules added/removed/changed, rejected reloads',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }],
        responses: { 200: { description: '{items}' } },
      },
    },
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'alive' } } } },
    '/readyz': { get: { summary: 'Readiness: model loaded, storage reachable, rules loaded', security: [], responses: { 200: { description: 'ready, or degraded (status "degraded": e.g. rule files rejected while the last good set recorded in storage runs)' }, 503: { description: 'not ready, with the failing checks' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition format' } } } },
  },
} as const;
