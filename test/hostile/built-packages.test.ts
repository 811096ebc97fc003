/**
 * The hostile build corpus (built-corpus.ts, README.md) through the real
 * buildd, builddd and archived: a builder that leaves bad packages for some
 * uploads and good ones for the rest. archived refuses every bad package
 * with one line naming it and the problem, installs the rest of the same
 * batch, and the archive verifies. A duplicate upload and an upload older
 * than the archive's version go through the same run.
 */
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSingleStanza } from '../../lib/formats/control.js';
import { acceptUpload } from '../../lib/queue/accept.js';
import { findIncoming } from '../../lib/queue/incoming.js';
import type { QueueLayout } from '../../lib/layout.js';
import type { FarmConfig } from '../../lib/config.js';
import { writeCommandBuilder } from '../support/builders.js';
import { feedProblems, indexedPackages, initFarmInProcess, namesIn, poolFiles, queueLeftovers } from '../support/farm.js';
import { header, parseEml } from '../mail/eml.js';
import { usePipelineScratch } from '../support/pipeline-scratch.js';
import { runPipelineOnce, runProgram } from '../support/programs.js';
import { BUILT_CASES, KEY_NAMED, binaryName } from './built-corpus.js';
import { writeGoodUpload } from './craft.js';
import { writeFile } from 'node:fs/promises';

const scratch = usePipelineScratch('hostile-built');

/** The fields of each logfmt line of a daemon's stderr. */
function events(stderr: string): Array<Record<string, string>> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('program='))
    .map((line) => {
      const fields: Record<string, string> = {};
      for (const match of line.matchAll(/([\w-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
        const value = match[2] ?? '';
        fields[match[1] ?? ''] = value.startsWith('"') ? (JSON.parse(value) as string) : value;
      }
      return fields;
    });
}

/** A builder that copies the corpus outputs of a source found under `fixtures`, and runs `good` for any other. */
async function writeCorpusBuilder(path: string, fixtures: string, good: string): Promise<void> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  await writeFile(
    path,
    [
      '#!/bin/sh',
      'set -e',
      `if [ -d ${quote(fixtures)}/"$OPKFARM_SOURCE" ]; then`,
      '  key=$(basename "$OPKFARM_SOURCE_PACKAGE"); key=${key%%@*}',
      // Dot names too; the corpus names hold no spaces.
      `  for name in $(ls -A ${quote(fixtures)}/"$OPKFARM_SOURCE"); do`,
      '    target=$name',
      `    if [ "$name" = ${KEY_NAMED} ]; then target=$key; fi`,
      `    cp -P ${quote(fixtures)}/"$OPKFARM_SOURCE/$name" "$OPKFARM_OUTPUT_DIRECTORY/$target"`,
      '  done',
      '  echo "corpus builder: left $(ls "$OPKFARM_OUTPUT_DIRECTORY")"',
      '  exit 0',
      'fi',
      `exec ${quote(good)} "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
}

async function accept(layout: QueueLayout, config: FarmConfig, source: string, version: string): Promise<string> {
  const upload = await findIncoming(layout, source, version);
  return (await acceptUpload(layout, config, upload.changesPath, '')).key;
}

/** buildd, builddd and archived, each --once; returns archived's events. */
async function runFarmOnce(root: string): Promise<Array<Record<string, string>>> {
  return events((await runPipelineOnce(root, ['indep'])).archived ?? '');
}

describe('the hostile build corpus', () => {
  it('every bad package is refused or its build failed, and the good ones beside them are installed', { timeout: 180_000 }, async () => {
    const directory = scratch.directory();
    const root = join(directory, 'root');
    const fixtures = join(directory, 'outputs');
    const good = await writeCommandBuilder({ directory: await mkdirp(join(directory, 'good-builder')), counter: join(directory, 'builds') });
    const builder = join(directory, 'corpus-builder.sh');
    await writeCorpusBuilder(builder, fixtures, good);
    const { layout, config } = await initFarmInProcess(root, {
      queues: [{ name: 'indep', architectures: ['all'] }],
      builderCommand: builder,
      sandbox: 'none',
      mailFields: ['Unpacked-Size-Limit: 64M'],
    });

    const keys = new Map<string, string>();
    for (const testCase of BUILT_CASES) {
      await testCase.outputs(await mkdirp(join(fixtures, testCase.name)), testCase.name);
      await writeGoodUpload(layout.incoming, join(directory, 'uploads'), testCase.name);
      keys.set(testCase.name, await accept(layout, config, testCase.name, '1.0'));
    }
    await writeGoodUpload(layout.incoming, join(directory, 'uploads'), 'good');
    await writeGoodUpload(layout.incoming, join(directory, 'uploads'), 'older', '2.0');
    keys.set('good', await accept(layout, config, 'good', '1.0'));
    keys.set('older', await accept(layout, config, 'older', '2.0'));
    const first = await runFarmOnce(root);

    for (const testCase of BUILT_CASES) {
      const key = keys.get(testCase.name) ?? '';
      if ('refused' in testCase.outcome) {
        const refused = first.filter((event) => event.event === 'refused' && event.key === key);
        expect.soft(refused.map((event) => event.file), testCase.name).toEqual([binaryName(testCase.name)]);
        expect.soft(refused[0]?.reason ?? '', testCase.name).toMatch(testCase.outcome.refused);
      } else {
        const result = parseSingleStanza(await readFile(join(layout.archive, 'logs', testCase.name, `${key}_all_all.result`), 'utf8'), { file: key });
        expect.soft(result.get('Status'), testCase.name).toBe('failed');
        expect.soft(result.get('Error'), testCase.name).toMatch(testCase.outcome.failedBuild);
      }
      // The upload itself is installed: its source package is in the archive.
      expect.soft(first.some((event) => event.event === 'installed' && event.key === key), `${testCase.name} installed`).toBe(true);
    }

    // A duplicate of an installed upload, and an upload older than the archive's version.
    await writeGoodUpload(layout.incoming, join(directory, 'uploads'), 'good');
    await writeGoodUpload(layout.incoming, join(directory, 'uploads'), 'older', '1.0');
    const duplicate = await accept(layout, config, 'good', '1.0');
    const older = await accept(layout, config, 'older', '1.0');
    const second = await runFarmOnce(root);
    expect(second.find((event) => event.event === 'installed' && event.key === duplicate)).toMatchObject({ binaries: '2', refused: '0' });
    expect(second.filter((event) => event.event === 'superseded' && event.key === older).map((event) => event.file).sort()).toEqual([
      `${older}.opk`,
      'older_1.0_all_all.opk',
    ]);

    // The maintainer is told what was left out, and why.
    const installedMail = async (source: string) => {
      for (const name of await namesIn(layout.outbox)) {
        const mail = parseEml(await readFile(join(layout.outbox, name), 'utf8'));
        if (header(mail, 'subject')?.startsWith(`Installed ${source} `)) return mail.text;
      }
      return '';
    };
    expect(await installedMail('bin-traversal')).toContain(
      '\nLeft out of the archive:\n  bin-traversal_1.0_all_all.opk: data.tar.gz: entry "./../escape": path has a ".." component\n',
    );
    const olderMails = [];
    for (const name of await namesIn(layout.outbox)) {
      const mail = parseEml(await readFile(join(layout.outbox, name), 'utf8'));
      if (header(mail, 'subject') === 'Installed older 1.0 in dev/trunk') olderMails.push(mail.text);
    }
    expect(olderMails).toEqual([
      'older 1.0 is installed in dev/trunk.\n\n  (no binary files)\n\nLeft out of the archive:\n' +
        `  ${older}.opk: version 1.0 is older than 2.0, which feeds/dev/trunk/src/all/misc lists\n` +
        '  older_1.0_all_all.opk: version 1.0 is older than 2.0, which feeds/dev/trunk/all/all/misc lists\n',
    ]);

    const indexed = (await indexedPackages(root)).map((found) => `${found.stanza.get('Package') ?? ''} ${found.stanza.get('Version') ?? ''}`).sort();
    expect(indexed).toEqual(
      [
        'good 1.0',
        'src-good 1.0',
        'older 2.0',
        'src-older 2.0',
        ...BUILT_CASES.map((testCase) => `src-${testCase.name} 1.0`),
      ].sort(),
    );
    expect(await feedProblems(root)).toEqual([]);
    // The duplicate is the same bytes: the same pool file, not a second build.
    expect((await poolFiles(root)).filter((file) => file.startsWith('g/good/'))).toEqual(['g/good/good_1.0_all_all.opk', 'g/good/src-good_1.0_src_all.opk']);
    expect(await queueLeftovers(root, ['indep'])).toEqual([]);
    const verify = await runProgram('opkfarm', ['archive', 'verify', '--root', root]);
    expect(verify.exitCode, String(verify.stdout) + String(verify.stderr)).toBe(0);
  });
});

async function mkdirp(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}
