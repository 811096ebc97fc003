/**
 * The hostile upload corpus (upload-corpus.ts, README.md) through the real
 * buildq, all in one incoming/ beside a good upload: `buildq list` reports
 * each case as the table says, `buildq accept` refuses each with one line
 * naming the file and the problem, `buildq reject` and `buildq
 * clean-incoming` move every one to rejected/ with its reason, and the good
 * upload, accepted in the same run, goes through buildd, builddd and
 * archived into the archive as if the others were not there.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../lib/errors.js';
import { acceptUpload } from '../../lib/queue/accept.js';
import { findIncoming } from '../../lib/queue/incoming.js';
import { rejectUpload } from '../../lib/queue/reject.js';
import { writeCommandBuilder } from '../support/builders.js';
import { feedProblems, inBatches, indexedNames, initFarmInProcess, namesIn, queueLeftovers } from '../support/farm.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { runPipelineOnce, runProgram } from '../support/programs.js';
import { writeGoodUpload } from './craft.js';
import { UPLOAD_CASES, type UploadCase } from './upload-corpus.js';

const scratch = usePipelineScratch('hostile-uploads');
const WAIT_SECONDS = 1;
/** Cases refused (accept) and rejected by the real buildq; the others by the same library calls in this process, to keep the run short. */
const THROUGH_BUILDQ = new Set(['changes-maintainer-cr', 'incoming-opk-fifo', 'changes-unknown-architecture', 'opk-data-bomb', 'opk-symlink-escape']);

interface UploadBlock {
  readonly header: string;
  readonly state: string;
  readonly details: string[];
}

/** The upload blocks of `buildq list` (a header line, then its indented details, the overdue note left out). */
function uploadBlocks(list: string): UploadBlock[] {
  const blocks: UploadBlock[] = [];
  for (const line of list.split('\n')) {
    if (line === '' || line.startsWith('Problems in incoming/') || line.startsWith('Arriving')) break;
    if (line.startsWith('    ')) {
      const detail = line.slice(4);
      if (!detail.startsWith('overdue:')) blocks.at(-1)?.details.push(detail);
      continue;
    }
    blocks.push({ header: line, state: /\s(complete|waiting|invalid)\s/.exec(line)?.[1] ?? '?', details: [] });
  }
  return blocks;
}

/** The problem lines of `buildq list`: [name, kind]. */
function problemLines(list: string): Array<[string, string]> {
  const section = list.split('Problems in incoming/')[1] ?? '';
  const problems: Array<[string, string]> = [];
  for (const line of section.split('\n').slice(1)) {
    if (!line.startsWith('  ')) break;
    const match = /^ {2}("(?:[^"\\]|\\.)*"|\S+)\s+(\S+)/.exec(line);
    if (match) problems.push([match[1]?.startsWith('"') ? (JSON.parse(match[1]) as string) : (match[1] ?? ''), match[2] ?? '']);
  }
  return problems;
}

function blockOf(blocks: readonly UploadBlock[], testCase: UploadCase): UploadBlock | undefined {
  return (
    blocks.find((block) => block.header.split(/\s+/)[0] === testCase.name) ??
    blocks.find((block) => (block.details[0] ?? '').startsWith(testCase.name))
  );
}

describe('the hostile upload corpus', () => {
  it('has at least 40 cases, each named once', () => {
    const names = UPLOAD_CASES.map((testCase) => testCase.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(40);
  });

  it('is listed, refused and rejected case by case, and a good upload beside it reaches the archive', { timeout: 240_000 }, async () => {
    const directory = scratch.directory();
    const root = join(directory, 'root');
    const builder = await writeCommandBuilder({ directory, counter: join(directory, 'builds') });
    const { layout, config } = await initFarmInProcess(root, {
      queues: [{ name: 'indep', architectures: ['all'] }],
      builderCommand: builder,
      sandbox: 'none',
      mailFields: [`Upload-Wait-Seconds: ${WAIT_SECONDS}`, 'Unpacked-Size-Limit: 64M'],
    });
    for (const testCase of UPLOAD_CASES) {
      await testCase.make({ incoming: layout.incoming, scratch: join(directory, 'cases', testCase.name), source: testCase.name });
    }
    await writeGoodUpload(layout.incoming, join(directory, 'good'), 'good');
    // Every entry older than Upload-Wait-Seconds: what is not complete is a problem now, not "arriving".
    await sleep((WAIT_SECONDS + 0.5) * 1000);

    const listing = await runProgram('buildq', ['--root', root, 'list']);
    expect(listing.exitCode, String(listing.stderr)).toBe(0);
    const list = String(listing.stdout);
    const blocks = uploadBlocks(list);
    const problems = problemLines(list);
    const seen: string[] = [];
    for (const testCase of UPLOAD_CASES) {
      const block = blockOf(blocks, testCase);
      if (testCase.listed === undefined) {
        expect.soft(block, `${testCase.name} is no upload`).toBeUndefined();
      } else {
        expect.soft(block, `${testCase.name} is listed\n${list}`).toBeDefined();
        expect.soft(block?.state, `${testCase.name}\n${block?.header}`).toBe(testCase.listed.state);
        const reasons = testCase.listed.reasons ?? [];
        if (testCase.listed.reasons !== undefined || testCase.listed.state !== 'invalid') {
          expect.soft(block?.details.filter((detail) => !detail.startsWith('waiting for ')), testCase.name).toHaveLength(reasons.length);
        }
        reasons.forEach((reason, index) => expect.soft(block?.details[index], testCase.name).toMatch(reason));
        seen.push(block?.header ?? '');
      }
      for (const [name, kind] of testCase.problems ?? []) {
        expect.soft(problems, `${testCase.name}: ${name}\n${list}`).toContainEqual([name, kind]);
      }
    }
    expect(blocks.find((block) => block.header.startsWith('good 1.0 '))?.state).toBe('complete');
    // Nothing listed that no case accounts for.
    expect.soft(blocks).toHaveLength(seen.length + 1);
    expect.soft(problems).toHaveLength(UPLOAD_CASES.flatMap((testCase) => testCase.problems ?? []).length);

    // accept refuses each with one line naming the file; the good one is accepted in the same run.
    // THROUGH_BUILDQ run the real buildq (its message is `buildq: ` and this line); the rest call acceptUpload.
    const refusals = new Map<string, string>();
    await inBatches(
      UPLOAD_CASES.filter((testCase) => testCase.accept !== undefined && THROUGH_BUILDQ.has(testCase.name)),
      2,
      async (testCase) => {
        const accept = await runProgram('buildq', ['--root', root, 'accept', testCase.name, '1.0', '--remarks', '']);
        expect.soft(accept.exitCode, `${testCase.name}: ${String(accept.stderr)}`).toBe(1);
        const stderr = String(accept.stderr);
        // One line (execa strips the final newline), no stack trace.
        expect.soft(stderr.includes('\n'), `${testCase.name}: one line\n${stderr}`).toBe(false);
        expect.soft(stderr.startsWith('buildq: '), stderr).toBe(true);
        refusals.set(testCase.name, stderr.slice('buildq: '.length));
      },
    );
    for (const testCase of UPLOAD_CASES.filter((candidate) => candidate.accept !== undefined && !THROUGH_BUILDQ.has(candidate.name))) {
      const upload = await findIncoming(layout, testCase.name, '1.0');
      const refusal = await acceptUpload(layout, config, upload.changesPath, '').then(
        () => 'accepted',
        (error: unknown) => describeError(error),
      );
      refusals.set(testCase.name, refusal);
    }
    for (const testCase of UPLOAD_CASES) {
      if (testCase.accept !== undefined) expect.soft(refusals.get(testCase.name), testCase.name).toMatch(testCase.accept);
    }
    const goodAccept = await runProgram('buildq', ['--root', root, 'accept', 'good', '1.0', '--remarks', 'fine']);
    expect(goodAccept.exitCode, String(goodAccept.stderr)).toBe(0);

    // Out of incoming/: complete uploads the farm cannot take by the reviewer, the rest by clean-incoming.
    for (const testCase of UPLOAD_CASES.filter((candidate) => candidate.leaves === 'reject')) {
      const remarks = `corpus: ${testCase.hostile}`;
      if (THROUGH_BUILDQ.has(testCase.name)) {
        const reject = await runProgram('buildq', ['--root', root, 'reject', testCase.name, '1.0', '--remarks', remarks]);
        expect(reject.exitCode, `${testCase.name}: ${String(reject.stderr)}`).toBe(0);
      } else {
        const upload = await findIncoming(layout, testCase.name, '1.0');
        await rejectUpload(layout, upload.changesPath, upload.check, remarks);
      }
    }
    const clean = await runProgram('buildq', ['--root', root, 'clean-incoming', '--remarks', 'corpus']);
    expect(clean.exitCode, String(clean.stderr)).toBe(0);
    expect(await namesIn(layout.incoming)).toEqual([]);

    // Every case is kept in rejected/ with its reasons.
    const rejected = await namesIn(layout.rejected);
    for (const testCase of UPLOAD_CASES) {
      if (testCase.listed !== undefined) {
        const entry = rejected.find((name) => new RegExp(`^\\d{10}_${testCase.name}[a-z]*_1\\.0$`).test(name));
        expect(entry, `${testCase.name} in rejected/: ${rejected.join(' ')}`).toBeDefined();
        const remarks = await readFile(join(layout.rejected, entry ?? '', 'REMARKS'), 'utf8');
        for (const reason of testCase.listed.reasons ?? []) {
          expect(remarks, testCase.name).toMatch(new RegExp(reason.source.replace(/^\^/, '').replace(/\$$/, ''), 'm'));
        }
        expect((await readdir(join(layout.rejected, entry ?? ''))).some((name) => name.endsWith('.changes')), testCase.name).toBe(true);
      }
      for (const [name] of testCase.problems ?? []) {
        const holders = await Promise.all(rejected.map(async (entry) => (await namesIn(join(layout.rejected, entry, 'files'))).includes(name) || (await namesIn(join(layout.rejected, entry))).includes(name)));
        expect(holders.filter(Boolean), `${testCase.name}: ${name} kept once`).toHaveLength(1);
      }
    }

    // The good upload, accepted among them, is built and included as if they were not there.
    await runPipelineOnce(root, ['indep']);
    expect(await indexedNames(root)).toEqual(['good', 'src-good']);
    expect(await feedProblems(root)).toEqual([]);
    expect(await queueLeftovers(root, ['indep'])).toEqual([]);
  });
});
