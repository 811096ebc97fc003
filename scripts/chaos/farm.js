// One chaos run (one seed): the whole farm as real processes from dist/
// (buildq accepting in a loop, two build queues with two buildd each,
// builddd, archived) on a fresh queue root, while a killer driven by a seeded
// PRNG sends SIGKILL or SIGTERM to a random process at random moments and the
// supervisor restarts it. Then a quiet drain without kills, a clean stop, and
// the end-state checks of lib/chaos/end-state.ts, from the files alone.
//
// The seed fixes the kill schedule (which process, which signal, when, and
// which fault point a restart arms), not the operating system's timing: a
// replay repeats the same attack, and a window it hit by luck may need the
// fault points (test/pipeline/crash-windows.test.ts) to be hit again for sure.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const { QueueLayout } = await import(`${dist}lib/layout.js`);
const { Prng } = await import(`${dist}lib/chaos/prng.js`);
const { checkEndState } = await import(`${dist}lib/chaos/end-state.js`);
const { FAULT_POINTS } = await import(`${dist}lib/fault.js`);
const { CHAOS_QUEUES, chaosConfig } = await import(`${dist}lib/chaos/uploads.js`);

const QUEUES = CHAOS_QUEUES;

/** Every process this module started and that still runs: killed by stopEverything when the harness is interrupted. */
const children = new Set();

/** SIGKILLs every program the harness started (the harness itself was told to stop). */
export function stopEverything() {
  for (const child of children) child.kill('SIGKILL');
}

/** spawn, remembering the child until it exits. */
function start(args, options) {
  const child = spawn(process.execPath, args, options);
  children.add(child);
  child.on('close', () => children.delete(child));
  return child;
}
/** How long a stopped program may take to exit after SIGTERM before that counts as a problem. */
const TERM_GRACE_MS = 20_000;

/**
 * Runs one seed. `prepared` comes from prepareUploads; options: uploads (how
 * many of the prepared ones), killMs [min, max] between kills, sigkill (the
 * share of SIGKILL among kills), faults (the chance that a restart arms a
 * fault point), drainMs, keep (keep the root even when the run passed), log
 * (a function for progress lines).
 */
export async function runSeed(seed, prepared, options) {
  const started = Date.now();
  const prng = new Prng(seed);
  const base = await mkdtemp(join(tmpdir(), `opkfarm-chaos-${seed}-`));
  const root = join(base, 'root');
  const layout = new QueueLayout(root);
  const logFile = join(base, 'programs.log');
  const logs = createWriteStream(logFile);
  const stats = { seed, uploads: options.uploads, sigkill: 0, sigterm: 0, faultsArmed: 0, faultsFired: 0, restarts: 0, accepts: 0 };
  const problems = [];
  const names = prepared.names.slice(0, options.uploads);
  const expected = prepared.expected.slice(0, options.uploads);

  await writeFile(join(base, 'opkfarm.conf'), chaosConfig(prepared));
  const init = await runToEnd(['opkfarm', 'init', '--root', root, '--config', join(base, 'opkfarm.conf')], {}, logs);
  if (init.code !== 0) throw new Error(`opkfarm init failed: ${init.stderr}`);

  const env = { ...process.env };
  delete env.OPKFARM_FAULT;
  const supervisor = new Supervisor({ root, env, logs, prng, stats, problems, faults: options.faults });
  for (const queue of QUEUES) for (let i = 0; i < 2; i++) supervisor.add(`buildd-${queue}-${i + 1}`, ['buildd', '--queue', queue]);
  supervisor.add('builddd', ['builddd']);
  supervisor.add('archived', ['archived']);
  supervisor.startAll();

  // The killer: runs until the accept loop is done.
  let chaos = true;
  const killer = (async () => {
    while (chaos) {
      await sleep(prng.integer(options.killMs[0], options.killMs[1]));
      if (!chaos) break;
      const targets = supervisor.running();
      if (targets.length === 0) continue;
      const target = prng.pick(targets);
      const signal = prng.chance(options.sigkill) ? 'SIGKILL' : 'SIGTERM';
      supervisor.kill(target, signal);
    }
  })();

  // buildq accepting in a loop, one upload after another, each arriving just before its accept.
  for (const name of names) {
    await arrive(prepared.uploads, layout.incoming, name);
    await supervisor.acceptUntilDone(name);
  }
  chaos = false;
  await killer;
  const chaosMs = Date.now() - started;

  // The quiet drain: every program running, none killed, until every queue is empty and every upload indexed.
  supervisor.quiet();
  await supervisor.waitAllRunning();
  const drainStarted = Date.now();
  const drained = await waitDrained(layout, names.length, options.drainMs);
  const drainMs = Date.now() - drainStarted;
  if (!drained) problems.push(`not drained after ${Math.round(options.drainMs / 1000)} s: ${await describeQueues(layout)}`);
  await supervisor.stopAll();

  const report = await checkEndState(layout, { uploads: expected, queues: QUEUES });
  problems.push(...report.problems);
  logs.end();
  const failed = problems.length > 0;
  if (!failed && !options.keep) await rm(base, { recursive: true, force: true });
  return {
    ...stats,
    chaosMs,
    drainMs,
    totalMs: Date.now() - started,
    strayTemporaries: report.strayTemporaries.length,
    problems,
    kept: failed || options.keep ? base : undefined,
  };
}

/** Copies an upload's files into incoming/ the way an uploader sends them: a temporary name, then a rename, the .changes last. */
async function arrive(from, incoming, name) {
  const files = (await readdir(from)).filter((file) => file.startsWith(`${name}_`));
  files.sort((a, b) => Number(a.endsWith('.changes')) - Number(b.endsWith('.changes')));
  for (const file of files) {
    await copyFile(join(from, file), join(incoming, `.tmp-upload-${file}`));
    await rename(join(incoming, `.tmp-upload-${file}`), join(incoming, file));
  }
}

/** Whether the farm has drained: no queue entry anywhere and every upload's source indexed. */
async function waitDrained(layout, uploads, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const index = join(layout.archive, 'feeds', 'dev', 'trunk', 'src', 'all', 'misc', 'Packages');
  while (Date.now() < deadline) {
    const indexed = ((await readFile(index, 'utf8').catch(() => '')).match(/^Package: /gm) ?? []).length;
    if (indexed === uploads && (await queueNames(layout)).length === 0) return true;
    await sleep(250);
  }
  return false;
}

async function queueNames(layout) {
  const directories = [layout.master, layout.archiveQueue, layout.tmp, layout.incoming];
  for (const queue of QUEUES) directories.push(layout.buildQueue(queue), layout.claims(queue));
  const names = [];
  for (const directory of directories) {
    for (const name of await readdir(directory).catch(() => [])) if (name !== 'claims') names.push(join(directory, name).slice(layout.root.length + 1));
  }
  return names;
}

async function describeQueues(layout) {
  const names = await queueNames(layout);
  return names.length === 0 ? 'the queues are empty but not every upload is indexed' : `left: ${names.slice(0, 20).join(' ')}${names.length > 20 ? ' …' : ''}`;
}

/** Runs a program of dist/daemons to its end; resolves { code, signal, stderr }. */
function runToEnd([program, ...args], env, logs, label = program) {
  return new Promise((resolve) => {
    const child = start([`${dist}daemons/${program}.js`, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      logs.write(prefixLines(label, chunk));
    });
    child.on('close', (code, signal) => resolve({ code, signal, stderr, child }));
  });
}

function prefixLines(label, text) {
  return text.replace(/^(?=.)/gm, `[${label}] `);
}

/** The programs of the farm: starts, kills and restarts them, and runs buildq's accept loop. */
class Supervisor {
  #programs = new Map();
  #quiet = false;
  #buildq;

  constructor({ root, env, logs, prng, stats, problems, faults }) {
    this.root = root;
    this.env = env;
    this.logs = logs;
    this.prng = prng;
    this.stats = stats;
    this.problems = problems;
    this.faults = faults;
  }

  add(name, [program, ...args]) {
    this.#programs.set(name, { name, program, args, child: undefined, exited: undefined, expected: undefined, fault: undefined });
  }

  startAll() {
    for (const entry of this.#programs.values()) this.#start(entry);
  }

  /** What may be killed now: the running daemons, and buildq while one runs. */
  running() {
    const targets = [...this.#programs.values()].filter((entry) => entry.child !== undefined);
    if (this.#buildq !== undefined) targets.push(this.#buildq);
    return targets;
  }

  kill(entry, signal) {
    if (entry.child === undefined || entry.expected !== undefined) return;
    entry.expected = signal;
    this.stats[signal === 'SIGKILL' ? 'sigkill' : 'sigterm'] += 1;
    this.logs.write(`[chaos] ${signal} ${entry.name} (pid ${entry.child.pid})\n`);
    try {
      entry.child.kill(signal);
    } catch {
      // Gone already.
    }
  }

  /** No more kills or faults: every daemon that exits from now on is restarted at once, unarmed. */
  quiet() {
    this.#quiet = true;
    for (const entry of this.#programs.values()) if (entry.child === undefined && entry.restart === undefined) this.#start(entry);
  }

  async waitAllRunning() {
    while ([...this.#programs.values()].some((entry) => entry.child === undefined)) await sleep(50);
  }

  /** Stops every daemon with SIGTERM; one that does not exit within the grace is a problem (and is SIGKILLed). */
  async stopAll() {
    this.#stopping = true;
    const entries = [...this.#programs.values()].filter((entry) => entry.child !== undefined);
    for (const entry of entries) {
      entry.expected = 'stop';
      entry.child.kill('SIGTERM');
    }
    await Promise.all(
      entries.map(async (entry) => {
        const exited = await Promise.race([entry.exited, sleep(TERM_GRACE_MS, undefined, { ref: false })]);
        if (exited === undefined) {
          this.problems.push(`${entry.name} did not exit within ${TERM_GRACE_MS / 1000} s of SIGTERM at the end`);
          entry.child?.kill('SIGKILL');
          await entry.exited;
        } else if (exited.code !== 0 && exited.signal !== 'SIGTERM') {
          this.problems.push(`${entry.name} exited ${exited.code ?? exited.signal} on the final SIGTERM: ${lastLine(entry.stderr)}`);
        }
      }),
    );
  }

  #stopping = false;

  #start(entry) {
    entry.restart = undefined;
    entry.fault = this.#quiet ? undefined : this.#drawFault(entry.program);
    const env = entry.fault === undefined ? this.env : { ...this.env, OPKFARM_FAULT: entry.fault };
    const child = start([`${dist}daemons/${entry.program}.js`, '--root', this.root, ...entry.args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    entry.child = child;
    entry.expected = undefined;
    entry.stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      entry.stderr = (entry.stderr + chunk).slice(-4000);
      this.logs.write(prefixLines(entry.name, chunk));
    });
    entry.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        entry.child = undefined;
        this.#judgeExit(entry, code, signal);
        resolve({ code, signal });
        if (this.#stopping) return;
        // Restarted after a pause the seed chooses (at once once quiet), as systemd would.
        const delay = this.#quiet ? 0 : this.prng.integer(0, 500);
        entry.restart = setTimeout(() => {
          this.stats.restarts += 1;
          this.#start(entry);
        }, delay);
      });
    });
  }

  /** Whether an exit was one the run caused; anything else is a problem (a crash, a refusal to stop). */
  #judgeExit(entry, code, signal) {
    if (entry.expected === 'stop') return;
    if (entry.fault !== undefined && (signal === 'SIGKILL' || code === 137) && entry.expected !== 'SIGKILL') {
      this.stats.faultsFired += 1;
      return;
    }
    if (entry.expected === 'SIGKILL' && signal === 'SIGKILL') return;
    // SIGTERM before the daemon set its handler (still starting) ends it by the signal: as good as a clean stop.
    if (entry.expected === 'SIGTERM' && (code === 0 || signal === 'SIGTERM')) return;
    this.problems.push(
      `${entry.name} exited ${code ?? signal} (${entry.expected === undefined ? 'nobody stopped it' : `after ${entry.expected}`}${entry.fault ? `, ${entry.fault} armed` : ''}): ${lastLine(entry.stderr)}`,
    );
  }

  /** A fault point of `program` to arm on this start, or undefined (the chance is options.faults). */
  #drawFault(program) {
    if (!(this.faults > 0) || !this.prng.chance(this.faults)) return undefined;
    const prefix = program === 'buildq' ? 'accept.' : `${program}.`;
    const points = FAULT_POINTS.filter((point) => point.startsWith(prefix) || point === 'write.temp-filled');
    this.stats.faultsArmed += 1;
    return `${this.prng.pick(points)}:${this.prng.integer(1, 3)}`;
  }

  /**
   * `buildq accept <name> 1.0` until the upload is accepted: again after a
   * kill (the next run recovers the half-done accept first); an upload gone
   * from incoming/ after a killed run was accepted by it or by the recovery.
   */
  async acceptUntilDone(name) {
    let killedBefore = false;
    for (let attempt = 1; attempt <= 20; attempt++) {
      const fault = this.#quiet ? undefined : this.#drawFault('buildq');
      const entry = { name: `buildq-${name}`, program: 'buildq', child: undefined, expected: undefined, fault };
      const args = ['--root', this.root, 'accept', name, '1.0', '--remarks', `chaos accept of ${name}`];
      const env = fault === undefined ? this.env : { ...this.env, OPKFARM_FAULT: fault };
      const outcome = await new Promise((resolve) => {
        const child = start([`${dist}daemons/buildq.js`, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
        entry.child = child;
        this.#buildq = entry;
        let stderr = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
          this.logs.write(prefixLines(entry.name, chunk));
        });
        child.on('close', (code, signal) => resolve({ code, signal, stderr }));
      });
      this.#buildq = undefined;
      if (outcome.code === 0) {
        this.stats.accepts += 1;
        return;
      }
      const killed = outcome.signal === 'SIGKILL' || outcome.code === 137 || (entry.expected === 'SIGTERM' && outcome.signal === 'SIGTERM');
      if (killed) {
        if (fault !== undefined && entry.expected === undefined) this.stats.faultsFired += 1;
        killedBefore = true;
        continue;
      }
      if (killedBefore && /no such upload in incoming/.test(outcome.stderr)) {
        this.stats.accepts += 1;
        return;
      }
      if (entry.expected === 'SIGTERM') {
        // buildq has no SIGTERM handler of its own: a kill it did not survive, or one that came too late to matter.
        killedBefore = true;
        continue;
      }
      this.problems.push(`buildq accept ${name} exited ${outcome.code ?? outcome.signal}: ${lastLine(outcome.stderr)}`);
      await sleep(500);
    }
    this.problems.push(`buildq accept ${name}: not accepted after 20 attempts`);
  }
}

function lastLine(text) {
  const lines = (text ?? '').trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

