// Small SVG charts drawn from the pack's own numbers (no chart library, nothing fetched).
import { fmtNum, s } from './dom.js';

const W = 360;
const H = 200;
const PAD = { l: 40, r: 10, t: 10, b: 34 };

/**
 * The calibration map: score = sigmoid(a·logit + c + length·ln(1 + n)) over the probe's
 * aggregated logit, for a conversation of n in-scope tokens, with the threshold as a line.
 */
export function calibrationChart(conceptId, cal, threshold, n = 64) {
  const a = Number(cal?.a ?? 1);
  const c = Number(cal?.c ?? 0);
  const len = Number(cal?.length ?? 0);
  const score = (x) => 1 / (1 + Math.exp(-(a * x + c + len * Math.log(1 + n))));
  // The logit range where the score moves: centred on the 50% point.
  const mid = -(c + len * Math.log(1 + n)) / (a || 1);
  const span = 8 / Math.max(0.05, Math.abs(a));
  const x0 = mid - span;
  const x1 = mid + span;
  const px = (x) => PAD.l + ((x - x0) / (x1 - x0)) * (W - PAD.l - PAD.r);
  const py = (y) => H - PAD.b - y * (H - PAD.t - PAD.b);
  const pts = [];
  for (let i = 0; i <= 80; i++) {
    const x = x0 + ((x1 - x0) * i) / 80;
    pts.push(`${px(x).toFixed(1)},${py(score(x)).toFixed(1)}`);
  }
  const title = `Calibration of ${conceptId}: score against probe logit (n = ${n} tokens in scope); threshold ${fmtNum(threshold)}`;
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title },
    s('title', {}, title),
    axes(`logit (${fmtNum(x0, 1)} … ${fmtNum(x1, 1)})`, 'score'),
    s('line', { x1: PAD.l, x2: W - PAD.r, y1: py(threshold), y2: py(threshold), class: 'threshold' }),
    s('text', { x: W - PAD.r - 4, y: py(threshold) - 4, 'text-anchor': 'end', class: 'label' }, `threshold ${fmtNum(threshold, 2)}`),
    s('polyline', { points: pts.join(' '), class: 'curve' }));
}

function axes(xLabel, yLabel) {
  return s('g', { class: 'axes' },
    s('line', { x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }),
    s('line', { x1: PAD.l, x2: PAD.l, y1: PAD.t, y2: H - PAD.b }),
    s('text', { x: PAD.l - 6, y: PAD.t + 8, 'text-anchor': 'end', class: 'label' }, '1'),
    s('text', { x: PAD.l - 6, y: H - PAD.b, 'text-anchor': 'end', class: 'label' }, '0'),
    s('text', { x: (W + PAD.l) / 2, y: H - 8, 'text-anchor': 'middle', class: 'label' }, xLabel),
    s('text', { x: 12, y: (H - PAD.b) / 2, 'text-anchor': 'middle', class: 'label', transform: `rotate(-90 12 ${(H - PAD.b) / 2})` }, yLabel));
}

/** Held-out recall and hard-negative false-positive rate per sub-type, as paired bars. */
export function subtypeChart(conceptId, perSubtype) {
  const rows = Object.entries(perSubtype ?? {});
  const rowH = 18;
  const height = PAD.t + rows.length * rowH + 30;
  const left = 170;
  const bw = (v) => Math.max(0, Math.min(1, Number(v) || 0)) * (W + 120 - left - 20);
  const title = `Held-out recall at the threshold (dark) and false positives on hard negatives (light), per sub-type of ${conceptId}`;
  return s('svg', { viewBox: `0 0 ${W + 120} ${height}`, class: 'chart', role: 'img', 'aria-label': title },
    s('title', {}, title),
    rows.map(([name, m], i) => {
      const y = PAD.t + i * rowH;
      return s('g', {},
        s('text', { x: left - 6, y: y + 12, 'text-anchor': 'end', class: 'label' }, name.replace(/_/g, ' ')),
        s('rect', { x: left, y: y + 2, width: bw(m.recall), height: 7, class: 'bar-recall' }),
        s('rect', { x: left, y: y + 9, width: bw(m.fpr_hard_negatives), height: 6, class: 'bar-fpr' }),
        s('text', { x: left + bw(m.recall) + 4, y: y + 10, class: 'label small' }, `${fmtNum(m.recall, 2)} / ${fmtNum(m.fpr_hard_negatives, 2)}`));
    }),
    s('text', { x: left, y: height - 8, class: 'label' }, 'recall / false-positive rate (0 … 1)'));
}
