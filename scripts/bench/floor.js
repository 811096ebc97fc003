// The machine's floor under the pipeline (no opkfarm code runs here):
//
//   node scripts/bench/floor.js [ROUNDS]
//
// Measures, in a fresh directory under the system temp directory (the
// filesystem the pipeline bench uses), the CPU cost of the two things every
// upload must pay whatever the code around them does:
//   - a durable small write as the protocol does it: write a temporary file,
//     fsync it, rename it into place, fsync the directory (two fsyncs);
//   - starting a build command from a Node process: spawn `sh -c cp …`
//     (the trivial builder of pipeline.js) and wait for it.
// Then prints the CPU an upload needs for these alone, with the number of
// fsyncs and builds an upload costs in the throughput bench (counted with
// strace; BENCHMARKS.md says how), and the uploads per second that two cores
// could reach if nothing else cost anything.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

/** fsyncs per upload in `pipeline.js throughput` (strace -f -e fsync, 2026-11-21: 37-41, by batch size). */
const FSYNCS_PER_UPLOAD = 38;
/** Builds per upload in `pipeline.js throughput`: one per build queue. */
const BUILDS_PER_UPLOAD = 2;
const TICK_MS = 10; // USER_HZ 100

const rounds = Number(process.argv[2] ?? 400);
const directory = await mkdtemp(join(tmpdir(), 'opkfarm-bench-floor-'));
try {
  const write = await measure(rounds, (i) => durableWrite(directory, i));
  await writeFile(join(directory, 'package.opk'), Buffer.alloc(2048, 1));
  const build = await measure(rounds / 4, (i) => trivialBuild(directory, i));
  const perUpload = (FSYNCS_PER_UPLOAD / 2) * write.cpu + BUILDS_PER_UPLOAD * build.cpu;
  const cores = availableParallelism();
  console.log(`durable small write (2 fsyncs): ${describe(write)}`);
  console.log(`trivial build command (spawn sh -c cp, wait): ${describe(build)}`);
  console.log(
    `floor per upload: ${FSYNCS_PER_UPLOAD} fsyncs and ${BUILDS_PER_UPLOAD} builds = ${perUpload.toFixed(1)} ms of CPU; ` +
      `${cores} cores could reach at most ${((cores * 1000) / perUpload).toFixed(0)} uploads/s with nothing else to do`,
  );
} finally {
  await rm(directory, { recursive: true, force: true });
}

async function durableWrite(directory, i) {
  const temp = join(directory, `.tmp-${i}`);
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(`Status: ok\nRound: ${i}\n`.padEnd(600, '.'));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(directory, `file-${i}`));
  const parent = await open(directory, 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
}

async function trivialBuild(directory, i) {
  const child = spawn('/bin/sh', ['-c', 'exec cp "$1" "$2"', 'sh', join(directory, 'package.opk'), join(directory, `out-${i}.opk`)], {
    stdio: 'ignore',
    detached: true,
  });
  await new Promise((resolve, reject) => child.on('exit', resolve).on('error', reject));
}

/** Mean wall time and CPU (this process, its children, and the whole machine) of `count` runs of `task`. */
async function measure(count, task) {
  const before = { self: process.cpuUsage(), children: childrenCpuMs(), machine: machineBusyMs(), at: process.hrtime.bigint() };
  for (let i = 0; i < count; i++) await task(i);
  const self = process.cpuUsage(before.self);
  const wall = Number(process.hrtime.bigint() - before.at) / 1e6 / count;
  const selfMs = (self.user + self.system) / 1000 / count;
  const childrenMs = (childrenCpuMs() - before.children) / count;
  const machineMs = (machineBusyMs() - before.machine) / count;
  return { wall, self: selfMs, children: childrenMs, machine: machineMs, cpu: selfMs + childrenMs };
}

function describe(m) {
  return (
    `${m.cpu.toFixed(2)} ms of CPU (${m.self.toFixed(2)} this process, ${m.children.toFixed(2)} its children), ` +
    `${m.wall.toFixed(2)} ms wall; the whole machine was busy ${m.machine.toFixed(2)} ms per run`
  );
}

/** CPU of waited-for children, from /proc/self/stat (cutime + cstime). */
function childrenCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

/** Busy time of all CPUs since boot (everything but idle and iowait), from /proc/stat. */
function machineBusyMs() {
  const [, ...ticks] = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).map(Number);
  const busy = ticks.reduce((sum, value) => sum + value, 0) - (ticks[3] ?? 0) - (ticks[4] ?? 0);
  return busy * TICK_MS;
}
