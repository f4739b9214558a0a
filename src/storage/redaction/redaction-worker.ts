/**
 * Worker thread that finds the sensitive spans of texts: the local detectors, and secretlint's
 * recommended preset. Off the main thread because a large, digit-dense message can keep the
 * detectors busy for a second (libphonenumber), which must not stall ingestion; and because
 * secretlint is ESM-only, which a worker loads through Node's own loader whether the main
 * thread is the CommonJS build or a Jest sandbox (where it cannot be loaded).
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';

import type * as SecretlintCore from '@secretlint/core';
import type * as SecretlintPreset from '@secretlint/secretlint-rule-preset-recommend';

import { findLocalSpans } from './local-detectors';
import { findingsOf, joinTexts, splitFindings } from './secretlint-findings';
import { mergeSpans, SensitiveSpan } from './sensitive-span';

export interface ScanRequest {
  seq: number;
  texts: string[];
}

export type ScanReply =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; seq: number; spans: SensitiveSpan[][] }
  | { type: 'error'; seq: number; message: string };

const PRESET_ID = '@secretlint/secretlint-rule-preset-recommend';
const FILTER_COMMENTS_ID = '@secretlint/secretlint-rule-filter-comments';
const AWS_ID = '@secretlint/secretlint-rule-aws';

/**
 * TypeScript compiles import() to require() under CommonJS; a function built at run time keeps
 * a real dynamic import, which is how an ESM-only package is loaded from CommonJS.
 */
const importEsm = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

type LintSource = typeof SecretlintCore.lintSource;
type LintConfig = Parameters<LintSource>[0]['options']['config'];
interface Secretlint {
  lintSource: LintSource;
  config: LintConfig;
}

/**
 * secretlint's profiler cannot be turned off: every lint call records ~60 performance marks
 * (and measures and promises derived from them) that are never released, so memory grows and
 * each call gets slower (a 1 KB scan went from 1.5 ms to 17 ms within 1,000 calls). This thread
 * does nothing but redaction, so marks are made no-ops here, before secretlint loads.
 */
function disableSecretlintProfiler(): void {
  Object.defineProperty(performance, 'mark', { value: () => undefined, configurable: true, writable: true });
}

async function loadSecretlint(): Promise<Secretlint> {
  disableSecretlintProfiler();
  const core = await importEsm<typeof SecretlintCore>('@secretlint/core');
  const preset = await importEsm<typeof SecretlintPreset>(PRESET_ID);
  // The preset's rules one by one, so that one can be left out: secretlint-rule-filter-comments
  // honours "secretlint-disable" comments, and a message that contains one (a pasted config
  // file, or a user who writes one) must not switch secret detection off. secretlint 12 ignores
  // `disabled` on a rule nested in a preset, hence the flat list.
  const config = {
    rules: preset.rules
      .filter((rule) => rule.meta.id !== FILTER_COMMENTS_ID)
      // Access key ids are credentials too; the AWS rule skips them unless asked.
      .map((rule) => ({ id: rule.meta.id, rule, options: rule.meta.id === AWS_ID ? { enableIDScanRule: true } : {} })),
  } as LintConfig;
  return { lintSource: core.lintSource, config };
}

async function findSecrets(lint: Secretlint, texts: readonly string[]): Promise<SensitiveSpan[][]> {
  const { joined, offsets } = joinTexts(texts);
  if (joined.length === 0) return texts.map(() => []);
  const result = await lint.lintSource({
    source: { content: joined, filePath: 'message.txt', contentType: 'text' },
    options: { config: lint.config, noPhysicFilePath: true },
  });
  return splitFindings(texts, offsets, findingsOf(joined, result.messages));
}

async function scanTexts(lint: Secretlint, texts: readonly string[]): Promise<SensitiveSpan[][]> {
  const secrets = await findSecrets(lint, texts);
  return texts.map((t, i) => mergeSpans([...findLocalSpans(t), ...secrets[i]]));
}

async function startWorker(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  let lint: Secretlint;
  try {
    lint = await loadSecretlint();
  } catch (e) {
    port.postMessage({ type: 'init-error', message: (e as Error).message } satisfies ScanReply);
    return;
  }
  port.on('message', (req: ScanRequest) => {
    scanTexts(lint, req.texts).then(
      (spans) => port.postMessage({ type: 'result', seq: req.seq, spans } satisfies ScanReply),
      (e: Error) => port.postMessage({ type: 'error', seq: req.seq, message: e.message } satisfies ScanReply),
    );
  });
  port.postMessage({ type: 'ready' } satisfies ScanReply);
}

void startWorker();
