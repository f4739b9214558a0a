import { readFileSync } from 'node:fs';

/** Peak resident set size (VmHWM) of a live process in MB, NaN where /proc cannot tell. */
export function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
