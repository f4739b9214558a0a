// An event's evidence: each concept's score against its threshold, the conversation with the
// tokens that drove the selected concept highlighted by their exact contribution to the probe's
// logit, and the SAE features that explain it, with their labels and top contexts from the pack.
import { badge, fmtNum, fmtTime, h, nodes, scoreBar, table } from './dom.js';

/** Splits a message's text into plain runs and highlighted tokens (UTF-16 offsets from the API). */
export function highlight(text, marks) {
  const spans = marks.filter((m) => m.start !== undefined && m.end !== undefined && m.end > m.start && m.start >= 0 && m.end <= text.length)
    .sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const m of spans) {
    if (m.start < at) continue; // overlapping tokens: the first wins
    if (m.start > at) out.push(text.slice(at, m.start));
    out.push(h('mark', {
      class: 'tok', 'data-index': m.index, 'data-contribution': fmtNum(m.activation, 4),
      title: `token ${m.index}: ${m.activation >= 0 ? '+' : ''}${fmtNum(m.activation, 3)} to the logit`,
      style: { '--w': String(m.weight) },
    }, text.slice(m.start, m.end)));
    at = m.end;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

function contexts(card) {
  const items = Array.isArray(card?.top_contexts) ? card.top_contexts : [];
  if (!items.length) return h('p', { class: 'empty' }, 'The pack lists no top contexts for this feature.');
  return h('ol', { class: 'contexts' }, items.map((c) => h('li', {},
    h('span', { class: 'ctx-act' }, fmtNum(c.activation, 2)), ' ',
    contextText(String(c.context ?? '')),
    c.scenario ? h('span', { class: 'muted' }, ` (${c.scenario})`) : null)));
}

/** The builder marks the strongest token of a context as «token». */
export function contextText(text) {
  const parts = [];
  const re = /«([^»]*)»/g;
  let at = 0;
  for (let m; (m = re.exec(text)); ) {
    parts.push(text.slice(at, m.index), h('mark', { class: 'tok', style: { '--w': '0.7' } }, m[1]));
    at = m.index + m[0].length;
  }
  parts.push(text.slice(at));
  return h('span', { class: 'ctx' }, parts);
}

export function featureCard(card, pack) {
  return card ? contexts(card) : h('p', { class: 'empty' }, `Feature not in pack ${pack?.version ?? ''}.`);
}

export function renderEvent(ev, pack, selected) {
  const concepts = Object.entries(ev.concepts ?? {}).sort((a, b) => b[1].score - a[1].score);
  const current = selected && ev.concepts?.[selected] ? selected : (concepts.find(([, c]) => c.flagged) ?? concepts[0] ?? [])[0];
  const root = h('section', { class: 'evidence', 'aria-label': 'Evidence' });
  const draw = (cid) => {
    root.replaceChildren(...nodes(evidenceParts(ev, pack, concepts, cid, draw)));
  };
  draw(current);
  return root;
}

function evidenceParts(ev, pack, concepts, cid, draw) {
  const c = ev.concepts?.[cid];
  const cards = new Map((pack?.features ?? []).map((f) => [f.index, f]));
  const tokens = (c?.tokens ?? []).filter((t) => t.activation > 0);
  const maxW = Math.max(1e-9, ...tokens.map((t) => t.activation));
  const byMessage = new Map();
  for (const t of tokens) {
    if (t.message === undefined) continue;
    if (!byMessage.has(t.message)) byMessage.set(t.message, []);
    byMessage.get(t.message).push({ ...t, weight: Math.max(0.15, Math.min(1, t.activation / maxW)).toFixed(2) });
  }
  const withheld = !Array.isArray(ev.messages);
  return [
    h('h2', {}, 'Concept scores'),
    h('div', { class: 'concepts', role: 'group', 'aria-label': 'Choose the concept whose evidence is shown' }, concepts.map(([id, r]) => h('button', {
      type: 'button', class: `concept${id === cid ? ' selected' : ''}`, 'aria-pressed': String(id === cid), 'data-concept': id, onclick: () => draw(id),
    }, h('span', { class: 'cname' }, id), ' ', scoreBar(r.score, r.threshold), ' ', h('span', { class: 'num' }, fmtNum(r.score)),
    r.flagged ? badge('flagged', 'flagged') : r.in_scope === false ? badge('out of scope', 'muted') : null))),
    ev.truncated ? h('p', { class: 'warn' }, `Truncated: tokens ${ev.dropped?.start}–${ev.dropped?.end} were dropped from the middle (the system prompt and the newest tokens were read).`) : null,
    h('h2', {}, `Conversation, highlighted for ${cid ?? 'no concept'}`),
    c?.span ? h('p', { class: 'muted' }, `Deciding span: tokens ${c.span.start}–${c.span.end} of ${ev.tokens}. Highlight strength is each token's contribution to the probe's logit.`) : null,
    c?.view === 'turn' ? h('p', { class: 'muted' }, 'Decided on the newest turn read with the system prompt alone (the turn view): it was flagged there, and scored higher than the whole conversation read in context.') : null,
    withheld
      ? h('p', { class: 'warn' }, ev.content_withheld ? 'The conversation text is withheld: your key does not grant content.' : 'No conversation text is stored for this event (content policy).')
      : h('ol', { class: 'conversation' }, ev.messages.map((m, i) => h('li', { class: `msg role-${m.role}` },
        h('span', { class: 'role' }, m.role),
        h('div', { class: 'content' }, highlight(String(m.content ?? ''), byMessage.get(i) ?? []))))),
    h('h2', {}, 'Tokens that drove the score'),
    table('Top tokens', [
      { label: 'token #', cell: (t) => String(t.index) },
      { label: 'token', cell: (t) => h('code', {}, t.token ?? '(withheld)') },
      { label: 'message', cell: (t) => (t.message === undefined ? 'template' : String(t.message)) },
      { label: 'contribution', cell: (t) => fmtNum(t.activation, 4) },
    ], c?.tokens ?? [], 'No token evidence for this concept.'),
    h('h2', {}, 'Features that explain it'),
    table('Top features', [
      { label: 'feature', cell: (f) => h('a', { href: `#/pack/feature/${f.feature}` }, `#${f.feature}`) },
      { label: 'label', cell: (f) => f.label },
      { label: 'contribution', cell: (f) => fmtNum(f.contribution, 4) },
      { label: 'max activation', cell: (f) => fmtNum(f.activation, 3) },
      { label: 'on tokens', cell: (f) => (f.top_tokens ?? []).map((t) => t.token ?? `#${t.index}`).join(' · ') },
      { label: 'top contexts', cell: (f) => h('details', {}, h('summary', {}, 'show'), featureCard(cards.get(f.feature), pack)) },
    ], c?.features ?? [], 'No feature evidence for this concept.'),
    h('p', { class: 'muted' }, `Event ${ev.id} · tenant ${ev.tenant} · ${ev.source} · ${ev.model} · ${fmtTime(ev.timestamp)} · pack ${ev.pack?.id}@${ev.pack?.version} · ${ev.tokens} tokens · content policy ${ev.content_policy ?? ''}`),
  ];
}
