#!/usr/bin/env node
/**
 * Benchmark: write and read an opk holding about 1 GiB of data.
 *
 * Builds a tree of a few large files of varied, compressible text (written
 * streaming), packs it with writeOpk, then reads it back with readOpk. Writing
 * and reading each run in a child process of their own, so that each peak RSS
 * (process.resourceUsage().maxRSS) is that step's alone.
 *
 * Usage: npm run build && node scripts/bench/read-large-opk.js [--mib 1024] [--files 4] [--dir DIR] [--keep]
 * Everything goes in a temporary directory, removed at the end unless --keep.
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';
import { parseArgs } from 'node:util';

const MIB = 1024 * 1024;
const dist = new URL('../../dist/lib/', import.meta.url);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mib: { type: 'string', default: '1024' },
    files: { type: 'string', default: '4' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

if (positionals[0] === 'write') await writeStep(positionals[1], positionals[2]);
else if (positionals[0] === 'read') await readStep(positionals[1]);
else await main();

async function main() {
  const mib = Number(values.mib);
  const files = Number(values.files);
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'opkfarm-bench-')));
  const tree = join(dir, 'tree');
  const opk = join(dir, 'big_1.0_all.opk');
  try {
    const started = performance.now();
    await makeTree(tree, mib, files);
    print(`tree: ${files} files, ${mib} MiB, made in ${seconds(started)}`);

    const write = step('write', tree, opk);
    const opkSize = (await stat(opk)).size;
    print(
      `writeOpk: ${write.seconds.toFixed(1)} s, ${(mib / write.seconds).toFixed(0)} MiB/s of data, peak RSS ${write.maxRssMiB} MiB, opk ${(opkSize / MIB).toFixed(0)} MiB`,
    );

    const read = step('read', opk);
    print(
      `readOpk:  ${read.seconds.toFixed(1)} s, ${(mib / read.seconds).toFixed(0)} MiB/s of data, peak RSS ${read.maxRssMiB} MiB, ${read.entries} entries, ${(read.totalSize / MIB).toFixed(0)} MiB of files`,
    );
  } finally {
    if (values.keep) print(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** Runs one step in a child process and returns what it printed (JSON). */
function step(...args) {
  const script = fileURLToPath(import.meta.url);
  const output = execFileSync(process.execPath, [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(output);
}

async function writeStep(tree, opk) {
  const { writeOpk } = await import(new URL('opk/write.js', dist).href);
  const { Stanza } = await import(new URL('formats/control.js', dist).href);
  const control = new Stanza([
    ['Package', 'big'],
    ['Version', '1.0'],
    ['Architecture', 'all'],
    ['Platform', 'all'],
    ['Maintainer', 'Bench <bench@example.org>'],
    ['Description', 'a large package for benchmarks'],
  ]);
  const started = performance.now();
  await writeOpk({ destination: opk, control, dataDirectory: tree, sourceDateEpoch: 0 });
  report({ seconds: (performance.now() - started) / 1000 });
}

async function readStep(opk) {
  const { readOpk } = await import(new URL('opk/read.js', dist).href);
  const started = performance.now();
  const contents = await readOpk(opk);
  report({ seconds: (performance.now() - started) / 1000, ...contents.data });
}

function report(result) {
  const maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(JSON.stringify({ ...result, maxRssMiB }));
}

/**
 * `files` files of `mib` MiB in all: 1 MiB slices taken at pseudo-random
 * offsets of a 16 MiB pool of word salad, so the data compresses like text
 * and no two slices line up. Written with back-pressure, never held whole.
 */
async function makeTree(tree, mib, files) {
  await mkdir(join(tree, 'usr/share/big'), { recursive: true });
  const pool = wordSalad(16 * MIB + MIB);
  let seed = 0x9e3779b9;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let f = 0; f < files; f++) {
    const out = createWriteStream(join(tree, 'usr/share/big', `part${f}.txt`));
    const share = Math.floor(mib / files) + (f < mib % files ? 1 : 0);
    for (let m = 0; m < share; m++) {
      const offset = next() % (16 * MIB);
      if (!out.write(pool.subarray(offset, offset + MIB))) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  }
}

function wordSalad(size) {
  const words = [];
  let seed = 12345;
  for (let i = 0; i < 4096; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const length = 2 + (seed % 9);
    let word = '';
    for (let j = 0; j < length; j++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      word += String.fromCharCode(97 + ((seed >>> 16) % 26));
    }
    words.push(word);
  }
  const buffer = Buffer.alloc(size);
  let position = 0;
  while (position < size) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const word = words[(seed >>> 8) % words.length];
    position += buffer.write(`${word}${seed % 13 === 0 ? '\n' : ' '}`, position);
  }
  return buffer;
}

function print(line) {
  process.stdout.write(`${line}\n`);
}

function seconds(since) {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}
