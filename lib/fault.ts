/**
 * Fault points: places right after a file operation of the queue protocol
 * (PIPELINE.md steps 1–4) where a test can make the program die as if killed
 * with SIGKILL, so that every crash window is exercised on purpose rather
 * than by luck (test/pipeline/crash-windows.test.ts, scripts/chaos/).
 *
 * Off unless the environment says `OPKFARM_FAULT=<point>[:<n>]`: then the
 * n-th pass (default the first) of that point in this process SIGKILLs the
 * process, after one line on stderr. Unset, a pass is one comparison.
 *
 * This module is a process concern living in lib/ on purpose: the points sit
 * between the file operations they split, and one line there is the least a
 * fault can cost the code it tests.
 */

/** Every fault point, in pipeline order. Names are `<program>.<what was just done>`. */
export const FAULT_POINTS = [
  // buildq accept (lib/queue/accept.ts, lib/queue/sequence.ts)
  'accept.sequence-written',
  'accept.source-copied',
  'accept.changes-copied',
  'accept.remarks-written',
  'accept.changes-renamed',
  'accept.master-linked',
  'accept.queue-linked',
  'accept.publish-marked',
  'accept.queue-published',
  'accept.incoming-removed',
  'accept.mailed',
  'accept.remarks-removed',
  'accept.marker-removed',
  // buildd (lib/queue/claims.ts, lib/build/build-claim.ts)
  'buildd.claimed',
  'buildd.unpacked',
  'buildd.binary-moved',
  'buildd.log-moved',
  'buildd.mailed',
  'buildd.result-written',
  'buildd.work-removed',
  'buildd.popped',
  // builddd (lib/queue/complete.ts)
  'builddd.entry-made',
  'builddd.changes-moved',
  'builddd.source-moved',
  // archived (lib/archive/*.ts)
  'archived.pool-linked',
  'archived.index-written',
  'archived.log-stored',
  'archived.changes-stored',
  'archived.mailed',
  'archived.entry-moved-out',
  'archived.entry-deleted',
  // every program: an atomic write's temporary file is complete, not yet renamed (lib/fs/atomic.ts)
  'write.temp-filled',
] as const;

export type FaultPointName = (typeof FAULT_POINTS)[number];

/** The environment variable that arms a fault point. */
export const FAULT_VARIABLE = 'OPKFARM_FAULT';

export interface FaultSpec {
  readonly point: FaultPointName;
  /** Which pass crashes: 1 for the first. */
  readonly pass: number;
}

/** Parses `<point>[:<n>]`; throws a one-line error naming the variable and the problem. */
export function parseFaultSpec(text: string): FaultSpec {
  const match = /^([a-z-]+\.[a-z-]+)(?::(\d+))?$/.exec(text);
  const point = FAULT_POINTS.find((name) => name === match?.[1]);
  const pass = Number(match?.[2] ?? '1');
  if (match === null || point === undefined || pass < 1) {
    throw new Error(`${FAULT_VARIABLE}=${JSON.stringify(text)}: not <point>[:<n>] with a known point (${FAULT_POINTS.join(', ')}) and n >= 1`);
  }
  return { point, pass };
}

const armed = armedFault();
let passes = 0;

/** Marks a fault point: a no-op unless it is the armed one, whose chosen pass kills this process at once. */
export function faultPoint(name: FaultPointName): void {
  if (armed === undefined || armed.point !== name) return;
  passes += 1;
  if (passes !== armed.pass) return;
  // Synchronous on pipes and files: the line is out before the signal.
  process.stderr.write(`opkfarm: fault point ${name} (pass ${passes}): killing process ${process.pid}\n`);
  process.kill(process.pid, 'SIGKILL');
  process.exit(137);
}

function armedFault(): FaultSpec | undefined {
  const text = process.env[FAULT_VARIABLE];
  if (text === undefined || text === '') return undefined;
  return parseFaultSpec(text);
}
