/**
 * The reviewer's remarks: from --remarks or --remarks-file for scripts, else
 * edited in $VISUAL or $EDITOR from a template, as git commit does. Lines
 * starting with `#` are the template's and are dropped.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { EnvironmentError } from '../../lib/errors.js';

export interface RemarksSource {
  readonly remarks?: string;
  readonly remarksFile?: string;
}

/** The remarks, or undefined when the reviewer left the editor empty (which aborts). */
export async function obtainRemarks(source: RemarksSource, template: string): Promise<string | undefined> {
  if (source.remarks !== undefined) return source.remarks.trim();
  if (source.remarksFile !== undefined) return (await readFile(source.remarksFile, 'utf8')).trim();
  const editor = process.env.VISUAL || process.env.EDITOR;
  if (!process.stdin.isTTY && editor === undefined) {
    throw new EnvironmentError('no terminal and no $EDITOR: pass --remarks TEXT or --remarks-file FILE');
  }
  const directory = await mkdtemp(join(tmpdir(), 'buildq-'));
  const file = join(directory, 'REMARKS');
  try {
    await writeFile(file, template);
    // Through the shell, because $EDITOR may carry arguments ("code --wait").
    await execa('sh', ['-c', `${editor ?? 'vi'} "$1"`, 'editor', file], { stdio: 'inherit' });
    const text = (await readFile(file, 'utf8'))
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .join('\n')
      .trim();
    return text === '' ? undefined : text;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
