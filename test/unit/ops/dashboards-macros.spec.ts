/**
 * The expansion of Grafana ClickHouse macros and variables, checked against the outputs the plugin
 * documents and its own tests (pkg/macros/macros_test.go, src/data/CHDatasource.test.ts).
 */
import { ALL, applyConditionalAll, expandQuery, expandTimeMacros, interpolateVariables, MacroError, QueryContext } from '../../../src/ops/dashboards/macros';

const ctx: QueryContext = {
  from: new Date('2026-01-01T00:00:00.000Z'),
  to: new Date('2026-01-01T06:00:00.500Z'),
  intervalMs: 30_000,
  variables: { tenant: ['acme', 'globex'], one: 'single', all: ALL, allList: [ALL], empty: '' },
};
const FROM = 1767225600;
const TO = 1767247200;

describe('Grafana ClickHouse macros', () => {
  it('expands the time macros as the plugin backend does', () => {
    expect(expandTimeMacros('$__timeFilter(ts)', ctx)).toBe(`ts >= toDateTime(${FROM}) AND ts <= toDateTime(${TO})`);
    expect(expandTimeMacros('$__timeFilter_ms(ts)', ctx)).toBe(`ts >= fromUnixTimestamp64Milli(${FROM}000) AND ts <= fromUnixTimestamp64Milli(${TO}500)`);
    expect(expandTimeMacros('$__fromTime, $__toTime', ctx)).toBe(`toDateTime(${FROM}), toDateTime(${TO})`);
    expect(expandTimeMacros('$__fromTime_ms $__toTime_ms', ctx)).toBe(`fromUnixTimestamp64Milli(${FROM}000) fromUnixTimestamp64Milli(${TO}500)`);
    expect(expandTimeMacros('$__dateFilter(d)', ctx)).toBe("d >= toDate('2026-01-01') AND d <= toDate('2026-01-01')");
    expect(expandTimeMacros('$__dt(d, t)', ctx)).toBe(`(d >= toDate('2026-01-01') AND d <= toDate('2026-01-01')) AND (t >= toDateTime(${FROM}) AND t <= toDateTime(${TO}))`);
    expect(expandTimeMacros('$__timeInterval(ts)', ctx)).toBe('toStartOfInterval(toDateTime(ts), INTERVAL 30 second)');
    expect(expandTimeMacros('$__timeInterval_ms(ts)', ctx)).toBe('toStartOfInterval(toDateTime64(ts, 3), INTERVAL 30000 millisecond)');
    expect(expandTimeMacros('$__interval_s', ctx)).toBe('30');
    expect(expandTimeMacros('$__interval_s', { ...ctx, intervalMs: 200 })).toBe('1');
    expect(expandTimeMacros('$__timeInterval(toDateTime(ts, \'UTC\'))', ctx)).toBe("toStartOfInterval(toDateTime(toDateTime(ts, 'UTC')), INTERVAL 30 second)");
  });

  it('refuses unknown macros and wrong argument counts', () => {
    expect(() => expandTimeMacros('$__timeGroup(ts)', ctx)).toThrow(MacroError);
    expect(() => expandTimeMacros('$__timeFilter(a, b)', ctx)).toThrow(/expected 1 argument, received 2/);
    expect(() => expandTimeMacros('$__timeFilter(ts', ctx)).toThrow(/unclosed/);
  });

  it('$__conditionalAll keeps the condition for a selection and becomes 1=1 for All or nothing', () => {
    const sql = 'x WHERE $__conditionalAll(t IN (${v}), $v) AND $__conditionalAll(hasAny(a, [${v}]), ${v})';
    expect(applyConditionalAll(sql, { v: ['a'] })).toBe('x WHERE t IN (${v}) AND hasAny(a, [${v}])');
    expect(applyConditionalAll(sql, { v: ALL })).toBe('x WHERE 1=1 AND 1=1');
    expect(applyConditionalAll(sql, { v: [ALL] })).toBe('x WHERE 1=1 AND 1=1');
    expect(applyConditionalAll(sql, { v: '' })).toBe('x WHERE 1=1 AND 1=1');
    expect(() => applyConditionalAll('$__conditionalAll(a = 1)', {})).toThrow(MacroError);
  });

  it('replaces variables as the plugin formats them: a list quoted, a single value as is', () => {
    expect(interpolateVariables('IN (${tenant}) $one ${one} $__timeFilter(ts) $unknown', ctx.variables)).toBe("IN ('acme','globex') single single $__timeFilter(ts) $unknown");
    expect(() => interpolateVariables('IN (${all})', ctx.variables)).toThrow(/All outside \$__conditionalAll/);
  });

  it('expands a whole panel query: conditionalAll, then variables, then time macros', () => {
    const sql = 'SELECT $__timeInterval(ts) AS time FROM e WHERE $__timeFilter(ts) AND $__conditionalAll(tenant IN (${tenant}), $tenant)';
    expect(expandQuery(sql, ctx)).toBe(`SELECT toStartOfInterval(toDateTime(ts), INTERVAL 30 second) AS time FROM e WHERE ts >= toDateTime(${FROM}) AND ts <= toDateTime(${TO}) AND tenant IN ('acme','globex')`);
    expect(expandQuery(sql, { ...ctx, variables: { tenant: ALL } })).toMatch(/AND 1=1$/);
  });
});
