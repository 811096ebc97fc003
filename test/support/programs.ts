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
