import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { resolvePackDir, resolveRuntimePaths, RuntimePaths } from '../config/runtime-paths';
import { setupModel } from '../probe/model-setup';
import { EngineOptions, ProbeEngine } from '../probe/probe-engine';
import { parseTurnView } from '../domain/concepts';
import { loadProbePack, PackError, ProbePack } from '../probe/probe-pack.loader';
import { stderrReporter } from './progress-reporter';
import { scoreStream } from './score.command';
import { UsageError } from './usage-error';

const USAGE = `usage: probewatch <command> [options]

commands:
  setup   [--pack ID|DIR] [--verbose]        prepare the model for a probe pack (download + ONNX conversion)
  score   --input FILE|- [--output FILE]     score events (JSONL) and write one JSON line per event
          [--pack ID|DIR] [--provider cpu|cuda|webgpu] [--workers N] [--threads N]
          [--prefix-cache-mb N]              prefix cache shared by all lines (default 256, 0: off): a line
                                             extending an earlier conversation computes only its new tokens
          [--turn-view all|off|CONCEPT,…]    concepts that also read the newest turn with the system prompt
                                             alone; a flagged, higher score there wins (default $PROBEWATCH_TURN_VIEW)
  eval    --input FILE [--out FILE] [--pack ID|DIR] [--turn-view all|off|CONCEPT,…]
                                             the pack measured on labelled events (JSONL: event + labels
                                             {concept: 0|1}): AUROC, recall, false positives at threshold
  alerting lint [FILE]                       check an alerting file (default $PROBEWATCH_ALERTING_FILE or ./alerting.yaml)
  guard   lint [FILE]                        check an inline guard policy (default $PROBEWATCH_GUARD_FILE or ./guard.yaml)
  alerts  route-test --labels k=v,… [--file FILE] [--at TIME] [--json]
                                             the receivers and groups an alert with those labels reaches
  keys    create --role R [--tenant T]… [--name N] [--content] | list | revoke ID
                                             API keys in the configured store (the key is printed once)
  audit   verify [--bundle FILE] | export --from T --to T --out FILE
                                             check the audit trail's hash chains and signatures; export a bundle
  report  --from T --to T [--tenant T] [--format json|csv|html|pdf] --out FILE
                                             a signed compliance report for the period
  erase   --user ID                          remove one end user's content everywhere (recorded in the audit trail)
  retention apply [--dry-run]                drop the monthly partitions older than PROBEWATCH_RETENTION_DAYS (each in the audit trail)
  rules   lint [paths…] | test [paths…] | backtest <rule-file…> --from T --to T
                                             check, unit-test and backtest rule files
  dashboards [--check] [--out DIR]           write the Grafana dashboards to dashboards/; --check exits 1 if they are stale
  migrate [--print] [--cluster NAME]         apply the schema; --print: its DDL (--cluster: for a cluster)

benchmarks: npm run bench:<probe|context|prefix|pipeline|kafka|rules|alerts>
local Kafka, ClickHouse server, Alertmanager: npm run infra -- <kafka|clickhouse|alertmanager> start|stop|status|reset

exit codes: 0 ok, 1 some input lines failed, 2 usage or setup error`;

export async function openEngine(paths: RuntimePaths, packRef: string | undefined, opts: Partial<EngineOptions>, verbose = false): Promise<ProbeEngine> {
  const pack: ProbePack = await loadProbePack(resolvePackDir(paths, packRef));
  const reporter = stderrReporter(verbose);
  try {
    const artifacts = await setupModel(paths, pack.manifest, reporter);
    return await ProbeEngine.create(pack, artifacts, opts);
  } finally {
    reporter.stop();
  }
}

function cacheMb(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--prefix-cache-mb must be a number of MiB, 0 or more (got '${v}')`);
  return n;
}

/** `--turn-view`, else PROBEWATCH_TURN_VIEW, else the engine's default. */
function turnView(flag: string | undefined): Partial<EngineOptions> {
  const raw = flag ?? process.env.PROBEWATCH_TURN_VIEW;
  if (raw === undefined) return {};
  try {
    return { turnViewConcepts: parseTurnView(raw) };
  } catch (e) {
    throw new UsageError(`${flag !== undefined ? '--turn-view' : 'PROBEWATCH_TURN_VIEW'}: ${(e as Error).message}`);
  }
}

function provider(v: string | undefined): EngineOptions['executionProvider'] {
  if (v === undefined || v === 'cpu' || v === 'cuda' || v === 'webgpu') return v ?? 'cpu';
  throw new UsageError(`--provider must be cpu, cuda or webgpu (got '${v}')`);
}


export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const paths = resolveRuntimePaths();
  try {
    switch (command) {
      case 'setup': {
        const { values } = parseArgs({ args: rest, options: { pack: { type: 'string' }, verbose: { type: 'boolean' } } });
        const pack = await loadProbePack(resolvePackDir(paths, values.pack));
        const reporter = stderrReporter(Boolean(values.verbose));
        const a = await setupModel(paths, pack.manifest, reporter);
        reporter.stop();
        process.stdout.write(`${a.onnxPath}\n`);
        return 0;
      }
      case 'score': {
        const { values } = parseArgs({
          args: rest,
          options: {
            input: { type: 'string', short: 'i' },
            output: { type: 'string', short: 'o' },
            pack: { type: 'string' },
            provider: { type: 'string' },
            workers: { type: 'string' },
            threads: { type: 'string' },
            'prefix-cache-mb': { type: 'string' },
            'turn-view': { type: 'string' },
            verbose: { type: 'boolean' },
          },
        });
        if (!values.input) throw new UsageError('score needs --input FILE (or - for stdin)');
        if (values.input !== '-' && !existsSync(values.input)) throw new UsageError(`input file ${values.input} not found`);
        const engine = await openEngine(paths, values.pack, {
          executionProvider: provider(values.provider),
          workers: values.workers ? Number(values.workers) : 1,
          intraOpThreads: values.threads ? Number(values.threads) : 0,
          ...(values['prefix-cache-mb'] !== undefined ? { prefixCacheMb: cacheMb(values['prefix-cache-mb']) } : {}),
          ...turnView(values['turn-view']),
        }, Boolean(values.verbose));
        try {
          const s = await scoreStream(engine, values.input, values.output);
          const pc = engine.prefixCacheStats;
          const reuse = pc.enabled ? `; prefix cache: ${pc.hitTokens} of ${pc.hitTokens + pc.missTokens} tokens reused` : '';
          process.stderr.write(`probewatch: scored ${s.scored} of ${s.lines} events${s.failed ? `, ${s.failed} failed` : ''}${reuse}\n`);
          return s.failed > 0 ? 1 : 0;
        } finally {
          await engine.close();
        }
      }
      case 'eval': {
        const { values } = parseArgs({
          args: rest,
          options: { input: { type: 'string', short: 'i' }, out: { type: 'string' }, pack: { type: 'string' }, threads: { type: 'string' }, 'turn-view': { type: 'string' }, verbose: { type: 'boolean' } },
        });
        if (!values.input) throw new UsageError('eval needs --input FILE (JSONL events with labels)');
        if (values.input !== '-' && !existsSync(values.input)) throw new UsageError(`input file ${values.input} not found`);
        const { evaluateFile, formatEval } = await import('./eval.command');
        const engine = await openEngine(paths, values.pack, { intraOpThreads: values.threads ? Number(values.threads) : 0, ...turnView(values['turn-view']) }, Boolean(values.verbose));
        try {
          const report = await evaluateFile(engine, values.input, (m) => process.stderr.write(`${m}\n`));
          process.stdout.write(`${formatEval(report)}\n`);
          if (values.out) {
            const { writeFileSync } = await import('node:fs');
            writeFileSync(values.out, JSON.stringify(report, null, 1) + '\n');
          }
          return report.failed > 0 ? 1 : 0;
        } finally {
          await engine.close();
        }
      }
      case 'audit':
      case 'report':
      case 'erase':
      case 'keys': {
        // The commands on the configured store; a UsageError they throw is reported below.
        const { loadConfig } = await import('../config/app-config');
        const cfg = loadConfig(process.env);
        const out = (l: string): void => void process.stdout.write(`${l}\n`);
        if (command === 'audit') return await (await import('./audit.command')).runAudit(cfg, rest, out);
        if (command === 'report') return await (await import('./report.command')).runReport(cfg, paths, rest, out);
        if (command === 'erase') return await (await import('./erase.command')).runErase(cfg, rest, out);
        return await (await import('./keys.command')).runKeys(cfg, rest, out);
      }
      case 'retention': {
        const { loadConfig } = await import('../config/app-config');
        const { runRetention } = await import('./retention.command');
        return await runRetention(loadConfig(process.env), rest, (l) => void process.stdout.write(`${l}\n`));
      }
      case 'bench':
      case 'infra':
        throw new UsageError(`'probewatch ${command}' moved out of the service: use npm run ${command === 'bench' ? 'bench:<name>' : 'infra -- …'}`);
      case 'migrate': {
        const { runMigrate } = await import('./migrate.command');
        const { loadConfig } = await import('../config/app-config');
        return await runMigrate(rest, () => loadConfig(process.env), (l) => void process.stdout.write(`${l}\n`));
      }
      case 'rules': {
        const { runRules } = await import('./rules.command');
        return await runRules(paths, rest);
      }
      case 'guard': {
        const { runGuard } = await import('./guard.command');
        return runGuard(rest, (l) => void process.stdout.write(`${l}\n`), (l) => void process.stderr.write(`${l}\n`));
      }
      case 'dashboards': {
        const { runDashboards } = await import('./dashboards.command');
        return runDashboards(rest, (l) => void process.stdout.write(`${l}\n`), (l) => void process.stderr.write(`${l}\n`));
      }
      case 'alerting':
      case 'alerts': {
        const { runAlertingLint, runRouteTest, AlertingUsageError } = await import('./alerting.command');
        const out = (l: string): void => void process.stdout.write(`${l}\n`);
        const err = (l: string): void => void process.stderr.write(`${l}\n`);
        try {
          return command === 'alerting' ? runAlertingLint(rest, out, err) : runRouteTest(rest, out, err);
        } catch (e) {
          if (e instanceof AlertingUsageError) throw new UsageError(e.message);
          throw e;
        }
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`probewatch: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof PackError || (e as { code?: string }).code === 'SETUP_FAILED' || (e as { code?: string }).code === 'EXECUTION_PROVIDER' || (e as { code?: string }).code === 'PREREQUISITE_MISSING') {
      process.stderr.write(`probewatch: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}
