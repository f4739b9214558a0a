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
const matcher = { type: 'object', required: ['name', 'value'], properties: { name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }, value: { type: 'string', maxLength: 1024 }, isRegex: { type: 'boolean', default: false, description: 'RE2 syntax, anchored' }, isEqual: { type: 'boolean', default: true } } };
const silence = {
  type: 'object',
  required: ['matchers', 'endsAt'],
  properties: {
    id: { type: 'string', description: 'to update an existing silence' },
    matchers: { type: 'array', minItems: 1, maxItems: 32, items: matcher },
    startsAt: { ...rfc3339, description: 'default: now' },
    endsAt: rfc3339,
    createdBy: { type: 'string', maxLength: 256 },
    comment: { type: 'string', maxLength: 4096 },
    recurring: { type: 'object', description: 'mute only inside these periods: {time_intervals: [{times: [{start_time, end_time}], weekdays, days_of_month, months, years, location}]}' },
  },
};
const ack = { type: 'object', properties: { by: { type: 'string', maxLength: 256 }, comment: { type: 'string', maxLength: 4096 } } };
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
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key (pwk_…); every route but /healthz, /readyz, /docs and the console pages needs one unless PROBEWATCH_AUTH=off. Each route names the permission it needs; roles grant permissions (README, "Access control").' } },
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
    '/v1/guard': {
      post: {
        summary: 'Inline guard: a synchronous verdict (allow, flag, block) on one conversation under the guard policy (PROBEWATCH_GUARD_FILE), scored ahead of the asynchronous backlog and recorded as an event (metadata.guard = {verdict, policy_hash})',
        requestBody: { required: true, content: { 'application/json': { schema: { ...event, required: ['tenant', 'source', 'model', 'messages'], description: 'the event contract of POST /v1/events; without id one is made (guard-<uuid>), without timestamp the time of the request' } } } },
        responses: {
          200: { description: '{id, verdict, concepts: {<concept>: {score, thresholds: {flag, block}, flagged, action}}, evidence: the deciding concept\'s span, tokens and features (token text only with events:content), policy: {hash, source}, pack, recorded (durable: in the accept log before this answer), latency_ms}' },
          400: { description: 'invalid event (each field named, as POST /v1/events), malformed JSON or a batch, or a tenant this key may not write', content: { 'application/json': { schema: err } } },
          413: { description: 'body larger than PROBEWATCH_MAX_BODY_BYTES' },
          415: { description: 'content type is not application/json', content: { 'application/json': { schema: err } } },
          429: { description: 'PROBEWATCH_GUARD_MAX_IN_FLIGHT guard requests in flight (never because the asynchronous queue is full); see Retry-After', headers: { 'Retry-After': { schema: { type: 'integer' } } } },
        },
      },
    },
    '/v1/guard/policy': {
      get: {
        summary: 'The active guard policy (per concept flag and block thresholds, its hash), its source (file or built-in) and the last reload with its problems at file:line:col (a rejected reload keeps the last good policy)',
        responses: { 200: { description: '{file, source, hash, loadedAt, concepts, lastReload: {ok, at, trigger, problems}}' } },
      },
    },
    '/v1/guard/reload': {
      post: {
        summary: 'Read the guard policy file now (besides the file watch). A broken file is refused at file:line:col and the last good policy stays; the answer is the status either way (lastReload.ok says which), and the audit trail records the caller',
        responses: { 200: { description: 'the status, as GET /v1/guard/policy' } },
      },
    },
    '/v1/alerts': {
      get: {
        summary: 'List alerts, each with its delivery state (firing, acknowledged, silenced, inhibited, resolved), the silences muting it and its acknowledgement',
        parameters: [...listParams, { name: 'rule', in: 'query', schema: { type: 'string', maxLength: 256 } }, { name: 'severity', in: 'query', schema: { enum: ['info', 'low', 'medium', 'high', 'critical'] } }, { name: 'event_id', in: 'query', schema: { type: 'string', maxLength: 256 } },
          { name: 'state', in: 'query', schema: { enum: ['firing', 'acknowledged', 'silenced', 'inhibited', 'resolved'] } }, { name: 'silenced', in: 'query', schema: { enum: ['true', 'false'] } }, { name: 'acked', in: 'query', schema: { enum: ['true', 'false'] } }],
        responses: { 200: { description: '{items, count}; each item has state, state_since, silenced_by (silence ids) and ack ({by, comment, at} or null)' }, 400: { description: 'invalid filter: {error, errors: [{field, message}]}', content: { 'application/json': { schema: err } } } },
      },
    },
    '/v1/alerts/{id}/ack': {
      post: {
        summary: 'Acknowledge the alert\'s series: no repeat notifications until it resolves or the acknowledgement is withdrawn',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        requestBody: { content: { 'application/json': { schema: ack } } },
        responses: { 200: { description: '{alert_id, fingerprint, acked: true, by, comment, at}' }, 400: { description: 'unknown field or bad value', content: { 'application/json': { schema: err } } }, 404: { description: 'no such alert (in this tenant)' } },
      },
      delete: {
        summary: 'Withdraw the acknowledgement: repeat notifications resume',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0], { name: 'by', in: 'query', schema: { type: 'string', maxLength: 256 } }],
        responses: { 200: { description: '{alert_id, fingerprint, acked: false, by}' }, 404: { description: 'no such alert' } },
      },
    },
    '/v1/alerts/{id}': {
      get: {
        summary: 'One alert, as the list shows it: labels, annotations, delivery state, silences muting it, acknowledgement',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        responses: { 200: { description: 'the alert' }, 404: { description: 'no such alert (or another tenant\'s)' } },
      },
    },
    '/v1/alerts/{id}/incident': {
      post: {
        summary: 'Mark the alert as a serious incident (EU AI Act Art. 73), or update the marking: category death (10 days), widespread_or_critical_infrastructure (2 days) or other (15 days) sets the reporting deadline from aware_at; reported_at records the report to the authority',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { category: { enum: ['death', 'widespread_or_critical_infrastructure', 'other'] }, summary: { type: 'string', maxLength: 4096 }, aware_at: rfc3339, reported_at: { ...rfc3339, type: ['string', 'null'] } } } } } },
        responses: { 200: { description: 'the incident with its deadline and status (open, overdue, reported, reported_late)' }, 400: { description: 'invalid body', content: { 'application/json': { schema: err } } }, 404: { description: 'no such alert' } },
      },
      delete: {
        summary: 'Withdraw the serious-incident marking (recorded in the audit trail)',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        responses: { 200: { description: '{alert_id, withdrawn: true}' }, 404: { description: 'no such alert, or not marked' } },
      },
    },
    '/v1/incidents': {
      get: {
        summary: 'Serious incidents with their Art. 73 deadlines, soonest first',
        parameters: [listParams[0], { name: 'status', in: 'query', schema: { enum: ['open', 'overdue', 'reported', 'reported_late'] } }],
        responses: { 200: { description: '{items, count}' } },
      },
    },
    '/v1/alerts/{id}/history': {
      get: {
        summary: 'Every state the alert\'s series passed through, when, by whom',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, listParams[0]],
        responses: { 200: { description: '{alert_id, fingerprint, items: [{state, at, actor, detail, instance}]}' }, 404: { description: 'no such alert' } },
      },
    },
    '/v1/silences': {
      post: {
        summary: 'Create a silence (Alertmanager v2 shape), or update the one whose id is given',
        requestBody: { required: true, content: { 'application/json': { schema: silence } } },
        responses: { 200: { description: '{silenceID, silence}' }, 400: { description: 'invalid silence, with the field named', content: { 'application/json': { schema: err } } } },
      },
      get: {
        summary: 'Silences with their state, when each last muted an alert, and `stale` when an active one has muted nothing for PROBEWATCH_SILENCE_STALE_DAYS',
        parameters: [{ name: 'state', in: 'query', schema: { enum: ['pending', 'active', 'expired'] } }, { name: 'stale', in: 'query', schema: { enum: ['true', 'false'] } }],
        responses: { 200: { description: '{items, count}' } },
      },
    },
    '/v1/silences/{id}': {
      delete: {
        summary: 'Expire the silence now (it stays listed, as expired); alerts it muted that still fire are notified again',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: '{silenceID, endsAt, status}' }, 404: { description: 'no such silence' } },
      },
    },
    '/v1/notifications': {
      get: {
        summary: 'The notification log: what was sent to which receiver, when, with what outcome (pending, retrying, sent, dead), after how many attempts',
        parameters: [listParams[0], { name: 'alert_id', in: 'query', schema: { type: 'string', maxLength: 256 } }, { name: 'receiver', in: 'query', schema: { type: 'string', maxLength: 256 } },
          { name: 'outcome', in: 'query', schema: { enum: ['pending', 'retrying', 'sent', 'dead'] } }, listParams[3]],
        responses: { 200: { description: '{items, count}' }, 400: { description: 'invalid filter', content: { 'application/json': { schema: err } } } },
      },
    },
    '/v1/alerting': { get: { summary: 'The alerting file in use (PROBEWATCH_ALERTING_FILE), its last reload with file:line:col problems, and this instance\'s open alert groups', responses: { 200: { description: 'status' } } } },
    '/v1/alerting/reload': { post: { summary: 'Reload the alerting file; a file with errors is refused and the last good configuration stays', responses: { 200: { description: 'status, with lastReload {ok, at, problems}' } } } },
    '/v1/rules': { get: { summary: 'Active rule set: hash, files, last reload (with file:line:col problems), each rule with its health', responses: { 200: { description: 'rule set' } } } },
    '/v1/rules/reload': { post: { summary: 'Reload rule files; a failed reload keeps the last good set', responses: { 200: { description: '{ok, problems, rules, hash, changed}' } } } },
    '/v1/rules/history': {
      get: {
        summary: 'Audit trail of rule sets: hash, previous hash, file hashes, rules added/removed/changed, rejected reloads',
        parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }],
        responses: { 200: { description: '{items}' } },
      },
    },
    '/v1/keys': {
      post: {
        summary: 'Create an API key (keys:admin). The key is in this answer only; only its hash is stored',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['role'], properties: {
          role: { enum: ['admin', 'safety', 'reviewer', 'rule-author', 'ingest'] }, tenants: { type: 'array', items: ident, description: 'omit for every tenant' },
          name: { type: 'string', maxLength: 128 }, content: { type: 'boolean', description: 'reviewer keys only: may read raw conversation text' } } } } } },
        responses: { 201: { description: '{id, key, role, tenants, name, content}' }, 400: { description: 'invalid request', content: { 'application/json': { schema: err } } }, 403: { description: 'not an admin' } },
      },
      get: { summary: 'List API keys, never the keys themselves (keys:admin)', responses: { 200: { description: '{items, count}' } } },
    },
    '/v1/keys/{id}': {
      delete: {
        summary: 'Revoke an API key (keys:admin)',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } }],
        responses: { 200: { description: 'the revoked key' }, 404: { description: 'no such key' } },
      },
    },
    '/v1/audit': {
      get: {
        summary: 'The audit trail, newest first (audit:read): keys, authentication failures, content reads, rule and alerting changes, silences, acknowledgements, starts with their configuration, probe-pack loads, exports',
        parameters: [{ name: 'from', in: 'query', schema: rfc3339 }, { name: 'to', in: 'query', schema: rfc3339 }, { name: 'action', in: 'query', schema: { type: 'string', maxLength: 64 } },
          { name: 'actor', in: 'query', schema: { type: 'string', maxLength: 256 } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } }],
        responses: { 200: { description: '{items: [{chain, seq, at, actor, action, target, tenant, detail, prev_hash, hash}], count}' } },
      },
    },
    '/v1/audit/verify': {
      get: {
        summary: 'Recompute every hash chain and check every signed checkpoint (audit:read); names the first entry that does not match',
        responses: { 200: { description: '{ok, entries, checkpoints, chains, problem: {chain, seq, reason} | null, seconds}' } },
      },
    },
    '/v1/erasures': {
      post: {
        summary: 'Erase one end user\'s content everywhere it is stored (data:erase, admin): their events, feature evidence, dead letters, alert annotations and notification payloads; scores and alerts stay without the user id. Recorded in the audit trail by a hash of the id',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['user'], properties: { user: { type: 'string', minLength: 1, maxLength: 256 } } } } } },
        responses: { 200: { description: '{user_sha256, events, tenants, alerts, dead_letters}' }, 400: { description: 'no user', content: { 'application/json': { schema: err } } } },
      },
    },
    '/v1/reports': {
      post: {
        summary: 'Ask for a compliance report (reports:create: reviewer, admin); answered with its id at once, generated in the background',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['from', 'to'], properties: {
          from: rfc3339, to: rfc3339, tenant: { ...ident, description: 'omit for every tenant (a tenant-scoped caller must name one of its tenants)' }, format: { enum: ['json', 'csv', 'html', 'pdf'], default: 'json', description: 'pdf: Chromium prints the HTML form (PROBEWATCH_CHROMIUM); without a browser the report fails with the reason' } } } } } },
        responses: { 202: { description: '{id, status}' }, 400: { description: 'invalid request', content: { 'application/json': { schema: err } } } },
      },
      get: { summary: 'Reports asked for (reports:read)', responses: { 200: { description: '{items: [{id, status, format, from, to, tenant, requested_by, requested_at, sha256}], count}' } } },
    },
    '/v1/reports/{id}': {
      get: {
        summary: 'The report file once ready (JSON schema probewatch-report/1, CSV, HTML with SVG charts, or PDF printed from that HTML); 202 while it is being generated',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'the report' }, 202: { description: '{id, status: pending}' }, 404: { description: 'no such report' }, 500: { description: 'generation failed, with the reason' } },
      },
    },
    '/v1/session': {
      get: { summary: 'Who the bearer credential stands for: {id, kind, name, role, tenants, content, permissions} (every role)', responses: { 200: { description: 'the caller' }, 401: { description: 'no valid credential' } } },
    },
    '/v1/probes': {
      get: { summary: 'The probe pack the service runs: model and layer, SAE and its quality, each concept\'s definition, threshold, aggregation, calibration and held-out evaluation, every shipped feature with its label and top contexts', responses: { 200: { description: 'the pack' } } },
    },
    '/v1/console/config': { get: { summary: 'What the console\'s sign-in page needs: {oidc: {issuer, client_id, scope, resource} | null}', security: [], responses: { 200: { description: 'the sign-in options' } } } },
    '/console': { get: { summary: 'The web console (a single page over this API; signs in with an API key)', security: [], responses: { 200: { description: 'HTML' } } } },
    '/console/{file}': { get: { summary: 'The console\'s static files (scripts, styles); nothing else is served', security: [], parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'the file' }, 404: { description: 'not a console file' } } } },
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'alive' } } } },
    '/readyz': { get: { summary: 'Readiness: model loaded, storage reachable, rules loaded', security: [], responses: { 200: { description: 'ready, or degraded (status "degraded": e.g. rule files rejected while the last good set recorded in storage runs)' }, 503: { description: 'not ready, with the failing checks' } } } },
    '/docs': { get: { summary: 'This OpenAPI document', security: [], responses: { 200: { description: 'OpenAPI 3.1 JSON' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text exposition format' } } } },
  },
} as const;
