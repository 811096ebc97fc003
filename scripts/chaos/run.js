// The chaos harness (issue 9; run after `npm run build`):
//
//   node scripts/chaos/run.js [--seed N | --seeds K [--first-seed S]] [--uploads N]
//                             [--kill-ms MIN-MAX] [--sigkill P] [--faults P]
//                             [--drain-seconds S] [--keep] [--json]
//
// Each seed runs the whole farm as real processes (scripts/chaos/farm.js):
// buildq accepting N uploads in a loop, two build queues with two buildd
// each, builddd and archived, while a killer driven by the seed sends SIGKILL
// (share P, default 0.6) or SIGTERM to a random process every MIN–MAX ms
// (default 300–1500) and the supervisor restarts it, arming a random fault
// point (lib/fault.ts) on a share of the restarts (--faults, default 0.2).
// Then the farm drains without kills and is checked from the files alone
// (lib/chaos/end-state.ts). One line per seed; --seeds prints a summary.
// A failing seed keeps its directory (the root and programs.log) and is
// replayed with --seed N. Exit status 1 when any seed found a problem.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSeed, stopEverything } from './farm.js';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const { prepareUploads } = await import(`${dist}lib/chaos/uploads.js`);

const options = parseArguments(process.argv.slice(2));
// Interrupted: take the farm's programs down too (they would run on, orphaned), then leave.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopEverything();
    console.log(`chaos: ${signal}: stopped; the roots of the seed in progress stay under ${tmpdir()}`);
    process.exit(130);
  });
}
const work = await mkdtemp(join(tmpdir(), 'opkfarm-chaos-uploads-'));
const results = [];
try {
  const prepared = await prepareUploads(work, options.uploads);
  const seeds = options.seed !== undefined ? [options.seed] : Array.from({ length: options.seeds }, (_, i) => options.firstSeed + i);
  for (const seed of seeds) {
    const result = await runSeed(seed, prepared, options);
    results.push(result);
    if (options.json) console.log(JSON.stringify(result));
    else console.log(describe(result));
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
if (!options.json && results.length > 1) console.log(summary(results));
process.exitCode = results.some((result) => result.problems.length > 0) ? 1 : 0;

function describe(result) {
  const head =
    `seed ${result.seed}: ${result.problems.length === 0 ? 'ok' : `FAILED (${result.problems.length} problems)`}; ` +
    `${result.uploads} uploads, ${result.sigkill} SIGKILL, ${result.sigterm} SIGTERM, ` +
    `${result.faultsFired}/${result.faultsArmed} fault points fired, ${result.restarts} restarts; ` +
    `chaos ${seconds(result.chaosMs)}, drain ${seconds(result.drainMs)}, total ${seconds(result.totalMs)}` +
    (result.strayTemporaries > 0 ? `; ${result.strayTemporaries} stray temporaries in outbox/ or state/` : '');
  const lines = [head, ...result.problems.slice(0, 30).map((problem) => `  ${problem}`)];
  if (result.problems.length > 30) lines.push(`  … and ${result.problems.length - 30} more`);
  if (result.kept !== undefined) lines.push(`  kept: ${result.kept} (replay: node scripts/chaos/run.js --seed ${result.seed} --uploads ${result.uploads})`);
  return lines.join('\n');
}

function summary(all) {
  const failed = all.filter((result) => result.problems.length > 0);
  const sum = (field) => all.reduce((total, result) => total + result[field], 0);
  const totals = all.map((result) => result.totalMs).sort((a, b) => a - b);
  return [
    `summary: ${all.length} seeds (${all[0].seed}..${all[all.length - 1].seed}), ${all.length - failed.length} passed, ${failed.length} failed` +
      (failed.length > 0 ? ` (seeds ${failed.map((result) => result.seed).join(', ')})` : ''),
    `  ${sum('uploads')} uploads, ${sum('sigkill')} SIGKILL, ${sum('sigterm')} SIGTERM, ${sum('faultsFired')} fault points fired, ${sum('restarts')} restarts`,
    `  per seed: median ${seconds(totals[Math.floor(totals.length / 2)])}, max ${seconds(totals[totals.length - 1])}; all ${seconds(sum('totalMs'))}`,
  ].join('\n');
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function parseArguments(argv) {
  const parsed = { seed: undefined, seeds: 1, firstSeed: 1, uploads: 200, killMs: [300, 1500], sigkill: 0.6, faults: 0.2, drainMs: 240_000, keep: false, json: false };
  const take = (name) => {
    const value = argv.shift();
    if (value === undefined) throw new Error(`chaos: ${name} needs a value`);
    return value;
  };
  const number = (name, text) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`chaos: ${name} ${JSON.stringify(text)} is not a non-negative number`);
    return value;
  };
  while (argv.length > 0) {
    const flag = argv.shift();
    if (flag === '--seed') parsed.seed = number(flag, take(flag));
    else if (flag === '--seeds') parsed.seeds = number(flag, take(flag));
    else if (flag === '--first-seed') parsed.firstSeed = number(flag, take(flag));
    else if (flag === '--uploads') parsed.uploads = number(flag, take(flag));
    else if (flag === '--sigkill') parsed.sigkill = number(flag, take(flag));
    else if (flag === '--faults') parsed.faults = number(flag, take(flag));
    else if (flag === '--drain-seconds') parsed.drainMs = number(flag, take(flag)) * 1000;
    else if (flag === '--keep') parsed.keep = true;
    else if (flag === '--json') parsed.json = true;
    else if (flag === '--kill-ms') {
      const match = /^(\d+)-(\d+)$/.exec(take(flag));
      if (!match || Number(match[1]) > Number(match[2])) throw new Error('chaos: --kill-ms wants MIN-MAX in milliseconds');
      parsed.killMs = [Number(match[1]), Number(match[2])];
    } else throw new Error(`chaos: unknown option ${flag} (see the comment at the top of scripts/chaos/run.js)`);
  }
  return parsed;
}
