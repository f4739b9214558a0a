/**
 * The import layering of src/, checked by the test suite (test/unit/architecture.spec.ts).
 *
 * Layers, lowest first (a layer imports only from layers below it, and from itself):
 *   domain            shared types: events, scored events, concepts, alerts, severity, fingerprints
 *   config            environment and paths
 *   platform          process-wide plumbing: typed topics, the alert events
 *   probe, storage    the model and the stores; neither knows the other
 *   rules             rule files, compilation, evaluation, scheduling
 *   alerts            alert state and notification
 *   ingest, kafka     the transports and the pipeline
 *   guard             the inline guard, beside ingest (it scores and records through the pipeline)
 *   ops, cli, app.module, main, lifecycle    wiring, operations and commands
 *
 * Benchmarks (bench/src) and the local daemons (tools/infra) live outside src/ and are not part
 * of the service; src/ never imports them (checked below).
 *
 * Known exception, listed rather than hidden: config builds each stage's settings with that
 * stage's parser (config -> ingest, kafka, storage). Alerts leave rules and the pipeline as
 * "alert raised / resolved" events on platform/alert-events, so rules never import alerts.
 */
const STAGES_ABOVE_PROBE_AND_STORAGE = '^src/(rules|alerts|ingest|kafka|guard|ops|cli|infra|app\\.module|main|lifecycle)';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycles', from: { path: '^src' }, to: { circular: true } },
    {
      name: 'domain-is-the-base', severity: 'error', comment: 'domain/ imports nothing else from src',
      from: { path: '^src/domain/' }, to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'config-below-the-stages', severity: 'error', comment: 'config reads only domain and the stages\' settings parsers',
      from: { path: '^src/config/' }, to: { path: '^src/(probe|rules|alerts|guard|ops|cli|infra|app\\.module|main|lifecycle)' },
    },
    {
      name: 'platform-below-the-stages', severity: 'error', comment: 'platform/ imports only domain and config',
      from: { path: '^src/platform/' }, to: { path: '^src/', pathNot: '^src/(domain|config|platform)/' },
    },
    {
      name: 'probe-and-storage-below-rules', severity: 'error', comment: 'the model and the stores know nothing of rules, alerts or transports',
      from: { path: '^src/(probe|storage)/' }, to: { path: STAGES_ABOVE_PROBE_AND_STORAGE },
    },
    {
      name: 'probe-and-storage-independent', severity: 'error', comment: 'the probe and the stores do not import each other',
      from: { path: '^src/probe/' }, to: { path: '^src/storage/' },
    },
    {
      name: 'storage-without-probe', severity: 'error', comment: 'the probe and the stores do not import each other',
      from: { path: '^src/storage/' }, to: { path: '^src/probe/' },
    },
    {
      name: 'rules-below-alerts-and-transports', severity: 'error', comment: 'rules know nothing of alerts delivery, the transports or the commands',
      from: { path: '^src/rules/' }, to: { path: '^src/(alerts|ingest|kafka|guard|cli|infra|app\\.module|main|lifecycle)' },
    },
    {
      name: 'alerts-below-transports', severity: 'error', comment: 'alerts know nothing of Kafka or the commands',
      from: { path: '^src/alerts/' }, to: { path: '^src/(kafka|guard|cli|infra|app\\.module|main|lifecycle)' },
    },
    {
      name: 'guard-above-ingest', severity: 'error', comment: 'the guard uses the pipeline; the transports and the pipeline know nothing of the guard',
      from: { path: '^src/(ingest|kafka)/' }, to: { path: '^src/guard/' },
    },
    {
      name: 'service-without-tools', severity: 'error', comment: 'the service never imports the benchmarks or the local daemons',
      from: { path: '^src/' }, to: { path: '^(bench|tools)/' },
    },
    {
      name: 'only-wiring-imports-commands', severity: 'error', comment: 'nothing below the commands imports cli/ or infra/',
      from: { path: '^src/', pathNot: '^src/(cli|infra|main)' }, to: { path: '^src/(cli|infra)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
