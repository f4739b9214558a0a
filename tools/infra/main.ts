/**
 * `npm run infra -- <kafka|clickhouse|alertmanager> <start|stop|status|reset>`: the real
 * components the tests use, run locally for development. Kept out of the service's source.
 */
import { resolveRuntimePaths } from '../../src/config/runtime-paths';
import { runInfra } from './infra.command';

runInfra(resolveRuntimePaths(), process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`probewatch infra: ${e.message}\n`);
    process.exit(1);
  },
);
