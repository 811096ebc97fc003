/**
 * Every crash window, on purpose (issue 9): for each fault point of
 * lib/fault.ts, a small farm (two uploads, each built by two queues with the
 * chaos builder) runs the pipeline one program at a time with --once; the
 * program that holds the point runs with OPKFARM_FAULT set and must die there
 * (SIGKILL, as `kill -9` would), is restarted without it, and the pipeline
 * goes on. The end state is then judged from the files alone by the checks
 * the chaos harness uses (lib/chaos/end-state.ts): both uploads in the
 * archive exactly once, indexes matching the pool, every queue empty, no
 * temporary left, every mail sent, no process left.
 *
 * The pipeline runs once up front, keeping a copy of the farm before each
 * step; a case starts from the copy before its program's step.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEndState } from '../../lib/chaos/end-state.js';
import { CHAOS_QUEUES, chaosConfig, prepareUploads, type PreparedUploads } from '../../lib/chaos/uploads.js';
import { FAULT_POINTS, FAULT_VARIABLE, type FaultPointName } from '../../lib/fault.js';
import { QueueLayout } from '../../lib/layout.js';
import { initQueueRoot } from '../../queues-layout/init.js';
import { removeScratch, scratchDirectory } from '../support/farm.js';
import { runProgram, type Program } from '../support/programs.js';

type Step = { readonly program: Program; readonly args: readonly string[] };

interface Case {
  readonly point: FaultPointName;
  readonly pass: number;
  /** The program run with the fault armed: the first step of it. */
  readonly program: Program;
}

const UPLOADS = 2;

/** Points passed more than once by the first run of their program, with the passes worth crashing at. */
const PASSES: Partial<Record<FaultPointName, readonly number[]>> = {
  'accept.queue-linked': [1, 2],
  'accept.queue-published': [1, 2],
  'accept.incoming-removed': [1, 2],
  'archived.pool-linked': [1, 4],
  'archived.index-written': [1, 2],
  'archived.entry-moved-out': [1, 2],
};

/** write.temp-filled passes per program: buildq writes state/sequence then the accepted mail; each daemon first writes its heartbeat. */
const TEMP_FILLED: ReadonlyArray<readonly [Program, number]> = [
  ['buildq', 1],
  ['buildq', 2],
  ['buildd', 2],
  ['buildd', 3],
  ['archived', 2],
  ['archived', 3],
  ['archived', 4],
];

function programOf(point: FaultPointName): Program {
  const prefix = point.slice(0, point.indexOf('.'));
  return prefix === 'accept' ? 'buildq' : (prefix as Program);
}

const CASES: Case[] = FAULT_POINTS.flatMap((point): Case[] => {
  if (point === 'write.temp-filled') return TEMP_FILLED.map(([program, pass]) => ({ point, pass, program }));
  return (PASSES[point] ?? [1]).map((pass) => ({ point, pass, program: programOf(point) }));
});

let work: string | undefined;
let prepared: PreparedUploads;
/** The farm before each step of the pipeline (index: the step), made once and copied for each case. */
const before: string[] = [];

/**
 * Runs the pipeline once, keeping a copy of the root before each step:
 * every case starts from the copy before its program's first step, so
 * what comes before the crash runs once in all, not once per case.
 */
beforeAll(async () => {
  work = await scratchDirectory('crash-windows');
  prepared = await prepareUploads(join(work, 'prepared'), UPLOADS);
  const root = join(work, 'farm', 'root');
  await mkdir(join(work, 'farm'));
  await writeFile(`${root}.conf`, chaosConfig(prepared));
  await initQueueRoot({ root, configFile: `${root}.conf` });
  const layout = new QueueLayout(root);
  for (const name of await readdir(prepared.uploads)) await copyFile(join(prepared.uploads, name), join(layout.incoming, name));
  const steps = pipeline(root);
  for (const [index, step] of steps.entries()) {
    before[index] = join(work, `before-${index}`);
    await copyTree(root, before[index]);
    await runOk(step);
  }
}, 120_000);

afterAll(async () => {
  await removeScratch(work);
});

/** `cp -a`: hard links between the copied files stay links (a queue entry and its master entry are one inode). */
async function copyTree(from: string, to: string): Promise<void> {
  await promisify(execFile)('cp', ['-a', from, to]);
}

/** The pipeline, one program at a time: both accepts, each queue's buildd, builddd, archived. */
function pipeline(root: string): Step[] {
  return [
    ...prepared.names.map((name) => ({ program: 'buildq' as const, args: ['--root', root, 'accept', name, '1.0', '--remarks', `accepting ${name}`] })),
    ...CHAOS_QUEUES.map((queue) => ({ program: 'buildd' as const, args: ['--root', root, '--queue', queue, '--once'] })),
    { program: 'builddd', args: ['--root', root, '--once'] },
    { program: 'archived', args: ['--root', root, '--once'] },
  ];
}

async function run(step: Step, env: Record<string, string> = {}) {
  const result = await runProgram(step.program, step.args, { env: { ...env } });
  return { ...result, stderr: String(result.stderr) };
}

/** Runs a step that must succeed. */
async function runOk(step: Step): Promise<void> {
  const result = await run(step);
  if (result.exitCode !== 0) throw new Error(`${step.program} ${step.args.join(' ')} exited ${String(result.exitCode ?? result.signal)}:\n${result.stderr}`);
}

describe.concurrent('a program killed right after each file operation, then restarted, leaves nothing lost, duplicated or partial', () => {
  it('every fault point is one of these cases, and each case names a real point', () => {
    expect(new Set(CASES.map((crash) => crash.point))).toEqual(new Set(FAULT_POINTS));
  });

  it.each(CASES)('$point (pass $pass, $program)', async ({ point, pass, program }) => {
    const base = await scratchDirectory('crash-window');
    try {
      const layout = new QueueLayout(join(base, 'root'));
      const armed = pipeline(layout.root).findIndex((step) => step.program === program);
      await copyTree(before[armed] as string, layout.root);
      const steps = pipeline(layout.root);

      const crashed = await run(steps[armed] as Step, { [FAULT_VARIABLE]: `${point}:${pass}` });
      expect(crashed.stderr, `the fault point was not reached:\n${crashed.stderr}`).toContain(`fault point ${point} (pass ${pass})`);
      expect(crashed.signal).toBe('SIGKILL');

      // The restart, without the fault: buildq recovers on any command, then accepts what is still waiting.
      if (program === 'buildq') {
        await runOk({ program: 'buildq', args: ['--root', layout.root, 'list'] });
        const name = prepared.names[armed] as string;
        if ((await readdir(layout.incoming)).includes(`${name}_1.0.changes`)) await runOk(steps[armed] as Step);
      } else {
        await runOk(steps[armed] as Step);
      }
      for (const step of steps.slice(armed + 1)) await runOk(step);

      const report = await checkEndState(layout, { uploads: prepared.expected, queues: CHAOS_QUEUES });
      expect(report.problems).toEqual([]);
    } finally {
      await removeScratch(base);
    }
  }, 150_000);
});
