import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { describe, expect, test } from 'vitest';

import { FormatError } from '../../lib/errors.js';
import { readAr } from '../../lib/opk/ar.js';
import { chunks, rejection, run, tempDir } from './fixtures.js';

function header(name: string, size: number): Buffer {
  const text =
    name.padEnd(16) + '0'.padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '100644'.padEnd(8) + String(size).padEnd(10) + '`\n';
  expect(text).toHaveLength(60);
  return Buffer.from(text, 'latin1');
}

function archive(...parts: Array<Buffer | string>): Buffer {
  return Buffer.concat([Buffer.from('!<arch>\n'), ...parts.map((part) => Buffer.from(part))]);
}

const chunked = (data: Buffer, size = 7): AsyncIterable<Buffer> => chunks(data, size);

async function text(body: Readable): Promise<string> {
  let out = '';
  for await (const chunk of body as AsyncIterable<Buffer>) out += chunk.toString();
  return out;
}

async function readAllMembers(data: Buffer): Promise<Array<[string, string]>> {
  const members: Array<[string, string]> = [];
  for await (const member of readAr(chunked(data), 'test.ar')) members.push([member.name, await text(member.body)]);
  return members;
}

describe('readAr', () => {
  test('reads what GNU ar writes, long names included', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'debian-binary'), '2.0\n');
    await writeFile(join(dir, 'a-member-with-a-long-name.txt'), 'long\n');
    await writeFile(join(dir, 'odd'), 'abc');
    await run('ar', ['rc', 'x.ar', 'debian-binary', 'a-member-with-a-long-name.txt', 'odd'], { cwd: dir });
    expect(await readAllMembers(await readFile(join(dir, 'x.ar')))).toEqual([
      ['debian-binary', '2.0\n'],
      ['a-member-with-a-long-name.txt', 'long\n'],
      ['odd', 'abc'],
    ]);
  });

  test('BSD names, symbol tables, odd sizes and a missing final padding byte', async () => {
    const data = archive(
      header('/', 4),
      'SYMS',
      header('#1/20', 23),
      'a-bsd-name-of-20-chr',
      'abc',
      '\n',
      header('plain/', 2),
      'hi',
      header('last', 1),
      'z', // no padding byte after it
    );
    expect(await readAllMembers(data)).toEqual([
      ['a-bsd-name-of-20-chr', 'abc'],
      ['plain', 'hi'],
      ['last', 'z'],
    ]);
  });

  test('skips bodies that are not read, or read in part', async () => {
    const data = archive(header('one', 5), 'first', '\n', header('two', 6), 'second', header('three', 5), 'third', '\n');
    const names: string[] = [];
    let third = '';
    for await (const member of readAr(chunked(data, 3), 'test.ar')) {
      names.push(member.name);
      if (member.name === 'two') {
        // Read one chunk, then leave the rest.
        for await (const chunk of member.body as AsyncIterable<Buffer>) {
          expect(chunk.length).toBeGreaterThan(0);
          break;
        }
      }
      if (member.name === 'three') third = await text(member.body);
    }
    expect(names).toEqual(['one', 'two', 'three']);
    expect(third).toBe('third');
  });

  test('truncated member: the body fails when read, the next member when it was not', async () => {
    const data = archive(header('cut', 100), 'only forty bytes of the promised hundred');
    const read = await rejection(
      (async () => {
        for await (const member of readAr(chunked(data), 'test.ar')) await text(member.body);
      })(),
    );
    const skipped = await rejection(
      (async () => {
        for await (const member of readAr(chunked(data), 'test.ar')) expect(member.name).toBe('cut');
      })(),
    );
    for (const error of [read, skipped]) {
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).code).toBe('opk.truncated');
      expect(error.message).toBe('test.ar: truncated ar archive: member "cut" is cut short (expected 100 bytes)');
    }
  });

  test('malformed headers and magic', async () => {
    const bad = archive(header('x', 1).fill(0x20, 58), 'x');
    await expect(readAllMembers(bad)).rejects.toThrow(
      new FormatError('opk.bad-member', 'test.ar', 'corrupt ar member header at offset 8 (no "`\\n" terminator)'),
    );
    await expect(readAllMembers(Buffer.from('!<ar'))).rejects.toThrow('test.ar: truncated ar archive: ends inside the magic string');
    await expect(readAllMembers(Buffer.from('<html>\n</html>\n'))).rejects.toThrow(
      'test.ar: not an ar archive (no "!<arch>" magic string)',
    );
    await expect(readAllMembers(archive(header('/7', 1), 'x', '\n'))).rejects.toThrow(
      'test.ar: ar member header at offset 8: long name /7 not in the name table',
    );
  });
});
