/** `probewatch alerting lint` and `probewatch alerts route-test`, run as a user runs them. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'probewatch.js');
jest.setTimeout(60_000);

function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PROBEWATCH_ALERTING_FILE: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('probewatch alerting / alerts (CLI)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'alerting-'));

  it('lints the shipped alerting.yaml (exit 0)', () => {
    const r = run(['alerting', 'lint', 'alerting.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/alerting\.yaml: ok \(2 receivers, 1 inhibit rules, 0 time intervals\)/);
  });

  it('reports every error at file:line:col and exits 1; PROBEWATCH_ALERTING_FILE picks the file', () => {
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, 'route:\n  receiver: ghost\n  group_by: rule\nreceivers:\n  - name: real\n');
    const r = run(['alerting', 'lint'], { PROBEWATCH_ALERTING_FILE: file });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:3:13: route.group_by must be a list`);
    expect(r.stderr).toContain(`${file}:2:13: receiver 'ghost' is not defined under receivers`);
  });

  it('route-test prints the receivers and group an alert reaches', () => {
    const r = run(['alerts', 'route-test', '--labels', 'rule=Harmful request,severity=critical,tenant=acme', '--file', 'alerting.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^safety-team {2}\(route\.routes\[0\], alerting\.yaml:\d+\)/);
    expect(r.stdout).toContain('group route.routes[0]:{rule="Harmful request",tenant="acme"}: wait 30s, interval 300s, repeat 3600s');
    const low = run(['alerts', 'route-test', '--labels', 'rule=r,severity=low,tenant=acme', '--json']);
    const j = JSON.parse(low.stdout) as { routes: Array<{ receiver: string }>; inhibitable_by: Array<{ source: string[]; equal: string[] }> };
    expect(j.routes.map((x) => x.receiver)).toEqual(['log-only']);
    expect(j.inhibitable_by).toEqual([expect.objectContaining({ source: ['severity="critical"'], equal: ['rule', 'tenant'] })]);
  });

  it('explains usage errors (exit 2)', () => {
    const r = run(['alerts', 'route-test']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: probewatch alerts route-test --labels/);
  });
});
