/**
 * The systemd units of scripts/systemd/, checked by `systemd-analyze verify`
 * where that tool exists. verify insists that ExecStart's program exists and
 * is executable, so the units are checked in a copy whose /usr/local/bin/
 * (where `npm install --global` puts the programs) is a directory of small
 * scripts starting the compiled dist/ programs; nothing else is changed.
 * The hardening every unit promises (README.md, "Operations") is checked too.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeScratch, scratchDirectory } from '../support/farm.js';
import { programPath } from '../support/programs.js';
import { REPOSITORY } from '../source/fixtures.js';

const UNITS = join(REPOSITORY, 'scripts', 'systemd');
const INSTALLED_BIN = '/usr/local/bin/';
const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((path) => existsSync(path));

let scratch: string | undefined;

beforeEach(async () => {
  scratch = await scratchDirectory('systemd');
});

afterEach(async () => {
  await removeScratch(scratch);
});

async function unitText(name: string): Promise<string> {
  return readFile(join(UNITS, name), 'utf8');
}

describe(`the systemd units${ANALYZE === undefined ? ' (verify skipped: no systemd-analyze here)' : ''}`, () => {
  it.skipIf(ANALYZE === undefined)('pass systemd-analyze verify', async () => {
    const bin = join(scratch as string, 'bin');
    const units = join(scratch as string, 'units');
    await mkdir(bin);
    await mkdir(units);
    for (const program of ['buildd', 'builddd', 'archived'] as const) {
      await writeFile(join(bin, program), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(programPath(program))} "$@"\n`);
      await chmod(join(bin, program), 0o755);
    }
    for (const name of await readdir(UNITS)) {
      if (!/\.(service|target)$/.test(name)) continue;
      await writeFile(join(units, name), (await unitText(name)).replaceAll(INSTALLED_BIN, `${bin}/`));
    }
    const result = await execa(ANALYZE as string, ['verify', 'buildd@amd64.service', 'builddd.service', 'archived.service', 'opkfarm.target'], {
      // The copies first, then the host's units (the targets they name): the trailing colon keeps the defaults.
      env: { SYSTEMD_UNIT_PATH: `${units}:` },
      reject: false,
    });
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: '' });
  });

  it.each(['buildd@.service', 'builddd.service', 'archived.service'])('%s runs as opkfarm, hardened, restarted on failure', async (name) => {
    const text = await unitText(name);
    const environment = await unitText('opkfarm.env');
    const root = /^OPKFARM_ROOT=(.+)$/m.exec(environment)?.[1];
    for (const line of [
      'User=opkfarm',
      'EnvironmentFile=/etc/opkfarm/opkfarm.env',
      'ProtectSystem=strict',
      `ReadWritePaths=${root ?? '(OPKFARM_ROOT missing from opkfarm.env)'}`,
      'PrivateTmp=yes',
      'NoNewPrivileges=yes',
      'Restart=on-failure',
      'KillMode=control-group',
      'PartOf=opkfarm.target',
      'WantedBy=opkfarm.target',
    ]) {
      expect(text.split('\n'), `${name}: ${line}`).toContain(line);
    }
    expect(text).toMatch(new RegExp(`^ExecStart=${INSTALLED_BIN}\\S+ .*--log-format \\$\\{OPKFARM_LOG_FORMAT\\}$`, 'm'));
  });
});
