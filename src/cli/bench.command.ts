import type { RuntimePaths } from '../config/runtime-paths';

export async function runBench(_paths: RuntimePaths, _args: string[]): Promise<number> {
  throw new Error('bench is not implemented yet');
}
