/** The OpenAPI 3.1 document served at /docs (kept by hand, next to the controllers it describes). */
const err = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } };
const message = { type: 'object', required: ['role', 'content'], properties: { role: { enum: ['system', 'user', 'assistant', 'tool'] }, content: { type: 'string' } } };
const event = {
  type: 'object',
  required: ['id', 'timestamp', 'tenant', 'source', 'model', 'messages'],
  properties: {
    id: { type: 'string', maxLength: 256 }, timestamp: { type: 'string', format: 'date-time' }, tenant: { type: 'string' },
    source: { type: 'string' }, model: { type: 'string' }, messages: { type: 'array', minItems: 1, items: message }, user: { type: 'string', description: 'opaque end-user id (rules group and sequence by it)' }, metadata: { type: 'object' },
  },
};
const listParams = [
  { name: 'tenant', in: 'query', schema: { type: 'string' }, description: 'omit to read across tenants' },
  { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' } },
  { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' } },
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
          202: { description: 'a result per item: accepted, or rejected with field and reason (rejected items are dead-lettered)' },
          400: { description: 'malformed JSON or an empty/oversized batch', content: { 'application/json': { schema: err } } },
          401: { description: 'missing or wrong bearer token' },
          413: { description: 'body larger than PROBEWATCH_MAX_BODY_BYTES' },
          429: { description: 'queue full; see the Retry-After header', headers: { 'Retry-After': { schema: { type: 'integer' } } } },
        },
      },
      get: {
        summary: 'List scored events',
        parameters: [...listParams, { name: 'concept', in: 'query', schema: { enum: ['deception', 'sycophancy', 'harmful_intent', 'prompt_injection'] } },
          { name: 'min_score', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 }, description: 'needs concept' }],
        responses: { 200: { description: '{items, count}' }, 400: { description: 'invalid filter' } },
      },
    },
    '/v1/events/{id}': {
      get: {
        summary: 'One event: stored content (per policy), scores, feature evidence',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        responses: { 200: { description: 'the event' }, 404: { description: 'unknown id' } },
      },
    },
    '/v1/alerts': {
      get: {
        summary: 'List alerts',
        parameters: [...listParams, { name: 'rule', in: 'query', schema: { type: 'string' } }, { name: 'severity', in: 'query', schema: { type: 'string' } }, { name: 'event_id', in: 'query', schema: { type: 'string' } }],
        responses: { 200: { description: '{items, count}' } },
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
    '/readyz': { get: { summary: 'Readiness: model loaded, storage reachable, rules loaded', security: [], responses: { 200: { description: 'ready' }, 503: { description: 'not ready, with the failing checks' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition format' } } } },
  },
} as const;
