/**
 * The chaos harness, short (issue 9): a few seeds of scripts/chaos/run.js with
 * eight uploads each, the whole farm as real processes under a seeded
 * killer, judged by the same end-state checks as the long run
 * (lib/chaos/end-state.ts). The long run and its results: BENCHMARKS.md, "Chaos".
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../../scripts/chaos/run.js', import.meta.url));
const SEEDS = 3;
const UPLOADS = 8;

interface SeedResult {
  readonly seed: number;
  readonly uploads: number;
  readonly sigkill: number;
  readonly sigterm: number;
  readonly faultsFired: number;
  readonly accepts: number;
  readonly problems: string[];
  readonly kept?: string;
}

describe('the chaos harness', () => {
  it(`${SEEDS} seeds of ${UPLOADS} uploads: every program killed at random and restarted, nothing lost, duplicated, partial or stuck`, async () => {
    const run = await execa(process.execPath, [RUN, '--seeds', String(SEEDS), '--first-seed', '9001', '--uploads', String(UPLOADS), '--kill-ms', '200-900', '--json'], {
      reject: false,
    });
    const results = String(run.stdout)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as SeedResult);
    expect(results.map((result) => result.seed), String(run.stderr)).toEqual([9001, 9002, 9003]);
    for (const result of results) {
      expect(result.problems, `seed ${result.seed} (kept in ${result.kept ?? '-'})`).toEqual([]);
      expect(result.accepts).toBe(UPLOADS);
    }
    // The killer did its work: a run without kills would prove nothing.
    expect(results.reduce((total, result) => total + result.sigkill + result.sigterm + result.faultsFired, 0)).toBeGreaterThan(SEEDS * 5);
    expect(run.exitCode).toBe(0);
  }, 300_000);
});
