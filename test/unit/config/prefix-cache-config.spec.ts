import { CONFIG_DOC, loadConfig } from '../../../src/config/app-config';

describe('PROBEWATCH_PREFIX_CACHE_MB', () => {
  it('defaults to 256 MiB per worker, 0 turns it off, and a bad value is reported', () => {
    expect(loadConfig({}).prefixCacheMb).toBe(256);
    expect(loadConfig({ PROBEWATCH_PREFIX_CACHE_MB: '0' }).prefixCacheMb).toBe(0);
    expect(() => loadConfig({ PROBEWATCH_PREFIX_CACHE_MB: '-1' })).toThrow(/PROBEWATCH_PREFIX_CACHE_MB/);
    expect(CONFIG_DOC.find((d) => d.name === 'PROBEWATCH_PREFIX_CACHE_MB')?.default).toBe('256');
  });
});
