/**
 * A hostile uploader's incoming/, as the reviewer meets it with the real
 * buildq: links planted to files outside incoming/ (the queue root's own
 * configuration among them), a .changes naming `../` and absolute paths, a
 * FIFO, a directory, a stray file and an upload left waiting. Each shows up
 * in `buildq list` with its reason, none is followed, accepted or linked into
 * a queue, and clean-incoming, reject-file and reject keep every one in
 * rejected/ with the reason. (execa strips the final newline of the output.)
 */
import { execFile } from 'node:child_process';
import { link, lstat, mkdir, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatChanges, parseChanges } from '../../lib/formats/changes.js';
import { QueueLayout } from '../../lib/layout.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { initFarmInProcess, namesIn, removeScratch, scratchDirectory } from '../support/farm.js';
import { runProgram } from '../support/programs.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

let scratch: string | undefined;
let layout: QueueLayout;
let incoming: string;
let outside: string;

beforeEach(async () => {
  scratch = await scratchDirectory('hostile-');
  layout = new QueueLayout(join(scratch, 'root'));
  incoming = layout.incoming;
  outside = join(scratch, 'outside');
  await mkdir(outside);
  await initFarmInProcess(layout.root, { queues: [{ name: 'indep', architectures: ['all'] }] });
});

/** Sets Upload-Wait-Seconds in the root's configuration. */
async function setWait(seconds: number): Promise<void> {
  const text = (await readFile(layout.configFile, 'utf8')).replace(/\nUpload-Wait-Seconds: \d+/, '');
  await writeFile(layout.configFile, text.replace('Distributions: trunk', `Distributions: trunk\nUpload-Wait-Seconds: ${seconds}`));
}

afterEach(async () => {
  await removeScratch(scratch);
});

async function buildq(...args: string[]) {
  const result = await runProgram('buildq', ['--root', layout.root, ...args]);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Builds an example's upload into `directory`. */
async function upload(example: string, directory: string): Promise<void> {
  await buildSourcePackage(join(EXAMPLES, example), { outputDirectory: directory });
}

describe('hostile entries in incoming/', () => {
  it('are reported, never followed, accepted or queued, and kept in rejected/ with their reasons', async () => {
    const config = layout.configFile;

    // Left behind for longer than the wait (one second here): an upload without its source package, and a stray file.
    await setWait(1);
    await upload('libgreet', incoming);
    await rm(join(incoming, 'libgreet_0.9~rc1-1_src.opk'));
    await writeFile(join(incoming, 'notes.txt'), 'forgot this\n');
    await sleep(1_100);
    const old = await buildq('list');
    expect(old.stdout).toMatch(/^libgreet 0\.9~rc1-1 +waiting .*\n {4}waiting for libgreet_0\.9~rc1-1_src\.opk\n {4}overdue: unchanged for longer than Upload-Wait-Seconds \(1 s\); buildq clean-incoming rejects it$/m);
    expect(old.stdout).toMatch(/\nProblems in incoming\/ \(buildq clean-incoming moves them to rejected\/ with the reason\):\n {2}notes\.txt +stray +12 B +\d+ s {2}no \.changes lists it$/);
    const cleanOld = await buildq('clean-incoming', '--remarks', 'Cleaned by the reviewer.');
    expect(cleanOld.stdout).toMatch(
      /^Moved libgreet_0\.9~rc1-1\.changes to .*\/rejected\/0000000001_libgreet_0\.9~rc1-1: The upload waited for libgreet_0\.9~rc1-1_src\.opk for \d+ seconds, longer than this farm's Upload-Wait-Seconds \(1\)\.\nMoved notes\.txt to .*\/rejected\/0000000002_incoming_notes\.txt: no \.changes lists it$/,
    );

    // From here on the wait is long: what follows is reported for what it is, not for its age.
    await setWait(3600);
    const configText = await readFile(config, 'utf8');

    // hello: its source package is a symbolic link to a good one outside incoming/.
    await upload('hello', outside);
    await writeFile(join(incoming, 'hello_1.0-1.changes'), await readFile(join(outside, 'hello_1.0-1.changes')));
    await symlink(join(outside, 'hello_1.0-1_src.opk'), join(incoming, 'hello_1.0-1_src.opk'));
    // motd-banner: its source package is a hard link to a file outside incoming/.
    await upload('motd-banner', outside);
    await writeFile(join(incoming, 'motd-banner_2.3.changes'), await readFile(join(outside, 'motd-banner_2.3.changes')));
    await link(join(outside, 'motd-banner_2.3_src.opk'), join(incoming, 'motd-banner_2.3_src.opk'));
    // Links to the queue root's configuration, a FIFO, a directory.
    await symlink(config, join(incoming, 'config-link'));
    await link(config, join(incoming, 'config-hardlink'));
    await promisify(execFile)('mkfifo', [join(incoming, 'pipe')]);
    await mkdir(join(incoming, 'subdir'));
    // A .changes naming paths outside incoming/.
    const hello = parseChanges(await readFile(join(outside, 'hello_1.0-1.changes'), 'utf8'), 'hello_1.0-1.changes');
    const evil = formatChanges({ ...hello, source: 'evil', version: '1.0', files: hello.files.map((file) => ({ ...file, name: 'evil_1.0_src.opk' })) })
      .replace(/ evil_1\.0_src\.opk$/gm, ' ../opkfarm.conf')
      .replace(/^Files:$/m, ` ${'0'.repeat(64)} 10 /etc/passwd\nFiles:`);
    await writeFile(join(incoming, 'evil_1.0.changes'), evil);

    const list = await buildq('list');
    expect(list.exitCode).toBe(0);
    const lines = list.stdout.split('\n');
    const line = (start: RegExp) => lines.find((candidate) => start.test(candidate)) ?? `(no line matching ${start})`;
    expect(line(/^hello 1\.0-1 /)).toMatch(/ invalid /);
    expect(list.stdout).toContain('    hello_1.0-1_src.opk: is a symbolic link, not a regular file\n');
    expect(list.stdout).toContain('    motd-banner_2.3_src.opk: has 2 hard links; an uploaded file must have exactly one\n');
    expect(list.stdout).toMatch(/\n {4}evil_1\.0\.changes:\d+: Checksums-Sha256: file name "\.\.\/opkfarm\.conf" is not a plain file name/);
    expect(list.stdout).toMatch(/\n {4}evil_1\.0\.changes:\d+: Checksums-Sha256: file name "\/etc\/passwd" is not a plain file name/);
    expect(line(/^ {2}config-link /)).toMatch(new RegExp(` symlink .* symbolic link to ${escape(JSON.stringify(config))}: never followed$`));
    expect(line(/^ {2}config-hardlink /)).toMatch(/ hard-link .* hard link \(2 names for one file, the others outside incoming\/\): never read or linked$/);
    expect(line(/^ {2}hello_1\.0-1_src\.opk /)).toMatch(/ symlink /);
    expect(line(/^ {2}pipe /)).toMatch(/ special .* FIFO: uploads are plain files$/);
    expect(line(/^ {2}subdir /)).toMatch(/ directory .* directory: uploads are plain files$/);

    // None is accepted: each refusal names the file and why.
    for (const [source, version, reason] of [
      ['hello', '1.0-1', 'hello_1.0-1_src.opk: is a symbolic link, not a regular file'],
      ['motd-banner', '2.3', 'motd-banner_2.3_src.opk: has 2 hard links; an uploaded file must have exactly one'],
    ] as const) {
      const accept = await buildq('accept', source, version, '--remarks', 'ok');
      expect(accept.exitCode).toBe(1);
      expect(accept.stderr).toBe(`buildq: ${source}_${version}.changes: upload is invalid: ${reason}`);
    }
    const evilAccept = await buildq('accept', 'evil', '1.0', '--remarks', 'ok');
    expect(evilAccept.exitCode).toBe(1);
    expect(evilAccept.stderr).toMatch(/^buildq: evil_1\.0\.changes: upload is invalid: .*file name "\.\.\/opkfarm\.conf" is not a plain file name/);
    expect(await namesIn(layout.master)).toEqual([]);
    expect(await namesIn(layout.buildQueue('indep'))).toEqual(['claims']);

    // A file of an upload is rejected with the upload, not alone.
    const alone = await buildq('reject-file', 'motd-banner_2.3.changes');
    expect(alone.exitCode).toBe(1);
    expect(alone.stderr).toBe('buildq: motd-banner_2.3.changes belongs to the upload motd-banner 2.3: use buildq reject motd-banner 2.3');

    const clean = await buildq('clean-incoming', '--remarks', 'Cleaned by the reviewer.');
    expect(clean.exitCode).toBe(0);
    const moved = clean.stdout.split('\n').map((text) => /^Moved (\S+) to .*\/rejected\/(\d{10}_\S+): (.*)$/.exec(text)?.slice(1));
    expect(moved.map((entry) => entry?.[0]).sort()).toEqual(
      ['config-hardlink', 'config-link', 'hello_1.0-1_src.opk', 'motd-banner_2.3_src.opk', 'pipe', 'subdir'].sort(),
    );
    // What stays is for the reviewer: uploads not yet overdue.
    expect(await namesIn(incoming)).toEqual(['evil_1.0.changes', 'hello_1.0-1.changes', 'motd-banner_2.3.changes']);

    const reject = await buildq('reject', 'evil', '1.0', '--remarks', 'Paths outside incoming/ are not uploads.');
    expect(reject.exitCode).toBe(0);

    // Nothing was followed or changed: the configuration is where it was, with its content.
    expect(await readFile(config, 'utf8')).toBe(configText);
    expect((await lstat(config)).nlink).toBe(2);
    expect((await lstat(join(outside, 'hello_1.0-1_src.opk'))).isFile()).toBe(true);

    // Everything is kept in rejected/, as it was, with its reason.
    const rejected = await readdir(layout.rejected);
    const entry = (suffix: string) => {
      const key = rejected.find((name) => name.endsWith(suffix));
      if (key === undefined) throw new Error(`no rejected/*${suffix} in ${rejected.join(' ')}`);
      return join(layout.rejected, key);
    };
    const linkEntry = entry('_incoming_config-link');
    expect(await readlink(join(linkEntry, 'files', 'config-link'))).toBe(config);
    expect(await readFile(join(linkEntry, 'REMARKS'), 'utf8')).toBe(
      `Cleaned by the reviewer.\n\nMoved from incoming/: "config-link" (now files/ beside this file)\nReason: symbolic link to ${JSON.stringify(config)}: never followed\n`,
    );
    const hardlinkEntry = entry('_incoming_config-hardlink');
    expect((await lstat(join(hardlinkEntry, 'files', 'config-hardlink'))).ino).toBe((await lstat(config)).ino);
    expect((await lstat(join(entry('_incoming_pipe'), 'files', 'pipe'))).isFIFO()).toBe(true);
    expect((await lstat(join(entry('_incoming_subdir'), 'files', 'subdir'))).isDirectory()).toBe(true);
    expect(await readFile(join(entry('_incoming_notes.txt'), 'files', 'notes.txt'), 'utf8')).toBe('forgot this\n');
    const waiting = entry('_libgreet_0.9~rc1-1');
    expect(await namesIn(waiting)).toEqual(['REMARKS', 'libgreet_0.9~rc1-1.changes']);
    expect(await readFile(join(waiting, 'REMARKS'), 'utf8')).toMatch(
      /^Cleaned by the reviewer\.\n\nThe upload waited for libgreet_0\.9~rc1-1_src\.opk for \d+ seconds, longer than this farm's Upload-Wait-Seconds \(1\)\.\n/,
    );
    const evilEntry = entry('_evil_1.0');
    expect(await namesIn(evilEntry)).toEqual(['REMARKS', 'evil_1.0.changes']);
    expect(await readFile(join(evilEntry, 'REMARKS'), 'utf8')).toMatch(/Problems found in the upload:\n {2}evil_1\.0\.changes:\d+: Checksums-Sha256: file name "\.\.\/opkfarm\.conf"/);

    // The overdue upload's people were told, and the evil one's.
    const outbox = await readdir(layout.outbox);
    const subjects = await Promise.all(outbox.map(async (name) => /^Subject: (.*)\r$/m.exec(await readFile(join(layout.outbox, name), 'utf8'))?.[1]));
    expect(subjects.sort()).toEqual(['Rejected evil 1.0', 'Rejected libgreet 0.9~rc1-1']);
    expect(await namesIn(layout.master)).toEqual([]);
  });

  it('moves one entry by the name list prints, even a quoted one, and refuses a name that is not there', async () => {
    const name = 'bad\nname';
    await writeFile(join(incoming, name), 'x');
    const list = await buildq('list');
    expect(list.stdout).toMatch(/^ {2}"bad\\nname" +bad-name /m);

    const moved = await buildq('reject-file', '"bad\\nname"', '--remarks', 'Not an upload.');
    expect(moved.exitCode).toBe(0);
    expect(moved.stdout).toMatch(/^Moved "bad\\nname" to .*\/rejected\/0000000001_incoming_bad_name$/);
    expect(await readFile(join(layout.rejected, '0000000001_incoming_bad_name', 'files', name), 'utf8')).toBe('x');

    const missing = await buildq('reject-file', 'nothing-here');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe('buildq: "nothing-here": no such entry in incoming/');
    const escape = await buildq('reject-file', '../opkfarm.conf');
    expect(escape.exitCode).toBe(1);
    expect(escape.stderr).toBe('buildq: "../opkfarm.conf": not the name of an entry in incoming/');
    expect(await lstat(layout.configFile)).toBeTruthy();
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
