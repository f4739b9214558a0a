/**
 * The report's charts: Vega-Lite specs over the report's own figures, rendered on the server to
 * SVG (vega's headless View, no canvas, no browser) and inlined in the HTML, so the PDF printed
 * from that HTML carries the same charts.
 *
 * Invariant: the same report body gives byte-identical SVG. Text is measured with vega's
 * estimate (never a canvas package that a host may or may not have), times are formatted in UTC,
 * and vega's process-wide counters for clip-path ids are replaced by ids derived from the
 * chart's name (which also keeps ids unique between the charts of one page).
 */
import * as vega from 'vega';
import { compile, TopLevelSpec } from 'vega-lite';

import { SEVERITIES } from '../../domain/alert';

export interface ReportCharts {
  detectionsByDay: string | null;
  alertsByDay: string | null;
  timeToAcknowledge: string | null;
}

/** The figures the charts are drawn from (a subset of the report body). */
export interface ChartData {
  detections_by_day: Array<{ day: string; concept: string; events: number; flagged: number }>;
  alerts: {
    by_day: Array<{ day: string; severity: string; alerts: number }>;
    time_to_acknowledge: Array<{ bucket: string; max_seconds: number | null; alerts: number }>;
  };
}

/** Fits the printable width of an A4 page with 15 mm margins (about 680 CSS px). */
const WIDTH = 640;
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const SEVERITY_COLOURS: Record<string, string> = { critical: '#7f0000', high: '#d7301f', medium: '#fc8d59', low: '#fdcc8a', info: '#9ecae1' };

/** vega measures text with a canvas when the optional `canvas` package loads; the estimate is the same everywhere. */
function useEstimatedTextWidths(): void {
  const metrics: unknown = Reflect.get(vega, 'textMetrics');
  if (metrics && typeof metrics === 'object' && typeof Reflect.get(metrics, 'canvas') === 'function') Reflect.apply(Reflect.get(metrics, 'canvas') as (use: boolean) => void, metrics, [false]);
}
useEstimatedTextWidths();

const base = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  width: WIDTH,
  height: 220,
  autosize: { type: 'fit', contains: 'padding' },
  background: 'white',
  config: { font: FONT, axis: { labelFontSize: 10, titleFontSize: 11 }, legend: { labelFontSize: 10, titleFontSize: 11, orient: 'bottom', direction: 'horizontal' }, view: { stroke: null } },
} as const;

const dayAxis = { field: 'day', type: 'temporal', timeUnit: 'utcyearmonthdate', title: null, axis: { format: '%d %b', labelAngle: 0, labelOverlap: true } } as const;

export function detectionsSpec(rows: ChartData['detections_by_day']): TopLevelSpec {
  return {
    ...base,
    description: 'Flagged events per day, by concept',
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: dayAxis,
      y: { field: 'flagged', type: 'quantitative', title: 'flagged events' },
      color: { field: 'concept', type: 'nominal', title: 'concept', scale: { scheme: 'tableau10' } },
    },
  };
}

export function alertsSpec(rows: ChartData['alerts']['by_day']): TopLevelSpec {
  const known: readonly string[] = [...SEVERITIES].reverse();
  const domain = [...known, ...[...new Set(rows.map((r) => r.severity))].filter((s) => !known.includes(s)).sort()];
  return {
    ...base,
    description: 'Alerts per day, by severity',
    data: { values: rows },
    mark: { type: 'bar' },
    encoding: {
      x: { ...dayAxis, bandPosition: 0 },
      y: { field: 'alerts', type: 'quantitative', aggregate: 'sum', title: 'alerts', stack: 'zero' },
      color: { field: 'severity', type: 'nominal', title: 'severity', scale: { domain, range: domain.map((s) => SEVERITY_COLOURS[s] ?? '#bdbdbd') } },
      order: { field: 'severity_rank', type: 'quantitative' },
    },
    transform: [{ calculate: `indexof(${JSON.stringify(domain)}, datum.severity)`, as: 'severity_rank' }],
  };
}

export function ackSpec(rows: ChartData['alerts']['time_to_acknowledge']): TopLevelSpec {
  return {
    ...base,
    height: 140,
    description: 'Alerts by time to acknowledge',
    data: { values: rows },
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      x: { field: 'bucket', type: 'ordinal', sort: rows.map((r) => r.bucket), title: 'time to acknowledge', axis: { labelAngle: 0, labelExpr: "datum.label == 'not acknowledged' ? ['not', 'acknowledged'] : datum.label" } },
      y: { field: 'alerts', type: 'quantitative', title: 'alerts' },
    },
  };
}

/** Replaces vega's counter-numbered ids (clip1, clip2, …) with `${prefix}-1`, `-2`, … in order of appearance. */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!ids.has(m[1])) ids.set(m[1], `${prefix}-${ids.size + 1}`);
  return svg.replace(/(\sid="|url\(#|href="#)([^")]+)/g, (all: string, lead: string, name: string) => (ids.has(name) ? `${lead}${ids.get(name)}` : all));
}

export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return scopeSvgIds(await view.toSVG(), idPrefix);
  } finally {
    view.finalize();
  }
}

/** The charts of a report; a chart with nothing to show is null (the HTML says so instead). */
export async function renderCharts(r: ChartData): Promise<ReportCharts> {
  const acked = r.alerts.time_to_acknowledge.some((b) => b.alerts > 0);
  return {
    detectionsByDay: r.detections_by_day.length ? await renderSvg(detectionsSpec(r.detections_by_day), 'chart-detections') : null,
    alertsByDay: r.alerts.by_day.length ? await renderSvg(alertsSpec(r.alerts.by_day), 'chart-alerts') : null,
    timeToAcknowledge: acked ? await renderSvg(ackSpec(r.alerts.time_to_acknowledge), 'chart-ack') : null,
  };
}
