import { SingleBar } from 'cli-progress';

import type { SetupReporter } from '../probe/model-setup';

/** Progress on stderr: a live bar on a terminal, sparse plain lines otherwise (CI logs). */
export function stderrReporter(verbose = false): SetupReporter & { stop(): void } {
  const tty = Boolean(process.stderr.isTTY);
  let bar: SingleBar | null = null;
  let lastPlain = -1;
  const stop = (): void => {
    bar?.stop();
    bar = null;
  };
  return {
    step(message) {
      stop();
      process.stderr.write(`probewatch: ${message}\n`);
    },
    progress(done, total, label) {
      if (tty) {
        if (!bar) {
          bar = new SingleBar({ format: '  [{bar}] {value}/{total} {label}', stream: process.stderr, hideCursor: true }, undefined);
          bar.start(total, done, { label });
        }
        bar.setTotal(total);
        bar.update(done, { label });
        return;
      }
      const pct = Math.floor((100 * done) / Math.max(total, 1));
      if (pct >= lastPlain + 10 || done === total) {
        lastPlain = pct;
        process.stderr.write(`  ${pct}% (${done}/${total}) ${label}\n`);
      }
    },
    log(line) {
      if (verbose) process.stderr.write(`  ${line}\n`);
    },
    stop,
  };
}
