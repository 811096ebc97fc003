/**
 * Running opkfarm's real programs from tests: the compiled dist/daemons/*.js
 * (test/global-setup.ts compiles them), as separate processes.
 */
import { fileURLToPath } from 'node:url';
import { execa, type Options, type ResultPromise } from 'execa';

const DIST = fileURLToPath(new URL('../../dist/daemons/', import.meta.url));

export type Program = 'opkfarm' | 'buildq' | 'buildd' | 'builddd' | 'archived';

/** The path of a program's compiled entry point. */
export function programPath(program: Program): string {
  return `${DIST}${program}.js`;
}

/** Runs a program to completion without throwing on failure; inspect exitCode/stdout/stderr. */
export function runProgram(program: Program, args: readonly string[], options: Options = {}): ResultPromise {
  return execa(process.execPath, [programPath(program), ...args], { reject: false, ...options });
}

/**
 * One pass of the daemons with --once, in pipeline order: buildd on each of
 * `queues`, builddd, archived. Throws, with the program's log, when one
 * fails; resolves to each program's log (stderr), keyed `buildd <queue>`,
 * `builddd` and `archived`.
 */
export async function runPipelineOnce(root: string, queues: readonly string[]): Promise<Record<string, string>> {
  const passes: Array<[label: string, program: Program, args: string[]]> = [
    ...queues.map((queue): [string, Program, string[]] => [`buildd ${queue}`, 'buildd', ['--queue', queue]]),
    ['builddd', 'builddd', []],
    ['archived', 'archived', []],
  ];
  const logs: Record<string, string> = {};
  for (const [label, program, args] of passes) {
    const run = await runProgram(program, ['--root', root, '--once', ...args]);
    logs[label] = String(run.stderr);
    if (run.exitCode !== 0) throw new Error(`${label} --once exited ${String(run.exitCode)}: ${String(run.stderr)}`);
  }
  return logs;
}
