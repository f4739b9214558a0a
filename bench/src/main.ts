/**
 * `npm run bench:<name>` (probe, context, prefix, pipeline, kafka, rules, alerts, access, reports, guard): the benchmarks, kept out
 * of the service's source. Each writes bench/results/<name>.json; figures are measured, never
 * asserted.
 */
import { resolveRuntimePaths } from '../../src/config/runtime-paths';
import { runBench } from './bench.command';

runBench(resolveRuntimePaths(), process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
