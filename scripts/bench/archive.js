// Archive benchmarks (run after `npm run build`):
//
//   node scripts/bench/archive.js reindex [N]   reindex of a pool of N binary packages
//   node scripts/bench/archive.js include [N]   including one upload into an archive of N binary packages
//   node scripts/bench/archive.js all [N]       both on one generated pool (default N 50000)
//
// Options: --dir DIR keeps the generated queue root in DIR and reuses it on
// the next run with the same N (generation is the slow part); --per-source B
// binaries per source package (default 10, so N/10 source packages too);
// --threads T makes reindex read with T worker threads (0: in its own
// thread; default: reindex's own choice, one per core up to four).
//
// The pool: N/B sources named <letter>src<i> (spread over the hash
// directories), each with a source package (its change log names trunk, or
// rs1 for every tenth source) and B binaries alternating amd64-linux-glibc
// and all, in four sections. Generation is fast because packages are
// assembled in this process from lib/opk/tar-write.js's headers and gzip:
// the layout writeOpk makes (./debian-binary, ./control.tar.gz,
// ./data.tar.gz), a control archive per package, one small data archive
// shared by all the binaries and one per source package for its change log.
// Every package passes readOpk's checks (reindex reads each with scanOpk).
//
// Each measured step runs in a child process of its own, so that its peak
// RSS (process.resourceUsage().maxRSS) is that step's alone:
// - reindex: the first run with no feeds/dev (everything written), then a
//   second run over its own result (everything read, nothing written);
// - include: one upload (a new source, one amd64 and one all binary) made as
//   buildd and builddd leave it, then includeEntry; timed five times, each
//   a fresh upload, in one process (the first pays module loading and JIT
//   warm-up), once with a fresh FeedCache per inclusion (a one-shot
//   inclusion: every touched feed group's Packages read) and once with the
//   FeedCache kept (archived's steady state: its peak RSS is archived's).
//   Each inclusion's CPU time (all threads) is printed beside its wall
//   time: on a shared machine the wall time is mostly waiting.
// fsync stays on everywhere. Prints one line per measurement.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync, constants } from 'node:zlib';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const { QueueLayout, uploadKey } = await import(`${dist}lib/layout.js`);
const { encodeHeader, END_OF_ARCHIVE, padding } = await import(`${dist}lib/opk/tar-write.js`);
const { Stanza, formatStanza } = await import(`${dist}lib/formats/control.js`);
const { poolFileName, poolHash } = await import(`${dist}lib/archive/paths.js`);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string' },
    'per-source': { type: 'string', default: '10' },
    threads: { type: 'string' },
  },
});

const ARCHITECTURES = ['amd64-linux-glibc', 'all'];
const SECTIONS = ['misc', 'libs', 'utils', 'doc'];
const MAINTAINER = 'Bench <bench@example.org>';
const DATE = 'Sat, 21 Nov 2026 12:00:00 +0000';

const [mode = 'all', countText, ...rest] = positionals;
if (mode === 'child-reindex') await childReindex(countText);
else if (mode === 'child-include') await childInclude(countText, rest[0] === 'cached');
else if (['reindex', 'include', 'all'].includes(mode)) await main(mode, Number(countText ?? 50_000));
else throw new Error(`unknown benchmark ${mode}: reindex, include or all`);

async function main(kind, binaries) {
  const perSource = Number(values['per-source']);
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'opkfarm-bench-archive-')));
  const root = join(dir, 'root');
  const marker = join(dir, 'generated');
  try {
    const wanted = `${binaries} ${perSource}`;
    if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) {
      print(`pool: reusing ${root} (${binaries} binaries, ${perSource} per source)`);
    } else {
      await rm(root, { recursive: true, force: true });
      const started = performance.now();
      const files = generatePool(new QueueLayout(root), binaries, perSource);
      writeFileSync(marker, wanted);
      print(`pool: ${files} files (${binaries} binaries, ${binaries / perSource} source packages) written in ${seconds(started)}`);
    }
    // Back to the generated pool: no feeds, no uploads an earlier run included.
    await rm(join(root, 'archive', 'feeds'), { recursive: true, force: true });
    await rm(join(root, 'archive', 'logs'), { recursive: true, force: true });
    for (const name of existsSync(join(root, 'archive', 'pool', 'z')) ? readdirSync(join(root, 'archive', 'pool', 'z')) : []) {
      if (name.startsWith('zupload')) await rm(join(root, 'archive', 'pool', 'z', name), { recursive: true, force: true });
    }

    const first = child('child-reindex', root);
    print(
      `reindex ${binaries}: ${first.seconds.toFixed(2)} s (CPU ${first.cpuSeconds.toFixed(2)} s; other work ${first.others}), ` +
        `peak RSS ${first.maxRssMiB} MiB (${first.packages} pool files, ${first.written} feeds written, ${first.problems} problems)`,
    );
    if (kind !== 'include') {
      const second = child('child-reindex', root);
      print(
        `reindex ${binaries} again (nothing to write): ${second.seconds.toFixed(2)} s (CPU ${second.cpuSeconds.toFixed(2)} s; ` +
          `other work ${second.others}), peak RSS ${second.maxRssMiB} MiB (${second.unchanged} feeds unchanged)`,
      );
    }
    if (kind !== 'reindex') {
      for (const cached of [false, true]) {
        const result = child('child-include', root, cached ? 'cached' : 'fresh');
        const times = result.milliseconds.map((ms) => ms.toFixed(0)).join(', ');
        const cpu = result.cpuMilliseconds.map((ms) => ms.toFixed(0)).join(', ');
        print(
          `include into ${binaries}${cached ? ', FeedCache kept (archived)' : ', fresh FeedCache'}: ` +
            `${times} ms, CPU ${cpu} ms (first has module loading and warm-up; other work ${result.others}), peak RSS ${result.maxRssMiB} MiB`,
        );
      }
    }
  } finally {
    if (values.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** Runs this script as a child with `args`; returns what it printed (JSON). */
function child(...args) {
  const options = values.threads === undefined ? [] : ['--threads', values.threads];
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...args, ...options], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output);
}

async function childReindex(root) {
  const { reindexArchive } = await import(`${dist}lib/archive/reindex.js`);
  const machine = machineTicks();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await reindexArchive(new QueueLayout(root), values.threads === undefined ? {} : { threads: Number(values.threads) });
  const seconds = (performance.now() - started) / 1000;
  const others = otherWork(machine, cpu, seconds);
  for (const problem of report.problems.slice(0, 5)) process.stderr.write(`${problem.file}: ${problem.problem}\n`);
  process.stdout.write(
    JSON.stringify({
      seconds,
      packages: report.packages,
      written: report.written.length,
      unchanged: report.unchanged,
      problems: report.problems.length,
      cpuSeconds: cpuSeconds(cpu),
      others,
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

async function childInclude(root, cached) {
  const { includeEntry, FeedCache } = await import(`${dist}lib/archive/include.js`);
  const layout = new QueueLayout(root);
  const feedCache = cached ? new FeedCache(layout) : undefined;
  const milliseconds = [];
  const cpuMilliseconds = [];
  const machine = machineTicks();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const base = cached ? 900_000 : 800_000;
  for (let i = 0; i < 5; i++) {
    const key = writeUpload(layout, base + i);
    const begun = performance.now();
    const begunCpu = process.cpuUsage();
    const result = await includeEntry(layout, key, feedCache === undefined ? {} : { feedCache });
    milliseconds.push(performance.now() - begun);
    cpuMilliseconds.push(cpuSeconds(begunCpu) * 1000);
    if (result.installed.length !== 3) throw new Error(`upload ${key}: ${JSON.stringify(result.refused)}`);
  }
  const others = otherWork(machine, cpu, (performance.now() - started) / 1000);
  process.stdout.write(JSON.stringify({ milliseconds, cpuMilliseconds, others, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

// --- Packages --------------------------------------------------------------

/** Writes N binaries and their source packages straight into the pool; returns how many files. */
function generatePool(layout, binaries, perSource) {
  for (const directory of layout.directories()) mkdirSync(directory, { recursive: true });
  const sharedData = dataArchive([['usr/share/bench/README', 'benchmark package\n']]);
  let files = 0;
  for (let s = 0; s < binaries / perSource; s++) {
    const source = `${String.fromCharCode(97 + (s % 26))}src${s}`;
    const distribution = s % 10 === 9 ? 'rs1' : 'trunk';
    const directory = join(layout.archive, 'pool', poolHash(source), source);
    mkdirSync(directory, { recursive: true });
    writeSource(directory, source, '1.0-1', distribution);
    files += 1;
    for (let b = 0; b < perSource; b++) {
      const architecture = ARCHITECTURES[b % ARCHITECTURES.length];
      const name = `${source}-${b}`;
      const control = binaryControl(name, source, '1.0-1', architecture, SECTIONS[b % SECTIONS.length]);
      writeFileSync(join(directory, poolFileName(name, '1.0-1', architecture, 'all')), opk(control, sharedData));
      files += 1;
    }
  }
  return files;
}

function binaryControl(name, source, version, architecture, section) {
  return new Stanza([
    ['Package', name],
    ['Source', source],
    ['Version', version],
    ['Architecture', architecture],
    ['Platform', 'all'],
    ['Section', section],
    ['Maintainer', MAINTAINER],
    ['Installed-Size', '4'],
    ['Description', `benchmark package ${name}\n A package generated for the archive benchmark.`],
  ]);
}

function writeSource(directory, source, version, distribution) {
  const format = [`usr/src/${source}_${version}/format`, '2.0\n'];
  writeFileSync(join(directory, poolFileName(`src-${source}`, version, 'src', 'all')), sourceOpk(source, version, distribution, [format]));
}

/** A source package whose tree holds its change log (naming `distribution`) and `extraFiles` ([path, text] pairs). */
function sourceOpk(source, version, distribution, extraFiles = []) {
  const control = new Stanza([
    ['Package', `src-${source}`],
    ['Version', version],
    ['Architecture', 'src'],
    ['Platform', 'all'],
    ['Maintainer', MAINTAINER],
    ['Description', `source of ${source}`],
  ]);
  const changelog = `${source} (${version}) ${distribution}; urgency=low\n\n  * Upload.\n\n -- ${MAINTAINER}  ${DATE}\n`;
  return opk(control, dataArchive([[`usr/src/${source}_${version}/changelog`, changelog], ...extraFiles]));
}

/** An upload laid out in the archive queue as buildd and builddd leave it; returns its key. */
function writeUpload(layout, sequence) {
  const source = `zupload${sequence}`;
  const version = '1.0-1';
  const key = uploadKey(sequence, source, version);
  const entry = layout.archiveQueueEntry(key);
  mkdirSync(entry, { recursive: true });
  const data = dataArchive([['usr/share/bench/README', 'benchmark package\n']]);
  const names = [];
  for (const architecture of ARCHITECTURES) {
    const name = `${source}-${architecture === 'all' ? 'doc' : 'bin'}`;
    const file = poolFileName(name, version, architecture, 'all');
    writeFileSync(join(entry, file), opk(binaryControl(name, source, version, architecture, 'misc'), data));
    const result = [
      'Status: ok',
      `Architecture: ${architecture}`,
      'Platform: all',
      'Host: bench',
      `Binaries: ${file}`,
    ];
    writeFileSync(join(entry, `${architecture}_all.result`), `${result.join('\n')}\n`);
    writeFileSync(join(entry, `${architecture}_all.log`), 'built\n');
    names.push(name);
  }
  const changes = [
    'Format: 1.8',
    `Date: ${DATE}`,
    `Source: ${source}`,
    `Binary: ${names.join(' ')}`,
    'Architecture: any all',
    'Platform: all',
    `Version: ${version}`,
    'Distribution: trunk',
    `Maintainer: ${MAINTAINER}`,
    `Changed-By: ${MAINTAINER}`,
    'Description: benchmark upload',
    'Changes:',
    ` ${source} (${version}) trunk; urgency=low`,
    'Checksums-Sha256:',
    ` ${'0'.repeat(64)} 1 ${source}_${version}_src.opk`,
  ];
  writeFileSync(join(entry, `${key}.changes`), `${changes.join('\n')}\n`);
  writeFileSync(join(entry, `${key}.opk`), sourceOpk(source, version, 'trunk'));
  return key;
}

/** An opk as writeOpk lays it out: a gzip-compressed (level 0) tar of debian-binary, control.tar.gz and data.tar.gz. */
function opk(control, data) {
  const controlTar = tar([['./', null], ['./control', Buffer.from(formatStanza(control))]]);
  const members = [
    ['./debian-binary', Buffer.from('2.0\n')],
    ['./control.tar.gz', gzipSync(controlTar, { level: constants.Z_BEST_COMPRESSION })],
    ['./data.tar.gz', data],
  ];
  return gzipSync(tar(members), { level: constants.Z_NO_COMPRESSION });
}

/** A gzip-compressed data archive of these files (and their directories). */
function dataArchive(files) {
  const entries = [['./', null]];
  const directories = new Set();
  for (const [path, content] of files) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const directory = `./${parts.slice(0, i).join('/')}/`;
      if (!directories.has(directory)) {
        directories.add(directory);
        entries.push([directory, null]);
      }
    }
    entries.push([`./${path}`, Buffer.from(content)]);
  }
  entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return gzipSync(tar(entries));
}

/** A tar of [path, content] pairs (content null: a directory), mtime 0, owner root. */
function tar(entries) {
  const blocks = [];
  for (const [path, content] of entries) {
    if (content === null) blocks.push(encodeHeader({ path, type: 'directory', mode: 0o755, size: 0, mtime: 0 }));
    else blocks.push(encodeHeader({ path, type: 'file', mode: 0o644, size: content.length, mtime: 0 }), content, padding(content.length));
  }
  blocks.push(END_OF_ARCHIVE);
  return Buffer.concat(blocks);
}

/** Busy and total CPU ticks of the whole machine so far (Linux /proc/stat), or undefined elsewhere. */
function machineTicks() {
  if (!existsSync('/proc/stat')) return undefined;
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = fields[3] + fields[4];
  const total = fields.reduce((sum, value) => sum + value, 0);
  return { busy: total - idle, total };
}

/**
 * How much of the machine's CPU went to other processes while this one ran
 * `seconds`: the machine's busy share (all cores, /proc/stat) less this
 * process's CPU time (every thread) over the same capacity, "N% of the machine".
 */
function otherWork(before, cpu, seconds) {
  const after = machineTicks();
  if (before === undefined || after === undefined) return 'unknown';
  const busyShare = (after.busy - before.busy) / (after.total - before.total);
  const ownShare = cpuSeconds(cpu) / (seconds * availableParallelism());
  return `${Math.max(0, Math.round((busyShare - ownShare) * 100))}% of the machine`;
}

function cpuSeconds(since) {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
}

function print(line) {
  process.stdout.write(`${line}\n`);
}

function seconds(since) {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}
