/**
 * buildq as a reviewer uses it, as a real process: list and show, remarks
 * from $EDITOR (a script standing in for the reviewer's editor), an empty
 * rejection aborting, and the errors a reviewer sees. (execa strips the final
 * newline of what a program prints.)
 */
import { chmod, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildUpload, initFarm, nativeArchitecture, removeScratch, scratchDirectory } from '../support/farm.js';
import { runProgram } from '../support/programs.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

let scratch: string | undefined;
let root: string;

beforeEach(async () => {
  scratch = await scratchDirectory('buildq-');
  root = join(scratch, 'root');
  await initFarm(root, { queues: [{ name: 'native', architectures: [nativeArchitecture(), 'all'] }] });
  await buildUpload(join(EXAMPLES, 'hello'), join(root, 'uploads', 'incoming'));
  await buildUpload(join(EXAMPLES, 'motd-banner'), join(root, 'uploads', 'incoming'));
});

afterEach(async () => {
  await removeScratch(scratch);
});

/** An "editor" that checks it was given the template and writes `text` above it. */
async function fakeEditor(text: string): Promise<string> {
  const editor = join(scratch as string, 'editor.sh');
  await writeFile(
    editor,
    `#!/bin/sh\ngrep -q "^# Write the remarks" "$1" || exit 3\n{ printf '%s\\n' '${text}'; cat "$1"; } > "$1.new" && mv "$1.new" "$1"\n`,
  );
  await chmod(editor, 0o755);
  return editor;
}

describe('buildq', () => {
  it('lists uploads with their state and shows one with its build queues', async () => {
    await rm(join(root, 'uploads', 'incoming', 'motd-banner_2.3_src.opk'));
    const list = await runProgram('buildq', ['--root', root, 'list']);
    expect(list.exitCode).toBe(0);
    // State, size, age, uploader; what a waiting upload waits for on the next line.
    expect(String(list.stdout)).toMatch(/^hello 1\.0-1 +complete +\d+\.\d KiB +\d+ s {2}Jane Doe <jane@example\.org>$/m);
    expect(String(list.stdout)).toMatch(/^motd-banner 2\.3 +waiting +\d+ B +\d+ s {2}Sam Uploader <sam@example\.org>\n {4}waiting for motd-banner_2\.3_src\.opk$/m);

    const show = await runProgram('buildq', ['--root', root, 'show', 'hello', '1.0-1']);
    expect(show.exitCode).toBe(0);
    const shown = String(show.stdout);
    expect(shown).toContain('Source: hello\n');
    expect(shown).toMatch(/\nState: complete\nFiles:\n {2}hello_1\.0-1_src\.opk: (\d+) bytes of \1 listed, size and hashes match\n/);
    // What the source package holds: its control, its change log entry, its binary packages and their builds.
    expect(shown).toContain('\nSource control:\n  Maintainer: Jane Doe <jane@example.org>\n  Build-Depends: make, gcc\n');
    expect(shown).toMatch(/\nChange log entry:\n {2}hello \(1\.0-1\) trunk; urgency=low\n[^]*\n {3}-- Jane Doe <jane@example\.org> {2}Sat, 21 Nov 2026 12:00:00 \+0000\n/);
    expect(shown).toContain(
      '\nBinary packages:\n  hello (Architecture: any; Platform: all): greets the world\n' +
        '  hello-doc (Architecture: all; Platform: all): documentation for hello\n',
    );
    expect(shown).toMatch(new RegExp(`\\nBuild queues: native\\n {2}native: all/all: hello-doc\\n {2}native: ${nativeArchitecture()}/all: hello$`));
  });

  it('takes the remarks from $EDITOR and mails them', async () => {
    const editor = await fakeEditor('Thanks, looks good.');
    const accept = await runProgram('buildq', ['--root', root, 'accept', 'hello', '1.0-1'], { env: { EDITOR: editor } });
    expect(accept.stderr).toContain('event=accepted');
    expect(accept.exitCode).toBe(0);
    expect(String(accept.stdout)).toBe('Accepted hello 1.0-1 as 0000000001_hello_1.0-1 into native');
    const [mail] = await readdir(join(root, 'outbox'));
    const message = await readFile(join(root, 'outbox', mail as string), 'utf8');
    expect(message).toMatch(/^Subject: Accepted hello 1\.0-1\r$/m);
    expect(message).toContain('Thanks, looks good.');
    expect(message).not.toContain('# Write the remarks');
  });

  it('aborts a rejection whose remarks are left empty, keeping the upload in incoming/', async () => {
    const editor = await fakeEditor('');
    const reject = await runProgram('buildq', ['--root', root, 'reject', 'motd-banner', '2.3'], { env: { EDITOR: editor } });
    expect(reject.exitCode).toBe(1);
    expect(String(reject.stderr)).toBe('buildq: rejection aborted: the remarks are empty');
    expect(await readdir(join(root, 'uploads', 'incoming'))).toContain('motd-banner_2.3.changes');
    expect(await readdir(join(root, 'rejected'))).toEqual([]);
  });

  it('says what to do with no terminal and no $EDITOR', async () => {
    const env = { ...process.env };
    delete env.EDITOR;
    delete env.VISUAL;
    const accept = await runProgram('buildq', ['--root', root, 'accept', 'hello', '1.0-1'], { env, extendEnv: false, stdin: 'ignore' });
    expect(accept.exitCode).toBe(69);
    expect(String(accept.stderr)).toBe('buildq: no terminal and no $EDITOR: pass --remarks TEXT or --remarks-file FILE');
  });

  it('refuses an SMTP password file it cannot read before changing anything', async () => {
    const configFile = join(root, 'opkfarm.conf');
    const passwordFile = join(scratch as string, 'no-such-password');
    const smtp = `Mail-Transport: smtp\nMail-SMTP-Host: 127.0.0.1\nMail-SMTP-User: farm\nMail-SMTP-Password-File: ${passwordFile}`;
    await writeFile(configFile, (await readFile(configFile, 'utf8')).replace('Distributions: trunk', `Distributions: trunk\n${smtp}`));
    const accept = await runProgram('buildq', ['--root', root, 'accept', 'hello', '1.0-1', '--remarks', 'x']);
    expect(accept.exitCode).toBe(69);
    expect(String(accept.stderr)).toBe(`buildq: cannot read Mail-SMTP-Password-File ${passwordFile}: ENOENT`);
    expect(await readdir(join(root, 'uploads', 'incoming'))).toContain('hello_1.0-1.changes');
    expect(await readdir(join(root, 'queues', 'master'))).toEqual([]);
  });

  it('names an upload that is not there, and one that is not complete', async () => {
    const missing = await runProgram('buildq', ['--root', root, 'accept', 'nosuch', '1.0', '--remarks', 'x']);
    expect(missing.exitCode).toBe(1);
    expect(String(missing.stderr)).toBe('buildq: nosuch 1.0: no such upload in incoming/');

    await rm(join(root, 'uploads', 'incoming', 'hello_1.0-1_src.opk'));
    const incomplete = await runProgram('buildq', ['--root', root, 'accept', 'hello', '1.0-1', '--remarks', 'x']);
    expect(incomplete.exitCode).toBe(1);
    expect(String(incomplete.stderr)).toBe(
      'buildq: hello_1.0-1.changes: upload is incomplete, waiting for hello_1.0-1_src.opk',
    );
  });
});
