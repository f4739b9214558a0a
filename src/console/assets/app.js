// The probewatch console: a hash-routed single page over the /v1 API. Each page asks the API for
// exactly what it shows, with the signed-in credential, so a role sees what the API grants it.
import { api, ApiError, credential, download, qs } from './api.js';
import { calibrationChart, subtypeChart } from './charts.js';
import { badge, field, fmtNum, fmtTime, h, nodes, select, table } from './dom.js';
import { featureCard, renderEvent } from './evidence.js';
import { consoleConfig, finishSignIn, startSignIn } from './oidc.js';

const CONCEPTS = ['harmful_intent', 'prompt_injection', 'deception', 'sycophancy'];
const STATES = ['firing', 'silenced', 'inhibited', 'muted', 'resolved'];
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
/** EU AI Act Art. 73 reporting deadlines by category (the service computes them; these are labels). */
const INCIDENT_CATEGORIES = [['other', 'serious incident (report within 15 days)'], ['death', 'death of a person (10 days)'], ['widespread_or_critical_infrastructure', 'widespread infringement or critical infrastructure (2 days)']];

const SECTIONS = [
  { path: 'alerts', label: 'Alerts', permission: 'alerts:read' },
  { path: 'incidents', label: 'Incidents', permission: 'alerts:read' },
  { path: 'events', label: 'Events', permission: 'events:read' },
  { path: 'rules', label: 'Rules', permission: 'rules:read' },
  { path: 'silences', label: 'Silences', permission: 'silences:read' },
  { path: 'reports', label: 'Reports', permission: 'reports:read' },
  { path: 'audit', label: 'Audit trail', permission: 'audit:read' },
  { path: 'pack', label: 'Probe pack', permission: 'pack:read' },
];

let session = null;
/** The console's OIDC client, when sign-in through the identity provider is configured. */
let oidc = null;
/** Bumped on every navigation: a page that finishes loading after the next one started draws nothing. */
let gen = 0;
let packCache = null;

const main = () => document.getElementById('main');
const can = (p) => Boolean(session?.permissions?.includes(p));

/** Renders a page; while `busy` (data still loading) the main region says so to assistive tech. */
function show(g, title, ...content) {
  if (g !== gen) return; // a newer page was asked for while this one loaded
  document.title = `${title} · probewatch console`;
  const busy = content.some((c) => c instanceof Element && c.classList.contains('loading'));
  main().setAttribute('aria-busy', String(busy));
  main().replaceChildren(h('h1', {}, title), ...nodes(content));
}

const loading = () => h('p', { class: 'muted loading' }, 'Loading…');

function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? `The API answered ${e.message}` : `Error: ${e.message}`);
}

function formValues(form) {
  return Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v).trim()]));
}

/** datetime-local (the browser's local time) to RFC 3339 UTC. */
const toIso = (v) => (v ? new Date(v).toISOString() : undefined);

async function pack() {
  if (!packCache && can('pack:read')) packCache = await api('GET', '/v1/probes');
  return packCache;
}

// ---------------------------------------------------------------- sign-in and navigation

function signInPage(message) {
  const g = gen;
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h('form', { class: 'signin', 'aria-label': 'Sign in' },
    h('p', {}, 'Sign in with a probewatch API key (', h('code', {}, 'pwk_…'), ') or an access token from your identity provider. It is kept in this tab only.'),
    field('API key or token', input),
    h('button', { type: 'submit' }, 'Sign in'),
    oidc ? h('p', {}, 'or ', h('button', { type: 'button', onclick: () => startSignIn(oidc).catch((e) => signInPage(e.message)) }, 'Sign in with your identity provider')) : null,
    message ? h('p', { class: 'error', role: 'alert' }, message) : null);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    credential.set(input.value.trim());
    try {
      await loadSession();
      location.hash = location.hash && location.hash !== '#/signin' ? location.hash : '#/';
      route();
    } catch (e) {
      credential.clear();
      signInPage(e instanceof ApiError && e.status === 401 ? 'That key or token was not accepted.' : String(e.message));
    }
  });
  renderNav();
  show(g, 'Sign in', form);
  input.focus();
}

async function loadSession() {
  session = await api('GET', '/v1/session');
  packCache = null;
  renderNav();
}

function renderNav() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!session) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  const current = (location.hash.split('/')[1] || '').split('?')[0];
  nav.replaceChildren(h('ul', {}, SECTIONS.filter((s) => can(s.permission)).map((s) => h('li', {},
    h('a', { href: `#/${s.path}`, 'aria-current': s.path === current ? 'page' : undefined }, s.label)))));
  who.replaceChildren(
    h('span', {}, `${session.name || session.id} · ${session.role} · ${session.tenants === null ? 'all tenants' : `tenants ${session.tenants.join(', ') || '(none)'}`}`), ' ',
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
}

function signOut() {
  credential.clear();
  session = null;
  packCache = null;
  location.hash = '#/signin';
}

// ---------------------------------------------------------------- alerts

async function alertsPage(params) {
  const g = gen;
  const form = h('form', { class: 'filters', 'aria-label': 'Filter alerts' },
    field('State', select('state', [['', 'any'], ...STATES.map((x) => [x, x])], params.get('state') ?? '')),
    field('Severity', select('severity', [['', 'any'], ...SEVERITIES.map((x) => [x, x])], params.get('severity') ?? '')),
    field('Rule', h('input', { name: 'rule', value: params.get('rule') ?? '' })),
    field('Tenant', h('input', { name: 'tenant', value: params.get('tenant') ?? '' })),
    field('Acknowledged', select('acked', [['', 'either'], ['false', 'no'], ['true', 'yes']], params.get('acked') ?? '')),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/alerts${qs(formValues(form))}`;
  });
  show(g, 'Alert inbox', form, loading());
  try {
    const filters = Object.fromEntries(['state', 'severity', 'rule', 'tenant', 'acked'].map((k) => [k, params.get(k)]));
    const { items } = await api('GET', `/v1/alerts${qs({ ...filters, limit: 200 })}`);
    show(g, 'Alert inbox', form, table('Alerts', [
      { label: 'time', cell: (a) => fmtTime(a.ts) },
      { label: 'severity', cell: (a) => badge(a.severity) },
      { label: 'rule', cell: (a) => h('a', { href: `#/alerts/${encodeURIComponent(a.alert_id)}${qs({ tenant: a.tenant })}` }, a.rule) },
      { label: 'tenant', cell: (a) => a.tenant },
      { label: 'value', cell: (a) => fmtNum(a.value) },
      { label: 'state', cell: (a) => badge(a.state) },
      { label: 'acknowledged', cell: (a) => (a.ack ? `by ${a.ack.by}` : '') },
      { label: 'incident', cell: (a) => (a.incident ? h('span', {}, badge('serious incident', 'critical'), ` due ${fmtTime(a.incident.deadline)}`) : '') },
    ], items, 'No alerts match.'));
  } catch (e) {
    show(g, 'Alert inbox', form, errorBox(e));
  }
}

async function alertPage(id, params) {
  const g = gen;
  const tenant = params.get('tenant') ?? undefined;
  show(g, 'Alert', loading());
  let a;
  try {
    a = await api('GET', `/v1/alerts/${encodeURIComponent(id)}${qs({ tenant })}`);
  } catch (e) {
    return show(g, 'Alert', errorBox(e));
  }
  const [history, ev, p] = await Promise.all([
    api('GET', `/v1/alerts/${encodeURIComponent(id)}/history${qs({ tenant: a.tenant })}`).catch(() => ({ items: [] })),
    a.event_id && can('events:read') ? api('GET', `/v1/events/${encodeURIComponent(a.event_id)}${qs({ tenant: a.tenant })}`).catch((e) => ({ error: e })) : null,
    pack().catch(() => null),
  ]);
  const actions = h('div', { class: 'actions' });
  if (can('alerts:ack')) {
    if (a.ack) {
      actions.append(h('button', { type: 'button', onclick: async () => {
        await api('DELETE', `/v1/alerts/${encodeURIComponent(id)}/ack${qs({ tenant: a.tenant })}`);
        alertPage(id, params);
      } }, 'Withdraw acknowledgement'));
    } else {
      const comment = h('input', { name: 'comment', maxlength: 1024 });
      const ack = h('form', { class: 'inline', 'aria-label': 'Acknowledge' }, field('Comment', comment), h('button', { type: 'submit' }, 'Acknowledge'));
      ack.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          await api('POST', `/v1/alerts/${encodeURIComponent(id)}/ack${qs({ tenant: a.tenant })}`, comment.value.trim() ? { comment: comment.value.trim() } : {});
          alertPage(id, params);
        } catch (err) {
          ack.append(errorBox(err));
        }
      });
      actions.append(ack);
    }
  }
  if (can('silences:write')) {
    const m = new URLSearchParams(Object.entries(a.labels ?? {}).map(([k, v]) => [`m.${k}`, String(v)]));
    actions.append(h('a', { class: 'button', href: `#/silences/new?${m.toString()}` }, 'Silence…'));
  }
  const incident = await incidentSection(a, () => alertPage(id, params));
  show(g, `Alert: ${a.rule}`,
    h('dl', { class: 'facts' },
      fact('state', badge(a.state)), fact('severity', badge(a.severity)), fact('tenant', a.tenant), fact('time', fmtTime(a.ts)),
      fact('value', fmtNum(a.value)), fact('event', a.event_id ? h('a', { href: `#/events/${encodeURIComponent(a.event_id)}${qs({ tenant: a.tenant })}` }, a.event_id) : '(windowed)'),
      fact('acknowledged', a.ack ? `by ${a.ack.by} at ${fmtTime(a.ack.at)}${a.ack.comment ? `: ${a.ack.comment}` : ''}` : 'no'),
      fact('silenced by', (a.silenced_by ?? []).join(', ') || 'none'),
      fact('summary', a.annotations?.summary ?? ''),
      fact('labels', Object.entries(a.labels ?? {}).map(([k, v]) => h('code', { class: 'label-pair' }, `${k}="${v}"`)))),
    actions,
    incident,
    ev && !ev.error ? renderEvent(ev, p, a.labels?.concept) : ev?.error ? errorBox(ev.error) : null,
    h('h2', {}, 'State history'),
    table('State history', [
      { label: 'at', cell: (x) => fmtTime(x.at) },
      { label: 'state', cell: (x) => badge(x.state) },
      { label: 'by', cell: (x) => x.actor },
      { label: 'detail', cell: (x) => x.detail },
    ], history.items ?? []));
}

/** The alert's serious-incident marking (EU AI Act Art. 73): its deadline and status, and the forms to mark, report or withdraw. */
async function incidentSection(a, reload) {
  const { items } = await api('GET', `/v1/incidents${qs({ tenant: a.tenant })}`).catch(() => ({ items: [] }));
  const inc = items.find((i) => i.alert_id === a.alert_id);
  const path = `/v1/alerts/${encodeURIComponent(a.alert_id)}/incident${qs({ tenant: a.tenant })}`;
  const section = h('section', { class: 'incident', 'aria-label': 'Serious incident' }, h('h2', {}, 'Serious incident'));
  const act = (method, body) => api(method, path, body).then(reload).catch((e) => section.append(errorBox(e)));
  if (inc) {
    section.append(h('dl', { class: 'facts' },
      fact('category', inc.category), fact('status', badge(inc.status, inc.status === 'overdue' || inc.status === 'reported_late' ? 'critical' : inc.status === 'reported' ? 'ok' : 'pending')),
      fact('aware since', fmtTime(inc.aware_at)), fact('report due by', fmtTime(inc.deadline)),
      fact('reported', inc.reported_at ? fmtTime(inc.reported_at) : 'not yet'), fact('summary', inc.summary), fact('marked by', inc.marked_by)));
    if (can('incidents:write')) {
      section.append(h('div', { class: 'actions' },
        inc.reported_at ? null : h('button', { type: 'button', onclick: () => act('POST', { reported_at: new Date().toISOString() }) }, 'Record the report to the authority'),
        h('button', { type: 'button', class: 'link', onclick: () => act('DELETE') }, 'Withdraw the marking')));
    }
  } else if (can('incidents:write')) {
    const category = select('category', INCIDENT_CATEGORIES, 'other');
    const aware = h('input', { name: 'aware_at', type: 'datetime-local', required: true, value: new Date(Date.now() - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) });
    const summary = h('input', { name: 'summary', required: true, maxlength: 4096 });
    const form = h('form', { class: 'filters', 'aria-label': 'Mark as serious incident' }, field('Category', category), field('Became aware at', aware), field('Incident summary', summary), h('button', { type: 'submit' }, 'Mark as serious incident'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act('POST', { category: category.value, summary: summary.value.trim(), aware_at: toIso(aware.value) });
    });
    section.append(h('p', { class: 'muted' }, 'Not marked. A serious incident must be reported to the market surveillance authority by its deadline (EU AI Act Art. 73).'), form);
  } else {
    section.append(h('p', { class: 'muted' }, 'Not marked as a serious incident.'));
  }
  return section;
}

async function incidentsPage(params) {
  const g = gen;
  const form = h('form', { class: 'filters', 'aria-label': 'Filter incidents' },
    field('Status', select('status', [['', 'any'], ['open', 'open'], ['overdue', 'overdue'], ['reported', 'reported'], ['reported_late', 'reported late']], params.get('status') ?? '')),
    field('Tenant', h('input', { name: 'tenant', value: params.get('tenant') ?? '' })),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/incidents${qs(formValues(form))}`;
  });
  try {
    const { items } = await api('GET', `/v1/incidents${qs({ status: params.get('status'), tenant: params.get('tenant') })}`);
    show(g, 'Serious incidents', h('p', { class: 'muted' }, 'Alerts marked as serious incidents, soonest reporting deadline first (EU AI Act Art. 73: 2, 10 or 15 days from awareness).'), form, table('Incidents', [
      { label: 'report due by', cell: (i) => fmtTime(i.deadline) },
      { label: 'status', cell: (i) => badge(i.status, i.status === 'overdue' || i.status === 'reported_late' ? 'critical' : i.status === 'reported' ? 'ok' : 'pending') },
      { label: 'alert', cell: (i) => h('a', { href: `#/alerts/${encodeURIComponent(i.alert_id)}${qs({ tenant: i.tenant })}` }, i.rule) },
      { label: 'tenant', cell: (i) => i.tenant },
      { label: 'category', cell: (i) => i.category },
      { label: 'aware since', cell: (i) => fmtTime(i.aware_at) },
      { label: 'reported', cell: (i) => (i.reported_at ? fmtTime(i.reported_at) : '') },
      { label: 'summary', cell: (i) => i.summary },
    ], items, 'No serious incidents.'));
  } catch (e) {
    show(g, 'Serious incidents', form, errorBox(e));
  }
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}

// ---------------------------------------------------------------- events

async function eventsPage(params) {
  const g = gen;
  const form = h('form', { class: 'filters', 'aria-label': 'Search events' },
    field('Tenant', h('input', { name: 'tenant', value: params.get('tenant') ?? '' })),
    field('Concept', select('concept', [['', 'any'], ...CONCEPTS.map((c) => [c, c])], params.get('concept') ?? '')),
    field('Minimum score', h('input', { name: 'min_score', type: 'number', min: 0, max: 1, step: 0.01, value: params.get('min_score') ?? '' })),
    field('From', h('input', { name: 'from', type: 'datetime-local', value: params.get('from_local') ?? '' })),
    field('To', h('input', { name: 'to', type: 'datetime-local', value: params.get('to_local') ?? '' })),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    location.hash = `#/events${qs({ tenant: v.tenant, concept: v.concept, min_score: v.min_score, from: toIso(v.from), to: toIso(v.to), from_local: v.from, to_local: v.to })}`;
  });
  show(g, 'Events', form, loading());
  try {
    const { items } = await api('GET', `/v1/events${qs({ tenant: params.get('tenant'), concept: params.get('concept'), min_score: params.get('min_score'), from: params.get('from'), to: params.get('to'), limit: 200 })}`);
    show(g, 'Events', form, table('Events', [
      { label: 'time', cell: (e) => fmtTime(e.timestamp) },
      { label: 'event', cell: (e) => h('a', { href: `#/events/${encodeURIComponent(e.id)}${qs({ tenant: e.tenant })}` }, e.id) },
      { label: 'tenant', cell: (e) => e.tenant },
      { label: 'source', cell: (e) => e.source },
      { label: 'model', cell: (e) => e.model },
      ...CONCEPTS.map((c) => ({ label: c, cell: (e) => (e.scores?.[c] ? h('span', { class: e.scores[c].flagged ? 'num over' : 'num' }, fmtNum(e.scores[c].score)) : '') })),
    ], items, 'No events match.'));
  } catch (e) {
    show(g, 'Events', form, errorBox(e));
  }
}

async function eventPage(id, params) {
  const g = gen;
  show(g, 'Event', loading());
  try {
    const [ev, p] = await Promise.all([api('GET', `/v1/events/${encodeURIComponent(id)}${qs({ tenant: params.get('tenant') })}`), pack().catch(() => null)]);
    show(g, `Event ${ev.id}`, renderEvent(ev, p, params.get('concept')));
  } catch (e) {
    show(g, 'Event', errorBox(e));
  }
}

// ---------------------------------------------------------------- rules

async function rulesPage() {
  const g = gen;
  try {
    const [set, hist] = await Promise.all([api('GET', '/v1/rules'), api('GET', '/v1/rules/history?limit=50')]);
    const problems = set.lastReload?.problems ?? [];
    show(g, 'Rules',
      h('dl', { class: 'facts' }, fact('active set', h('code', {}, String(set.hash).slice(0, 12))), fact('loaded', fmtTime(set.loadedAt)),
        fact('source', `${set.source} (${(set.files ?? []).join(', ')})`), fact('rules', String(set.rules)),
        fact('last reload', set.lastReload ? `${set.lastReload.ok ? 'accepted' : 'rejected'} at ${fmtTime(set.lastReload.at)}` : '')),
      problems.length ? h('ul', { class: 'error' }, problems.map((p) => h('li', {}, typeof p === 'string' ? p : `${p.file ?? ''}:${p.line ?? ''}:${p.col ?? ''} ${p.message ?? JSON.stringify(p)}`))) : null,
      h('h2', {}, 'Rule health'),
      table('Rules', [
        { label: 'rule', cell: (r) => r.rule },
        { label: 'kind', cell: (r) => r.kind },
        { label: 'severity', cell: (r) => badge(r.severity) },
        { label: 'enabled', cell: (r) => (r.enabled ? 'yes' : 'no') },
        { label: 'health', cell: (r) => (r.health?.errors ? badge(`${r.health.errors} errors`, 'critical') : badge('ok', 'ok')) },
        { label: 'last evaluation', cell: (r) => fmtTime(r.health?.lastEvaluation) },
        { label: 'defined at', cell: (r) => h('code', {}, r.file ?? '') },
        { label: 'condition', cell: (r) => h('code', {}, r.condition ?? r.query ?? '') },
      ], set.items ?? []),
      h('h2', {}, 'Rule-set history'),
      table('Rule-set history', [
        { label: 'at', cell: (x) => fmtTime(x.at) },
        { label: 'outcome', cell: (x) => badge(x.ok ? 'accepted' : 'rejected', x.ok ? 'ok' : 'critical') },
        { label: 'set', cell: (x) => h('code', {}, String(x.hash).slice(0, 12)) },
        { label: 'rules', cell: (x) => String(x.rules) },
        { label: 'added', cell: (x) => (x.added ?? []).join(', ') },
        { label: 'removed', cell: (x) => (x.removed ?? []).join(', ') },
        { label: 'changed', cell: (x) => (x.changed ?? []).join(', ') },
        { label: 'instance', cell: (x) => x.instance },
      ], hist.items ?? []));
  } catch (e) {
    show(g, 'Rules', errorBox(e));
  }
}

// ---------------------------------------------------------------- silences

const matcherText = (m) => `${m.name}${m.isEqual === false ? (m.isRegex ? '!~' : '!=') : m.isRegex ? '=~' : '='}"${m.value}"`;

async function silencesPage() {
  const g = gen;
  try {
    const { items } = await api('GET', '/v1/silences');
    show(g, 'Silences',
      can('silences:write') ? h('p', {}, h('a', { class: 'button', href: '#/silences/new' }, 'New silence')) : null,
      table('Silences', [
        { label: 'matchers', cell: (x) => (x.matchers ?? []).map((m) => h('code', { class: 'label-pair' }, matcherText(m))) },
        { label: 'state', cell: (x) => badge(x.status?.state ?? '') },
        { label: 'starts', cell: (x) => fmtTime(x.startsAt) },
        { label: 'ends', cell: (x) => fmtTime(x.endsAt) },
        { label: 'created by', cell: (x) => x.createdBy },
        { label: 'comment', cell: (x) => x.comment },
        { label: '', cell: (x) => (can('silences:write') && x.status?.state !== 'expired' ? h('button', { type: 'button', onclick: async () => {
          await api('DELETE', `/v1/silences/${encodeURIComponent(x.id)}`);
          silencesPage();
        } }, 'Expire') : '') },
      ], items, 'No silences.'));
  } catch (e) {
    show(g, 'Silences', errorBox(e));
  }
}

function silenceForm(params) {
  const g = gen;
  const pre = [...params.entries()].filter(([k]) => k.startsWith('m.')).map(([k, v]) => [k.slice(2), v]);
  const rows = h('div', { class: 'matchers' });
  const addRow = (name = '', value = '') => rows.append(h('div', { class: 'matcher' },
    field('Label', h('input', { name: 'name', value: name, required: true })),
    field('Value', h('input', { name: 'value', value, required: true })),
    h('button', { type: 'button', class: 'link', onclick: (e) => e.target.closest('.matcher').remove() }, 'remove')));
  (pre.length ? pre : [['', '']]).forEach(([k, v]) => addRow(k, v));
  const duration = select('duration', [['1', '1 hour'], ['4', '4 hours'], ['24', '1 day'], ['168', '7 days']], '4');
  const comment = h('input', { name: 'comment', required: true, maxlength: 1024 });
  const form = h('form', { class: 'silence', 'aria-label': 'New silence' },
    h('p', {}, 'Alerts whose labels match every matcher are silenced: still recorded, not notified.'), rows,
    h('button', { type: 'button', class: 'link', onclick: () => addRow() }, 'add matcher'),
    field('Duration', duration), field('Comment', comment), h('button', { type: 'submit' }, 'Create silence'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const matchers = [...rows.querySelectorAll('.matcher')].map((r) => ({ name: r.querySelector('[name=name]').value.trim(), value: r.querySelector('[name=value]').value, isRegex: false, isEqual: true }));
    const endsAt = new Date(Date.now() + Number(duration.value) * 3_600_000).toISOString();
    try {
      await api('POST', '/v1/silences', { matchers, endsAt, comment: comment.value.trim() });
      location.hash = '#/silences';
    } catch (e) {
      form.append(errorBox(e));
    }
  });
  show(g, 'New silence', form);
}

// ---------------------------------------------------------------- reports

async function reportsPage() {
  const g = gen;
  let form = null;
  if (can('reports:create')) {
    const now = new Date();
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    form = h('form', { class: 'filters', 'aria-label': 'New report' },
      field('From', h('input', { name: 'from', type: 'datetime-local', required: true, value: local(new Date(now.getTime() - 30 * 86_400_000)) })),
      field('To', h('input', { name: 'to', type: 'datetime-local', required: true, value: local(now) })),
      field('Tenant', h('input', { name: 'tenant', value: session.tenants?.length === 1 ? session.tenants[0] : '' })),
      field('Format', select('format', [['html', 'HTML'], ['pdf', 'PDF'], ['json', 'JSON'], ['csv', 'CSV']], 'html')),
      h('button', { type: 'submit' }, 'Generate report'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = formValues(form);
      try {
        await api('POST', '/v1/reports', { from: toIso(v.from), to: toIso(v.to), format: v.format, ...(v.tenant ? { tenant: v.tenant } : {}) });
        setTimeout(reportsPage, 1500);
        reportsPage();
      } catch (e) {
        form.append(errorBox(e));
      }
    });
  }
  try {
    const { items } = await api('GET', '/v1/reports');
    show(g, 'Reports', form, table('Reports', [
      { label: 'requested', cell: (r) => fmtTime(r.requested_at ?? r.created_at) },
      { label: 'period', cell: (r) => `${fmtTime(r.from)} – ${fmtTime(r.to)}` },
      { label: 'tenant', cell: (r) => r.tenant ?? 'all' },
      { label: 'format', cell: (r) => r.format },
      { label: 'status', cell: (r) => badge(r.status) },
      { label: 'by', cell: (r) => r.requested_by ?? r.actor ?? '' },
      { label: '', cell: (r) => (r.status === 'ready' ? h('button', { type: 'button', onclick: () => download(`/v1/reports/${encodeURIComponent(r.id)}`, `probewatch-report-${r.id}.${r.format}`).catch((e) => alert(e.message)) }, 'Download') : r.error ?? '') },
    ], items, 'No reports yet.'));
  } catch (e) {
    show(g, 'Reports', form, errorBox(e));
  }
}

// ---------------------------------------------------------------- audit

async function auditPage(params) {
  const g = gen;
  const form = h('form', { class: 'filters', 'aria-label': 'Filter the audit trail' },
    field('Action', h('input', { name: 'action', value: params.get('action') ?? '' })),
    field('Actor', h('input', { name: 'actor', value: params.get('actor') ?? '' })),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/audit${qs(formValues(form))}`;
  });
  try {
    const [verify, list] = await Promise.all([api('GET', '/v1/audit/verify'), api('GET', `/v1/audit${qs({ action: params.get('action'), actor: params.get('actor'), limit: 200 })}`)]);
    show(g, 'Audit trail',
      h('p', { class: verify.ok ? 'verified' : 'error', role: 'status' }, verify.ok
        ? `Verified: ${verify.entries} entries in ${verify.chains} chain(s), ${verify.checkpoints} signed checkpoint(s), hash chains and signatures intact (${verify.seconds} s).`
        : `Verification FAILED: ${verify.problem ?? 'see the API'}`),
      form,
      table('Audit entries', [
        { label: 'at', cell: (x) => fmtTime(x.at) },
        { label: 'actor', cell: (x) => x.actor },
        { label: 'action', cell: (x) => h('code', {}, x.action) },
        { label: 'target', cell: (x) => x.target },
        { label: 'tenant', cell: (x) => x.tenant },
        { label: 'detail', cell: (x) => h('code', { class: 'detail' }, x.detail) },
        { label: 'chain · seq', cell: (x) => `${x.chain} · ${x.seq}` },
      ], list.items ?? []));
  } catch (e) {
    show(g, 'Audit trail', form, errorBox(e));
  }
}

// ---------------------------------------------------------------- probe pack

async function packPage(params) {
  const g = gen;
  try {
    const p = await pack();
    const filter = params.get('concept') ?? '';
    const text = (params.get('q') ?? '').toLowerCase();
    const features = p.features.filter((f) => (!filter || f.concept === filter) && (!text || String(f.label).toLowerCase().includes(text)));
    const form = h('form', { class: 'filters', 'aria-label': 'Filter features' },
      field('Concept', select('concept', [['', 'any'], ...Object.keys(p.concepts).map((c) => [c, c])], filter)),
      field('Label contains', h('input', { name: 'q', value: params.get('q') ?? '' })),
      h('button', { type: 'submit' }, 'Filter'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = `#/pack${qs(formValues(form))}`;
    });
    const q = p.sae?.quality ?? {};
    show(g, `Probe pack ${p.id}@${p.version}`,
      h('dl', { class: 'facts' },
        fact('model', `${p.model.id}, residual stream after layer ${p.model.layer} (d_model ${p.model.d_model})`),
        fact('context', `${p.runtime?.context_tokens} tokens, read in chunks of ${p.runtime?.chunk_tokens}`),
        fact('SAE', `${p.sae?.id}: ${p.sae?.architecture}, ${p.sae?.d_sae} features, k ${p.sae?.k}`),
        fact('SAE quality', `variance explained ${fmtNum(q.fraction_variance_explained)}, mean L0 ${fmtNum(q.mean_l0, 1)}, loss recovered ${fmtNum(q.loss_recovered)}, dead ${fmtNum(q.dead_fraction)}`)),
      h('h2', {}, 'Concepts'),
      Object.entries(p.concepts).map(([id, c]) => {
        const t = c.evaluation?.test ?? {};
        return h('section', { class: 'concept-card', 'aria-label': id },
          h('h3', {}, id),
          h('p', {}, c.description),
          h('dl', { class: 'facts' },
            fact('threshold', `${fmtNum(c.threshold)} (${c.evaluation?.threshold_rule ?? ''})`),
            fact('reads', `${(c.roles ?? []).join(', ')} tokens; ${c.aggregation}${c.aggregation === 'rolling' ? ` over ${c.window} tokens` : ''}`),
            fact('held-out', `AUROC ${fmtNum(t.auroc_pairs)} on minimal pairs, ${fmtNum(t.auroc_vs_controls)} against controls; recall ${fmtNum(t.recall, 2)}; false positives ${fmtNum(t.fpr_controls?.rate, 4)} on controls, ${fmtNum(t.fpr_hard_negatives?.rate, 3)} on hard negatives`)),
          h('div', { class: 'charts' }, calibrationChart(id, c.calibration, c.threshold), subtypeChart(id, t.per_subtype)));
      }),
      h('h2', {}, 'Feature browser'),
      form,
      table('Features', [
        { label: 'feature', cell: (f) => h('a', { href: `#/pack/feature/${f.index}` }, `#${f.index}`) },
        { label: 'concept', cell: (f) => f.concept ?? '' },
        { label: 'label', cell: (f) => f.label },
        { label: 'precision', cell: (f) => fmtNum(f.precision, 3) },
        { label: 'alignment', cell: (f) => fmtNum(f.alignment, 3) },
      ], features, 'No feature matches.'));
  } catch (e) {
    show(g, 'Probe pack', errorBox(e));
  }
}

async function featurePage(index) {
  const g = gen;
  try {
    const p = await pack();
    const card = p.features.find((f) => String(f.index) === String(index));
    if (!card) return show(g, `Feature #${index}`, h('p', { class: 'error' }, `Feature ${index} is not one of the pack's shipped features.`));
    const uses = Object.entries(p.concepts).flatMap(([id, c]) => (c.features ?? []).filter((f) => f.feature === card.index).map((f) => ({ concept: id, alignment: f.alignment })));
    show(g, `Feature #${card.index}`,
      h('p', {}, card.label),
      h('dl', { class: 'facts' },
        fact('active in', card.rates ? `positives ${fmtNum(card.rates.positives, 3)}, hard negatives ${fmtNum(card.rates.hard_negatives, 3)}, controls ${fmtNum(card.rates.controls, 3)}` : ''),
        fact('precision', fmtNum(card.precision, 3))),
      h('h2', {}, 'What it contributes'),
      table('Contributions', [
        { label: 'concept', cell: (u) => u.concept },
        { label: 'logit per unit of activation', cell: (u) => fmtNum(u.alignment, 4) },
      ], uses, 'No concept probe reads this feature.'),
      h('h2', {}, 'Top contexts'),
      featureCard(card, p),
      h('p', {}, h('a', { href: '#/pack' }, 'All features')));
  } catch (e) {
    show(g, `Feature #${index}`, errorBox(e));
  }
}

// ---------------------------------------------------------------- router

async function route() {
  const [pathPart, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const g = ++gen;
  const params = new URLSearchParams(query);
  if (!credential.get() || parts[0] === 'signin') return signInPage();
  if (!session) {
    try {
      await loadSession();
    } catch {
      return signInPage('Your session has ended; sign in again.');
    }
  }
  renderNav();
  const [section, id, sub] = parts;
  const first = SECTIONS.find((s) => can(s.permission));
  if (!section) return first ? (location.hash = `#/${first.path}`) : show(g, 'probewatch', h('p', {}, `Signed in as ${session.role}: this role has no console pages (it may only send events).`));
  switch (section) {
    case 'alerts': return id ? alertPage(id, params) : alertsPage(params);
    case 'incidents': return incidentsPage(params);
    case 'events': return id ? eventPage(id, params) : eventsPage(params);
    case 'rules': return rulesPage();
    case 'silences': return id === 'new' ? silenceForm(params) : silencesPage();
    case 'reports': return reportsPage();
    case 'audit': return auditPage(params);
    case 'pack': return id === 'feature' ? featurePage(sub) : packPage(params);
    default: return show(g, 'Not found', h('p', {}, 'No such page.'));
  }
}

/** First load: the sign-in options, and the return from the identity provider if this is one. */
async function boot() {
  oidc = await consoleConfig().catch(() => null);
  try {
    await finishSignIn(oidc);
  } catch (e) {
    credential.clear();
    return signInPage(e.message);
  }
  route();
}

window.addEventListener('hashchange', () => route());
window.addEventListener('probewatch:signed-out', () => {
  if (!session) return; // a sign-in attempt that failed: the sign-in form says so itself
  session = null;
  signInPage('Your key or token was refused; sign in again.');
});
boot();
