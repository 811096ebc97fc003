import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatChanges, type ChangesFields } from '../../lib/formats/changes.js';
import { checkUpload } from '../../lib/formats/changes-upload.js';

const SRC = 'hello_1.0-1_src.opk';
const CONTENT = Buffer.from('source package bytes\n');

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

function fieldsFor(content: Uint8Array, withMd5 = true): ChangesFields {
  return {
    date: 'Sat, 21 Nov 2026 12:00:00 +0000',
    source: 'hello',
    binaries: ['hello'],
    architectures: ['any'],
    platforms: ['all'],
    version: '1.0-1',
    distribution: 'trunk',
    maintainer: 'Jane Doe <jane@example.org>',
    changedBy: 'Jane Doe <jane@example.org>',
    description: 'hello - example program',
    changesText: 'hello (1.0-1) trunk; urgency=low\n\n  * Initial release.',
    files: [
      {
        name: SRC,
        size: content.length,
        sha256: sha256(content),
        ...(withMd5 ? { md5: md5(content) } : {}),
      },
    ],
  };
}

let directory: string;
let changesPath: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'opkfarm-changes-'));
  changesPath = join(directory, 'hello_1.0-1.changes');
  await writeFile(changesPath, formatChanges(fieldsFor(CONTENT)));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('checkUpload', () => {
  it('is complete when every listed file has its size and hashes', async () => {
    await writeFile(join(directory, SRC), CONTENT);
    const check = await checkUpload(changesPath);
    expect(check.state).toBe('complete');
    expect(check.changes?.source).toBe('hello');
  });

  it('checks only SHA-256 when Files is absent', async () => {
    await writeFile(changesPath, formatChanges(fieldsFor(CONTENT, false)));
    await writeFile(join(directory, SRC), CONTENT);
    expect((await checkUpload(changesPath)).state).toBe('complete');
  });

  it('waits for a missing file', async () => {
    const check = await checkUpload(changesPath);
    expect(check).toMatchObject({ state: 'incomplete', waitingFor: [SRC] });
    expect(check.changes?.version).toBe('1.0-1');
  });

  it('waits for a file shorter than listed, still arriving', async () => {
    await writeFile(join(directory, SRC), CONTENT.subarray(0, 5));
    expect(await checkUpload(changesPath)).toMatchObject({ state: 'incomplete', waitingFor: [SRC] });
  });

  it('rejects a file longer than listed', async () => {
    await writeFile(join(directory, SRC), Buffer.concat([CONTENT, Buffer.from('x')]));
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: size is ${CONTENT.length + 1} bytes, .changes lists ${CONTENT.length}`],
    });
  });

  it('rejects a file of the listed size with another SHA-256', async () => {
    const other = Buffer.from(CONTENT.toString().toUpperCase());
    await writeFile(join(directory, SRC), other);
    const check = await checkUpload(changesPath);
    expect(check).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: SHA-256 is ${sha256(other)}, .changes lists ${sha256(CONTENT)}`],
    });
    // The .changes itself is valid, so the rejection can still address its people.
    expect(check.changes?.maintainer).toBe('Jane Doe <jane@example.org>');
  });

  it('rejects a file whose MD5 differs from Files', async () => {
    const wrongMd5 = 'f'.repeat(32);
    const fields = fieldsFor(CONTENT);
    await writeFile(changesPath, formatChanges({ ...fields, files: fields.files.map((f) => ({ ...f, md5: wrongMd5 })) }));
    await writeFile(join(directory, SRC), CONTENT);
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: MD5 is ${md5(CONTENT)}, .changes lists ${wrongMd5}`],
    });
  });

  it('rejects a symbolic link, even to the right content', async () => {
    await writeFile(join(directory, 'elsewhere'), CONTENT);
    await symlink('elsewhere', join(directory, SRC));
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: is a symbolic link, not a regular file`],
    });
  });

  it('rejects a dangling symbolic link rather than waiting for it', async () => {
    await symlink('/nonexistent/file', join(directory, SRC));
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: is a symbolic link, not a regular file`],
    });
  });

  it('rejects a file with a second hard link', async () => {
    await writeFile(join(directory, SRC), CONTENT);
    await link(join(directory, SRC), join(directory, 'planted'));
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: has 2 hard links; an uploaded file must have exactly one`],
    });
  });

  it('rejects a directory', async () => {
    await mkdir(join(directory, SRC));
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: is a directory, not a regular file`],
    });
  });

  it('rejects a FIFO without blocking on it', async () => {
    execFileSync('mkfifo', [join(directory, SRC)]);
    expect(await checkUpload(changesPath)).toMatchObject({
      state: 'invalid',
      reasons: [`${SRC}: is a FIFO, not a regular file`],
    });
  });

  it('rejects a .changes that is a symbolic link', async () => {
    await writeFile(join(directory, SRC), CONTENT);
    await symlink('hello_1.0-1.changes', join(directory, 'linked.changes'));
    expect(await checkUpload(join(directory, 'linked.changes'))).toEqual({
      state: 'invalid',
      reasons: ['linked.changes: is a symbolic link, not a regular file'],
      listed: [],
    });
  });

  it('reports every problem at once: parse problems and each file', async () => {
    const other = 'hello_1.0-1_amd64.opk';
    const otherContent = Buffer.from('binary');
    const text = formatChanges(fieldsFor(CONTENT))
      .replace('Distribution: trunk', 'Distribution: Trunk')
      .replace(
        /^Files:$/m,
        ` ${sha256(Buffer.from('not it'))} ${otherContent.length} ${other}\n ${'0'.repeat(64)} 3 not-yet.opk\nFiles:`,
      );
    await writeFile(changesPath, text);
    await writeFile(join(directory, SRC), Buffer.concat([CONTENT, CONTENT]));
    await writeFile(join(directory, other), otherContent);
    const check = await checkUpload(changesPath);
    expect(check).toMatchObject({
      state: 'invalid',
      reasons: [
        'hello_1.0-1.changes:8: Distribution "Trunk" is not one word matching [a-z0-9][a-z0-9.+-]*',
        `hello_1.0-1.changes:19: "${other}" is not the source package "${SRC}": uploads are source-only`,
        'hello_1.0-1.changes:20: "not-yet.opk" is not the source package "hello_1.0-1_src.opk": uploads are source-only',
        `${SRC}: size is ${CONTENT.length * 2} bytes, .changes lists ${CONTENT.length}`,
        `${other}: SHA-256 is ${sha256(otherContent)}, .changes lists ${sha256(Buffer.from('not it'))}`,
      ],
    });
    expect(check.changes).toBeUndefined();
    expect(check.state === 'invalid' && check.stanza?.get('Changed-By')).toBe('Jane Doe <jane@example.org>');
    // What the invalid .changes lists, so that its files are rejected along and not taken for strays.
    expect(check.state === 'invalid' && check.listed).toEqual([SRC, other, 'not-yet.opk']);
  });

  it('rejects a .changes that does not parse', async () => {
    await writeFile(changesPath, 'Source: hello\nSource: again\n');
    expect(await checkUpload(changesPath)).toEqual({
      state: 'invalid',
      reasons: ['hello_1.0-1.changes:2: duplicate field "Source" (first at line 1)'],
      listed: [],
    });
  });
});
