/**
 * `opkfarm upload --root DIR`, the real program uploading into a queue root
 * on this machine: the local checks first, the files then the .changes, the
 * .upload log and the refusal of a second upload, --force, and the resumption
 * of an interrupted one. (execa strips the final newline of the output.)
 */
import { copyFile, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QueueLayout } from '../../lib/layout.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { digestFile } from '../../lib/fs/hash.js';
import { appendUploadLog } from '../../lib/upload/upload-log.js';
import { initFarmInProcess, removeScratch, scratchDirectory } from '../support/farm.js';
import { runProgram } from '../support/programs.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const OPK = 'hello_1.0-1_src.opk';
const CHANGES = 'hello_1.0-1.changes';

let scratch: string | undefined;
let layout: QueueLayout;
let staging: string;

beforeEach(async () => {
  scratch = await scratchDirectory('upload-local-');
  layout = new QueueLayout(join(scratch, 'root'));
  staging = join(scratch, 'staging');
  await initFarmInProcess(layout.root, { queues: [{ name: 'indep', architectures: ['all'] }] });
  await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: staging });
});

afterEach(async () => {
  await removeScratch(scratch);
});

async function upload(...args: string[]) {
  const result = await runProgram('opkfarm', ['upload', '--root', layout.root, ...args, join(staging, CHANGES)]);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('opkfarm upload --root', () => {
  it('sends the files then the .changes, logs it, and refuses a second upload unless forced', async () => {
    const opkSize = (await readFile(join(staging, OPK))).length;
    const changesSize = (await readFile(join(staging, CHANGES))).length;
    const first = await upload();
    expect(first).toEqual({
      exitCode: 0,
      stdout: [`${OPK}: sent ${opkSize} bytes`, `${CHANGES}: sent ${changesSize} bytes`, `Uploaded hello 1.0-1 to file://${layout.incoming}`].join('\n'),
      stderr: '',
    });
    expect((await readdir(layout.incoming)).sort()).toEqual([CHANGES, OPK]);
    expect(await readFile(join(layout.incoming, OPK))).toEqual(await readFile(join(staging, OPK)));
    const log = (await readFile(join(staging, 'hello_1.0-1.upload'), 'utf8')).trimEnd().split('\n');
    expect(log.map((line) => line.split(' ').slice(1, 4).join(' '))).toEqual([
      `sending file://${layout.incoming} ${OPK}`,
      `sent file://${layout.incoming} ${OPK}`,
      `sending file://${layout.incoming} ${CHANGES}`,
      `sent file://${layout.incoming} ${CHANGES}`,
      `uploaded file://${layout.incoming} ${CHANGES}`,
    ]);

    const second = await upload();
    expect(second.exitCode).toBe(1);
    expect(second.stdout).toBe('');
    expect(second.stderr).toMatch(
      new RegExp(`^opkfarm: ${CHANGES}: already uploaded to file://${layout.incoming} at \\S+ \\(see ${join(staging, 'hello_1.0-1.upload')}\\); --force uploads it again$`),
    );

    const forced = await upload('--force');
    expect(forced.exitCode).toBe(0);
    expect(forced.stdout).toContain(`${OPK}: sent ${opkSize} bytes\n`);
  });

  it('resumes an interrupted upload: a complete file is not sent again, a partial one only from where it stopped', async () => {
    const opk = await readFile(join(staging, OPK));
    const logFile = join(staging, 'hello_1.0-1.upload');
    const destination = `file://${layout.incoming}`;
    const file = (name: string, size: number, sha256: string) => ({ name, path: join(staging, name), size, sha256 });

    // As a run killed while sending the source package leaves it: a log line and part of the file.
    const opkDigests = await digestFile(join(staging, OPK));
    await appendUploadLog(logFile, 'sending', destination, file(OPK, opkDigests.size, opkDigests.sha256));
    await writeFile(join(layout.incoming, `.tmp-upload-${OPK}`), opk.subarray(0, 1000));
    const resumed = await upload();
    expect(resumed.exitCode).toBe(0);
    expect(resumed.stdout.split('\n')[0]).toBe(`${OPK}: resumed, sent the last ${opk.length - 1000} bytes`);
    expect(await readFile(join(layout.incoming, OPK))).toEqual(opk);

    // As a run killed after the source package was in place: only the .changes goes.
    await rm(join(layout.incoming, CHANGES));
    await truncate(logFile, 0);
    await appendUploadLog(logFile, 'sent', destination, file(OPK, opkDigests.size, opkDigests.sha256));
    const finished = await upload();
    expect(finished.stdout.split('\n').slice(0, 2)).toEqual([`${OPK}: already there, not sent again`, expect.stringMatching(new RegExp(`^${CHANGES}: sent \\d+ bytes$`))]);
    expect((await readdir(layout.incoming)).sort()).toEqual([CHANGES, OPK]);
  });

  it('removes an older .changes of the same name before replacing the files under it', async () => {
    expect((await upload()).exitCode).toBe(0);
    // The same upload with a new .changes, sent from elsewhere: this log knows nothing of the first.
    await rm(join(staging, 'hello_1.0-1.upload'));
    const changesPath = join(staging, CHANGES);
    await writeFile(changesPath, (await readFile(changesPath, 'utf8')).replace(/^Date: .*$/m, 'Date: Sun, 22 Nov 2026 12:00:00 +0000'));
    const second = await upload();
    expect(second.exitCode).toBe(0);
    expect(second.stdout.split('\n').slice(0, 2)).toEqual([`${CHANGES}: removed the older .changes there first`, expect.stringMatching(/: sent \d+ bytes$/)]);
    expect(await readFile(join(layout.incoming, CHANGES), 'utf8')).toContain('Date: Sun, 22 Nov 2026');
  });

  it('checks the upload before sending anything', async () => {
    await copyFile(join(staging, OPK), join(scratch as string, 'kept.opk'));
    const changed = await readFile(join(staging, OPK));
    changed[100] = (changed[100] ?? 0) ^ 0xff;
    await writeFile(join(staging, OPK), changed);
    const wrong = await upload();
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`^opkfarm: ${CHANGES}: not ready to upload: ${OPK}: SHA-256 is [0-9a-f]{64}, \\.changes lists [0-9a-f]{64}$`));

    await rm(join(staging, OPK));
    const missing = await upload();
    expect(missing.stderr).toBe(`opkfarm: ${CHANGES}: not ready to upload: ${OPK} missing or shorter than listed`);

    await copyFile(join(scratch as string, 'kept.opk'), join(staging, OPK));
    await writeFile(layout.configFile, (await readFile(layout.configFile, 'utf8')).replace('Distributions: trunk', 'Distributions: rs1 rs2'));
    const distribution = await upload();
    expect(distribution.stderr).toBe(`opkfarm: ${CHANGES}: distribution "trunk" is not one the farm accepts (rs1, rs2)`);
    expect(await readdir(layout.incoming)).toEqual([]);
  });
});
