// Pipeline benchmarks (run after `npm run build`):
//
//   node scripts/bench/pipeline.js take [ENTRIES]        cost of taking the next entry of a build queue
//   node scripts/bench/pipeline.js latency [UPLOADS]     accept -> feed index, one upload at a time
//   node scripts/bench/pipeline.js throughput [UPLOADS]  uploads through two build queues
//
// latency and throughput run the real daemons (buildd per queue, builddd,
// archived) as processes on a fresh root under the system temp directory,
// with a trivial external builder (a shell script that copies a prebuilt
// package), so they measure the queue protocol, not a compiler. Uploads are
// accepted in-process with acceptUpload, so node start-up of buildq is not
// counted. fsync stays on everywhere. Prints one line of results.
//
// Environment: BENCH_CPU=1 adds each daemon's CPU time; BENCH_SANDBOX=auto
// (or bwrap) runs the builder in the sandbox (none by default), with the
// builder and its packages in the checkout, since the sandbox hides /tmp;
// BENCH_LOG=DIR keeps the daemons' logs; BENCH_PROFILE=DIR their CPU
// profiles; BENCH_NODE_ARGS passes node flags to them.
import { execFileSync, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const { QueueLayout, uploadKey } = await import(`${dist}lib/layout.js`);
const { loadConfig } = await import(`${dist}lib/config.js`);
const { acceptUpload } = await import(`${dist}lib/queue/accept.js`);
const { claimEntry, pendingKeys } = await import(`${dist}lib/queue/claims.js`);
const { buildSourcePackage } = await import(`${dist}lib/source/build-source.js`);
const { writeOpk } = await import(`${dist}lib/opk/write.js`);
const { Stanza } = await import(`${dist}lib/formats/control.js`);

const [mode = 'take', countText] = process.argv.slice(2);
let benchCpuAtStart; // process.cpuUsage() when the daemons start: the accepts' share of the bench process

if (mode === 'take') await benchTake(Number(countText ?? 100_000));
else if (mode === 'latency') await benchPipeline('latency', Number(countText ?? 40));
else if (mode === 'throughput') await benchPipeline('throughput', Number(countText ?? 1000));
else throw new Error(`unknown benchmark ${mode}: take, latency or throughput`);

/** Reading a queue of N entries once, then claiming entries one by one (what buildd does per build). */
async function benchTake(entries) {
  const root = await mkdtemp(join(tmpdir(), 'opkfarm-bench-take-'));
  try {
    const layout = new QueueLayout(root);
    await mkdir(layout.claims('q'), { recursive: true });
    // Empty files: what is measured is directory work, and ext4 caps one inode at 65,000 links.
    for (let i = 1; i <= entries; i++) await writeFile(layout.buildQueueEntry('q', uploadKey(i, 'pkg', '1.0')), '');

    let started = process.hrtime.bigint();
    const keys = await pendingKeys(layout, 'q');
    const readMs = Number(process.hrtime.bigint() - started) / 1e6;

    const takes = Math.min(2000, keys.length);
    started = process.hrtime.bigint();
    for (let i = 0; i < takes; i++) await claimEntry(layout, 'q', keys[i], { host: 'bench', pid: process.pid });
    const takeMs = Number(process.hrtime.bigint() - started) / 1e6 / takes;
    const amortized = takeMs + readMs / keys.length;
    console.log(
      `take: queue of ${keys.length} entries: read and sort ${readMs.toFixed(1)} ms once; ` +
        `claim of the oldest ${takeMs.toFixed(3)} ms (mean of ${takes}); amortized per take ${amortized.toFixed(3)} ms`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Accept -> feed index through real daemons with a trivial builder. */
async function benchPipeline(kind, uploads) {
  const root = await mkdtemp(join(tmpdir(), 'opkfarm-bench-'));
  // The builder and the packages it copies must be where a sandboxed build can read them: not under /tmp.
  const workParent = process.env.BENCH_SANDBOX ? fileURLToPath(new URL('../../', import.meta.url)) : tmpdir();
  const work = await mkdtemp(join(workParent, '.opkfarm-bench-work-'));
  const daemons = [];
  try {
    const arch = 'amd64-linux-glibc';
    // Prebuilt binaries the trivial builder copies: one per source and architecture.
    const store = join(work, 'store');
    await mkdir(store);
    const builder = join(work, 'builder.sh');
    await writeFile(builder, '#!/bin/sh\n# args: source-package arch plat output-dir\nexec cp "$OPKFARM_STORE/${OPKFARM_SOURCE}_$2_$3.opk" "$4/${OPKFARM_SOURCE}_1.0_$2_$3.opk"\n');
    await chmod(builder, 0o755);
    const config = join(work, 'opkfarm.conf');
    await writeFile(
      config,
      `Farm: bench\nBuilder: command\nBuilder-Command: ${builder}\nBuilder-Sandbox: ${process.env.BENCH_SANDBOX ?? 'none'}\nRescan-Seconds: 5\n\n` +
        `Queue: native\nArchitectures: ${arch}\n\nQueue: indep\nArchitectures: all\n`,
    );
    execFileSync(process.execPath, [`${dist}daemons/opkfarm.js`, 'init', '--root', root, '--config', config], { stdio: 'ignore' });
    const layout = new QueueLayout(root);
    const farm = await loadConfig(layout.configFile);

    // Uploads: each source builds one arch-dependent and (throughput) one arch-independent package.
    const upload = join(work, 'uploads');
    const builds = kind === 'throughput' ? [arch, 'all'] : ['all'];
    for (let i = 0; i < uploads; i++) {
      const name = `pkg${String(i).padStart(5, '0')}`;
      await makeSource(join(work, 'src', name), name, kind === 'throughput');
      await buildSourcePackage(join(work, 'src', name), { outputDirectory: upload });
      for (const a of builds) {
        const data = join(work, 'data', name, a);
        await mkdir(join(data, 'usr', 'share', name), { recursive: true });
        await writeFile(join(data, 'usr', 'share', name, 'README'), `${name}\n`);
        await writeOpk({
          destination: join(store, `${name}_${a}_all.opk`),
          control: new Stanza([
            ['Package', a === 'all' ? `${name}-doc` : name],
            ['Source', name],
            ['Version', '1.0'],
            ['Architecture', a],
            ['Platform', 'all'],
            ['Maintainer', 'Bench <bench@example.org>'],
            ['Description', 'benchmark package'],
          ]),
          dataDirectory: data,
          sourceDateEpoch: 0,
        });
      }
    }

    benchCpuAtStart = process.cpuUsage();
    const env = { ...process.env, OPKFARM_STORE: store };
    for (const args of [['buildd', '--queue', 'native'], ['buildd', '--queue', 'indep'], ['builddd'], ['archived']]) {
      const [program, ...rest] = args;
      // BENCH_NODE_ARGS are node flags for every daemon; BENCH_PROFILE=DIR adds a CPU profile of each there.
      const nodeArgs = [
        ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-name=${program}-${rest.join('-')}.cpuprofile`] : []),
      ];
      // BENCH_LOG=DIR keeps each daemon's log there.
      const log = process.env.BENCH_LOG ? openSync(join(process.env.BENCH_LOG, `${program}${rest.join('-')}.log`), 'w') : 'ignore';
      daemons.push(spawn(process.execPath, [...nodeArgs, `${dist}daemons/${program}.js`, '--root', root, ...rest], { env, stdio: ['ignore', log, log] }));
    }
    await sleep(1500); // let the watchers get ready

    const srcIndex = join(layout.archive, 'feeds', 'dev', 'trunk', 'src', 'all', 'misc', 'Packages');
    if (kind === 'latency') {
      const samples = [];
      for (let i = 0; i < uploads; i++) {
        const name = `pkg${String(i).padStart(5, '0')}`;
        const started = process.hrtime.bigint();
        await acceptUpload(layout, farm, join(upload, `${name}_1.0.changes`), '');
        await waitFor(async () => (await readFile(srcIndex, 'utf8').catch(() => '')).includes(`Package: src-${name}\n`), 30_000);
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      samples.sort((a, b) => a - b);
      const pick = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))].toFixed(0);
      console.log(`latency: accept -> src feed index, ${uploads} uploads one at a time: p50 ${pick(0.5)} ms, p90 ${pick(0.9)} ms, max ${pick(1)} ms`);
    } else {
      const started = process.hrtime.bigint();
      for (let i = 0; i < uploads; i++) {
        await acceptUpload(layout, farm, join(upload, `pkg${String(i).padStart(5, '0')}_1.0.changes`), '');
      }
      const acceptedMs = Number(process.hrtime.bigint() - started) / 1e6;
      // Polled every 50 ms, not 2: reading a growing index would take CPU from the daemons measured.
      await waitFor(async () => countStanzas(await readFile(srcIndex, 'utf8').catch(() => '')) === uploads, 600_000, 50);
      const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
      console.log(
        `throughput: ${uploads} uploads (each built on 2 queues) accepted in ${(acceptedMs / 1000).toFixed(1)} s ` +
          `(${(uploads / (acceptedMs / 1000)).toFixed(0)}/s), all in the archive after ${(totalMs / 1000).toFixed(1)} s: ` +
          `${(uploads / (totalMs / 1000)).toFixed(1)} uploads/s`,
      );
    }
  } finally {
    if (process.env.BENCH_CPU) reportCpu(daemons);
    for (const daemon of daemons) daemon.kill('SIGTERM');
    await sleep(500);
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/** A source with an `all` package <name>-doc and, when `withNative`, an `any` package <name>. */
async function makeSource(directory, name, withNative) {
  await mkdir(join(directory, `${name}-doc.pkg`), { recursive: true });
  await writeFile(join(directory, 'format'), '2.0\n');
  await writeFile(join(directory, 'control'), 'Maintainer: Bench <bench@example.org>\n');
  await writeFile(join(directory, 'changelog'), `${name} (1.0) trunk\n\n  * Benchmark.\n\n -- Bench <bench@example.org>  Sat, 21 Nov 2026 12:00:00 +0000\n`);
  await writeFile(join(directory, 'build'), '#!/usr/bin/make -f\nbuild:\ninstall:\n');
  await chmod(join(directory, 'build'), 0o755);
  await writeFile(join(directory, `${name}-doc.pkg`, 'control'), 'Architecture: all\nPlatform: all\nDescription: benchmark package\n');
  if (withNative) {
    await mkdir(join(directory, `${name}.pkg`));
    await writeFile(join(directory, `${name}.pkg`, 'control'), 'Architecture: any\nPlatform: all\nDescription: benchmark package\n');
  }
}

/** BENCH_CPU=1: user and system CPU of each daemon and of the children it waited for (the builders), from /proc. */
function reportCpu(daemons) {
  const tick = 100; // USER_HZ on Linux
  const line = (label, [utime, stime, cutime, cstime]) =>
    `${label.padEnd(22)} user ${(utime / tick).toFixed(2)} s, system ${(stime / tick).toFixed(2)} s, children ${((cutime + cstime) / tick).toFixed(2)} s`;
  const self = process.cpuUsage(benchCpuAtStart);
  console.log(line('bench (accepts)', [self.user / 1e4, self.system / 1e4, 0, 0]));
  for (const daemon of daemons) {
    const fields = execFileSync('cat', [`/proc/${daemon.pid}/stat`], { encoding: 'utf8' }).split(') ')[1].split(' ');
    console.log(line(daemon.spawnargs.slice(-3).join(' ').replace(/.*daemons\//, ''), fields.slice(11, 15).map(Number)));
  }
}

function countStanzas(text) {
  return (text.match(/^Package: /gm) ?? []).length;
}

async function waitFor(condition, timeoutMs, pollMs = 2) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`benchmark: gave up after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

