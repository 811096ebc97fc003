/**
 * The `opkfarm` program as a user runs it: the compiled CLI in its own
 * process (test/support/programs.ts), judged by exit status, stdout and
 * stderr. Exit statuses (daemons/cli/run.ts): 0 success, 1 bad input,
 * 2 usage error, 69 environment problem; `changes check` adds 75 for an
 * upload still arriving.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { formatStanza } from '../../lib/formats/control.js';
import { buildSourcePackage } from '../../lib/source/build-source.js';
import { runProgram } from '../support/programs.js';
import { copyExample, EXAMPLES, opkHeaders, readOpkListing, REPOSITORY, tempDir } from '../source/fixtures.js';

const OPK = 'hello_1.0-1_src.opk';
const CHANGES = 'hello_1.0-1.changes';

beforeEach(() => {
  // The programs inherit the environment: keep the default epoch, the change log date.
  vi.stubEnv('SOURCE_DATE_EPOCH', undefined);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

/** Runs `opkfarm args…` from the repository root, as the README shows. */
async function opkfarm(...args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const result = await runProgram('opkfarm', args, { cwd: REPOSITORY, stripFinalNewline: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** An upload of examples/hello made by the CLI; returns the output directory. */
async function helloUpload(): Promise<string> {
  const output = await tempDir();
  const result = await opkfarm('source', 'build', 'examples/hello', '--output', output);
  expect(result.exitCode).toBe(0);
  return output;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('opkfarm source build', () => {
  it('writes the upload, prints both paths and exits 0', async () => {
    const output = join(await tempDir(), 'upload');
    const result = await opkfarm('source', 'build', 'examples/hello', '--output', output);
    expect(result).toEqual({ exitCode: 0, stdout: `${join(output, OPK)}\n${join(output, CHANGES)}\n`, stderr: '' });

    // The same bytes as the library builds in this process: the program adds nothing of its own.
    const inProcess = await buildSourcePackage(join(EXAMPLES, 'hello'), { outputDirectory: await tempDir() });
    expect((await readFile(join(output, OPK))).equals(await readFile(inProcess.sourcePackage))).toBe(true);
    expect(await readFile(join(output, CHANGES), 'utf8')).toBe(await readFile(inProcess.changesFile, 'utf8'));
  });

  it('takes --source-date-epoch for every mtime', async () => {
    const output = await tempDir();
    const result = await opkfarm('source', 'build', 'examples/hello', '-o', output, '--source-date-epoch', '1234567890');
    expect(result.exitCode).toBe(0);
    const headers = await opkHeaders(join(output, OPK));
    const mtimes = new Set([...headers.outer, ...headers.control, ...headers.data].map((header) => header.mtime?.getTime()));
    expect(mtimes).toEqual(new Set([1234567890 * 1000]));
  });

  it('refuses a --source-date-epoch that is not a whole number of seconds', async () => {
    const output = join(await tempDir(), 'upload');
    const result = await opkfarm('source', 'build', 'examples/hello', '--output', output, '--source-date-epoch', '1.5');
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'opkfarm: --source-date-epoch must be a whole number of seconds, not 1.5\n',
    });
    expect(existsSync(output)).toBe(false);
  });

  it('exits 1 naming <dir>/format for a directory that is not a source package, writing nothing', async () => {
    const directory = await tempDir();
    const output = join(await tempDir(), 'upload');
    const result = await opkfarm('source', 'build', directory, '--output', output);
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `opkfarm: ${join(directory, 'format')}: missing: not an SPF 2.0 source package directory\n`,
    });
    expect(existsSync(output)).toBe(false);
  });

  it('exits 1 when the upload would be written inside the source directory, creating nothing', async () => {
    const directory = await copyExample('hello');
    const output = join(directory, 'tmp', 'upload');
    const result = await opkfarm('source', 'build', directory, '--output', output);
    expect(result).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        `opkfarm: output directory ${output} is inside the source package directory ${directory}; ` +
        'write the upload elsewhere, e.g. in its parent directory\n',
    });
    expect(existsSync(join(directory, 'tmp'))).toBe(false);
  });
});

describe('opkfarm changes check', () => {
  it('exits 0 for a complete upload', async () => {
    const output = await helloUpload();
    const changes = join(output, CHANGES);
    expect(await opkfarm('changes', 'check', changes)).toEqual({
      exitCode: 0,
      stdout: `${changes}: complete (hello 1.0-1)\n`,
      stderr: '',
    });
  });

  it('exits 75 while the source package is missing or still shorter than listed', async () => {
    const output = await helloUpload();
    const changes = join(output, CHANGES);
    const opk = join(output, OPK);
    const incomplete = { exitCode: 75, stdout: `${changes}: incomplete, waiting for ${OPK}\n`, stderr: '' };

    const { size } = await stat(opk);
    await truncate(opk, size - 1);
    expect(await opkfarm('changes', 'check', changes)).toEqual(incomplete);

    await rm(opk);
    expect(await opkfarm('changes', 'check', changes)).toEqual(incomplete);
  });

  it('exits 1 for a source package of the listed size with another hash', async () => {
    const output = await helloUpload();
    const changes = join(output, CHANGES);
    const opk = join(output, OPK);
    const listed = sha256(await readFile(opk));
    const corrupt = await corruptOneByte(opk);
    expect(await opkfarm('changes', 'check', changes)).toEqual({
      exitCode: 1,
      stdout: `${changes}: invalid\n  ${OPK}: SHA-256 is ${sha256(corrupt)}, .changes lists ${listed}\n`,
      stderr: '',
    });
  });

  it('prints every reason, the .changes problems and the file problems, one per line', async () => {
    const output = await helloUpload();
    const changes = join(output, CHANGES);
    const opk = join(output, OPK);
    const text = await readFile(changes, 'utf8');
    await writeFile(changes, text.replace('\nDistribution: trunk\n', '\nDistribution: Trunk\n').replace('\nDate: ', '\nDated: '));
    const listed = sha256(await readFile(opk));
    const corrupt = await corruptOneByte(opk);
    const result = await opkfarm('changes', 'check', changes);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      `${changes}: invalid`,
      `  ${CHANGES}: missing required field "Date"`,
      `  ${CHANGES}:8: Distribution "Trunk" is not one word matching [a-z0-9][a-z0-9.+-]*`,
      `  ${OPK}: SHA-256 is ${sha256(corrupt)}, .changes lists ${listed}`,
      '',
    ]);
  });

  it('exits 1 for a source package longer than listed', async () => {
    const output = await helloUpload();
    const changes = join(output, CHANGES);
    const opk = join(output, OPK);
    const { size } = await stat(opk);
    await writeFile(opk, Buffer.concat([await readFile(opk), Buffer.from('x')]));
    expect(await opkfarm('changes', 'check', changes)).toEqual({
      exitCode: 1,
      stdout: `${changes}: invalid\n  ${OPK}: size is ${size + 1} bytes, .changes lists ${size}\n`,
      stderr: '',
    });
  });
});

describe('opkfarm opk info', () => {
  it('prints the control stanza, a summary line and, with --list, every data entry', async () => {
    const opk = join(await helloUpload(), OPK);
    const { control, entries } = await readOpkListing(opk);
    const files = entries.filter((entry) => entry.type === 'file');
    const total = files.reduce((sum, entry) => sum + entry.size, 0);
    const summary = `# tar.gz outer archive, control gzip, data gzip: ${entries.length} entries, ${total} bytes`;

    const withoutList = await opkfarm('opk', 'info', opk);
    expect(withoutList).toEqual({ exitCode: 0, stdout: `${formatStanza(control)}\n${summary}\n`, stderr: '' });
    expect(withoutList.stdout).toMatch(/^Package: src-hello\n/);
    expect(withoutList.stdout).toContain('\nArchitecture: src\n');

    const listed = await opkfarm('opk', 'info', opk, '--list');
    expect(listed.exitCode).toBe(0);
    expect(listed.stderr).toBe('');
    const lines = listed.stdout.split('\n');
    const head = `${formatStanza(control)}\n${summary}`.split('\n');
    expect(lines.slice(0, head.length)).toEqual(head);
    const listing = lines.slice(head.length);
    expect(listing.at(-1)).toBe('');
    expect(listing.slice(0, -1).map((line) => line.slice(18))).toEqual(entries.map((entry) => entry.path));
    expect(listing.slice(0, -1).map((line) => line.split(/\s+/).slice(0, 3))).toEqual(
      entries.map((entry) => [entry.type === 'directory' ? 'd' : '-', entry.mode.toString(8).padStart(4, '0'), String(entry.size)]),
    );
    const build = await stat(join(EXAMPLES, 'hello/build'));
    expect(listing).toContain(`- 0755 ${String(build.size).padStart(10)} usr/src/hello_1.0-1/build`);
    expect(listing).toContain('d 0755          0 .');
    expect(listing.filter((line) => line.endsWith(' usr/src/hello_1.0-1/src/hello.c'))).toHaveLength(1);
    expect(files.length).toBeGreaterThan(0);
  });

  it('exits 1 with one line naming the file for a file that is not an opk', async () => {
    const file = join(await tempDir(), 'notes.opk');
    await writeFile(file, 'just some text, not a package\n');
    expect(await opkfarm('opk', 'info', file)).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `opkfarm: ${file}: not an opk: expected an ar archive, a tar archive or a gzip-compressed tar archive\n`,
    });
  });

  it('exits 1 with one line naming the file for a truncated opk', async () => {
    const opk = join(await helloUpload(), OPK);
    await truncate(opk, 600);
    const result = await opkfarm('opk', 'info', opk);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.startsWith(`opkfarm: ${opk}: `)).toBe(true);
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(result.stderr.split('\n')).toHaveLength(2);
  });

  it('exits 69 naming the file when it cannot be read', async () => {
    const file = join(await tempDir(), 'gone.opk');
    const result = await opkfarm('opk', 'info', file);
    expect(result.exitCode).toBe(69);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^opkfarm: ${escapeRegExp(file)}: cannot read: ENOENT[^\\n]*\\n$`));
  });
});

describe('opkfarm usage', () => {
  it('exits 0 for --help, naming every command', async () => {
    const result = await opkfarm('--help');
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^opkfarm <command>\n/);
    for (const command of ['init', 'source', 'changes', 'opk']) {
      expect(result.stdout).toMatch(new RegExp(`^  opkfarm ${command} `, 'm'));
    }
  });

  it('exits 2 with a usage message for an unknown command', async () => {
    expect(await opkfarm('frobnicate')).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'opkfarm: Unknown argument: frobnicate (see opkfarm --help)\n',
    });
  });

  it('exits 2 with a usage message for an unknown subcommand or option', async () => {
    expect(await opkfarm('source', 'frobnicate')).toMatchObject({
      exitCode: 2,
      stderr: 'opkfarm: Unknown argument: frobnicate (see opkfarm --help)\n',
    });
    expect(await opkfarm('opk', 'info', 'x.opk', '--bogus')).toMatchObject({
      exitCode: 2,
      stderr: 'opkfarm: Unknown argument: bogus (see opkfarm --help)\n',
    });
  });

  it('exits 2 without a command, saying once that one is required', async () => {
    expect(await opkfarm()).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: 'opkfarm: a command is required (see opkfarm --help)\n',
    });
  });
});

/** Flips every bit of the middle byte, keeping the size; returns the new content. */
async function corruptOneByte(file: string): Promise<Buffer> {
  const content = await readFile(file);
  const middle = Math.floor(content.length / 2);
  content[middle] = (content[middle] ?? 0) ^ 0xff;
  await writeFile(file, content);
  return content;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
